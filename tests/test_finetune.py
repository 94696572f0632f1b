"""Finetuning (llmkb.train.finetune): vocabulary extension, SFT and exact match, ``llmkb train --init``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llmkb.cli import main
from llmkb.data.instruct import (
    INSTRUCT_VOCAB,
    Example,
)
from llmkb.nn import GPT, GPTConfig
from llmkb.train.finetune import exact_match_by_task, extend_vocab, sft


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


def test_extend_vocab_keeps_the_old_logits():
    model = tiny(256)
    idx = torch.randint(0, 256, (1, 7))
    bigger = extend_vocab(model, INSTRUCT_VOCAB)
    assert bigger.config.vocab_size == INSTRUCT_VOCAB
    assert torch.allclose(bigger(idx).logits[..., :256], model(idx).logits, atol=1e-6)
    with pytest.raises(ValueError):
        extend_vocab(model, 100)


def test_sft_learns_a_task_and_exact_match_is_counted_per_task():
    model = tiny()
    examples = [Example("copy", "7", "7")]
    losses = sft(model, examples, 30, batch_size=4, lr=1e-2)
    assert losses[-1] < losses[0] / 4
    scores = exact_match_by_task(model, examples * 2 + [Example("sort", "21", "12")], max_new=3)
    assert scores == {"copy": 1.0, "sort": 0.0}


def test_train_init_finetunes_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    tiny(256).save(tmp_path / "base")
    corpus = tmp_path / "code.txt"
    corpus.write_text("def f(x):\n    return x + 1\n" * 200, encoding="utf-8")
    args = ["train", "--init", str(tmp_path / "base"), "--corpus", str(corpus), "--out", str(tmp_path / "ft"),
            "--steps", "2", "--batch-size", "2", "--seq-len", "16", "--warmup-steps", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert GPT.load(tmp_path / "ft").config == GPT.load(tmp_path / "base").config
    assert "trained to step 2" in capsys.readouterr().out
    for bad, msg in ((["--init", str(tmp_path / "nothing")], "cannot load a model"),
                     (["--init", str(tmp_path / "base"), "--preset", "tiny"], "drop --resume and --preset")):  # fmt: skip
        assert main(["train", *bad, "--out", str(tmp_path / "x"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
