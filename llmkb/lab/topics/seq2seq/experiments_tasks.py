"""Five generated tasks, two transformers: the encoder-decoder against a decoder-only model on a prompt."""

from __future__ import annotations

from typing import Any

import torch

from llmkb.data.seq2seq_tasks import BOS, EOS, TASKS, Vocab, encode_pairs, make_examples
from llmkb.infer.beam import beam_search, greedy_decode
from llmkb.lab import RunContext, kit
from llmkb.lab.topics.seq2seq import text
from llmkb.lab.topics.seq2seq.analysis import build_model, n_params, score
from llmkb.lab.topics.seq2seq.names import MODEL_NAMES, TASK_METRICS, TASK_NAMES, TOPIC
from llmkb.train.seq2seq import Seq2SeqTrainConfig, train_seq2seq

FAMILIES = ("encdec", "gpt")
_TRAIN = {"steps": 240, "batch_size": 32, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 30}
_SIZE = {"d_model": 32, "layers": 1}


def decode_all(
    model: torch.nn.Module, data: tuple, vocab: Vocab, max_len: int, beam: int = 1
) -> list[list[str]]:
    """Greedy (``beam`` 1) or beam-search outputs of ``model`` for every source of ``data``, as words."""
    src, mask = data[0], data[1]
    out: list[list[int]] = []
    for i in range(0, src.shape[0], 128):
        s, m = src[i : i + 128], mask[i : i + 128]
        s, m = s[:, : int(m.sum(1).max())], m[:, : int(m.sum(1).max())]
        if beam == 1:
            out += greedy_decode(model, s, m, bos=BOS, eos=EOS, max_len=max_len)
        else:
            out += beam_search(model, s, m, bos=BOS, eos=EOS, max_len=max_len, beam_size=beam)
    return [vocab.decode(o) for o in out]


@TOPIC.experiment(
    "tasks",
    profiles={
        "quick": {"n_train": 200, "n_test": 16, "train": {**_TRAIN, "steps": 6, "warmup_steps": 2},
                  "size": {"d_model": 16, "layers": 1}, "beam": 2, "seed": 0},
        "full": {"n_train": 2000, "n_test": 150, "train": _TRAIN, "size": _SIZE, "beam": 4, "seed": 0},
    },
    title="Encoder-decoder vs decoder-only transformer on five generated tasks, one seed",
)  # fmt: skip
def tasks(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train both families on each task's examples and score their greedy outputs on held-out examples."""
    rows, samples, params, beam = [], [], {}, {}
    for t_i, task in enumerate(TASKS):
        train_ex = make_examples(task, cfg["n_train"], seed=100 + t_i)
        test_ex = make_examples(task, cfg["n_test"], seed=200 + t_i)
        vocab = Vocab.build(train_ex, test_ex)
        data, test = encode_pairs(train_ex, vocab), encode_pairs(test_ex, vocab)
        refs = [list(e.target) for e in test_ex]
        max_len = max(map(len, refs)) + 2
        outputs, scores = {}, {}
        for kind in FAMILIES:
            torch.manual_seed(cfg["seed"])
            model = build_model(kind, len(vocab), cfg["size"])
            if task == "translate":
                params[kind] = n_params(model)
            train_seq2seq(model, data, Seq2SeqTrainConfig(**cfg["train"], seed=cfg["seed"]))
            outputs[kind] = decode_all(model, test, vocab, max_len)
            scores[kind] = {m: score(m, outputs[kind], refs) for m in TASK_METRICS[task]}
            if task == "translate" and kind == "encdec":
                beamed = decode_all(model, test, vocab, max_len, beam=cfg["beam"])
                beam = {"greedy": scores[kind]["exact match"], "beam": score("exact match", beamed, refs),
                        "size": cfg["beam"]}  # fmt: skip
        for metric in TASK_METRICS[task]:
            rows.append({"task": task, "metric": metric, **{k: scores[k][metric] for k in FAMILIES}})
        samples.append({"task": task, "source": " ".join(test_ex[0].source), "reference": " ".join(refs[0]),
                        **{k: " ".join(outputs[k][0]) for k in FAMILIES}})  # fmt: skip
    table = [
        {"task": TASK_NAMES[r["task"]], "score": r["metric"],
         **{MODEL_NAMES[k]: text.pct(r[k], r["metric"]) for k in FAMILIES}}
        for r in rows
    ]  # fmt: skip
    return {
        "config": cfg,
        "rows": rows,
        "table": kit.table(table),
        "samples": samples,
        "samples_text": text.samples_block(samples),
        "params": params,
        "beam": beam,
        "beam_phrase": text.beam_phrase(beam),
        "verdict": text.task_verdict(rows),
        "steps": cfg["train"]["steps"],
        "n_train": cfg["n_train"],
        "n_test": cfg["n_test"],
    }
