"""The synthetic-data lab (llmkb/lab/topics/synthetic_data/): analysis, prose, experiments on tiny configs."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from labkit import assert_figures_draw

from llmkb.data.dedup import normalize, shingles
from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.topics.synthetic_data import analysis as A
from llmkb.lab.topics.synthetic_data import names as N
from llmkb.lab.topics.synthetic_data import text as X
from llmkb.nn import GPT, GPTConfig

TINY = {"vocab_size": 256, "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 64}


def test_entropy_and_text_stats_by_hand():
    assert A.entropy_bits(Counter({"a": 2, "b": 2})) == pytest.approx(1.0)
    assert A.entropy_bits(Counter()) == 0.0
    s = A.text_stats(["abab", "ab"])  # bytes "abab\n\nab": a3 b3 \n2
    p = [3 / 8, 3 / 8, 2 / 8]
    assert s["h1"] == pytest.approx(-sum(q * math.log2(q) for q in p))
    assert s["docs"] == 2 and s["chars"] == 3 and s["words"] == 1 and s["vocab"] == 2
    assert A.text_stats(["x y x y"], words_for_vocab=1)["vocab"] == 1
    # a deterministic alternation has no next-byte uncertainty
    assert abs(A.text_stats(["ab" * 500])["h2"]) < 0.01


def test_planted_duplicates_point_at_their_originals():
    docs = [f"doc {i} " + " ".join(f"w{i}_{k}" for k in range(40)) for i in range(20)]
    corpus, planted = A.plant_duplicates(docs, n_near=5, n_exact=3, edit=(0.05, 0.1), seed=1)
    assert len(corpus) == 28 and corpus[:20] == docs
    assert sorted(j for _, j, _, _ in planted) == list(range(20, 28))
    kinds = Counter(k for _, _, k, _ in planted)
    assert kinds == {"near": 5, "exact": 3}
    for i, j, kind, f in planted:
        if kind == "exact":
            assert normalize(corpus[j]) == normalize(docs[i]) and corpus[j] != docs[i]
        else:
            changed = sum(a != b for a, b in zip(corpus[j].split(), docs[i].split(), strict=True))
            assert 0.05 <= f <= 0.1 and changed <= round(f * len(docs[i].split()))
            assert len(shingles(corpus[j]) & shingles(docs[i])) > 0


def test_pairs_have_the_asked_jaccard():
    rng = np.random.default_rng(0)
    for s in (0.0, 0.3, 0.5, 0.97, 1.0):
        a, b, j = A.pair_with_jaccard(s, 100, rng)
        sa, sb = set(a.tolist()), set(b.tolist())
        assert len(sa | sb) == 100 and len(sa) == len(a) and len(sb) == len(b)
        assert len(sa & sb) / len(sa | sb) == j == round(s * 100) / 100


def test_mixture_ids_take_the_asked_shares():
    real, synth = torch.zeros(100, dtype=torch.long), torch.ones(100, dtype=torch.long)
    for frac in (0.0, 0.25, 1.0):
        ids = A.mixture_ids(real, synth, frac, 80)
        assert len(ids) == 80 and int(ids.sum()) == round(frac * 80)
    with pytest.raises(ValueError, match="need"):
        A.mixture_ids(real, synth, 0.0, 101)


def test_answer_loss_scores_only_the_answer_bytes():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    examples = A.task_set(4, seed=0, tasks=("copy", "recall"))
    assert [t for t, _, _ in examples] == ["copy", "recall", "copy", "recall"]
    got = A.answer_loss(model, examples)
    by_hand: dict[str, list[float]] = {}
    for task, p, a in examples:
        ids = torch.tensor([list((p + a).encode())])
        logp = F.log_softmax(model(ids[:, :-1]).logits, dim=-1)[0]
        n = len(p.encode())
        by_hand.setdefault(task, []).extend(
            -logp[n - 1 + k, ids[0, n + k]].item() for k in range(len(a.encode()))
        )
    for task, v in by_hand.items():
        assert got[task] == pytest.approx(sum(v) / len(v), rel=1e-4)
    assert got["all"] == pytest.approx(
        sum(sum(v) for v in by_hand.values()) / sum(map(len, by_hand.values())), rel=1e-4
    )


def test_tail_tokens_are_the_rarest_within_the_mass():
    ids = torch.tensor([0] * 90 + [1] * 6 + [2] * 3 + [3])
    assert A.tail_tokens(ids, mass=0.05) == [3, 2]  # 1 + 3 = 4 ≤ 5 occurrences; adding 6 would pass
    assert A.tail_tokens(ids, mass=0.0) == []
    assert A.tail_share(ids, [3, 2]) == pytest.approx(0.04)
    assert A.tail_share(torch.tensor([], dtype=torch.long), [1]) == 0.0


def _s(mean: float, sd: float = 0.0, lo: float | None = None, hi: float | None = None, n: int = 3) -> dict:
    return {
        "mean": mean,
        "sd": sd,
        "min": mean if lo is None else lo,
        "max": mean if hi is None else hi,
        "n": n,
    }


def test_prose_follows_the_numbers():
    assert X.setting_name(0.7, None) == "T 0.7" and X.setting_name(1.0, 0.9) == "T 1, top-p 0.9"
    assert X.mean_sd(_s(2.41234, 0.0123)) == "2.412 ± 0.012" and X.mean_sd(_s(2.0, n=1)) == "2.000"
    assert X.clean_phrase({"real": 0.8, "code": 0.1, "grammar": 0.5}) == (
        "The Gopher rules keep 80 % of the real documents and 10 % of the code documents."
    )
    rows = [
        {"fraction": 0.0, "real": _s(2.0, 0.01, 1.99, 2.01), "task": _s(3.0, 0.1, 2.9, 3.1)},
        {"fraction": 0.5, "real": _s(2.1, 0.01, 2.09, 2.11), "task": _s(1.0, 0.1, 0.9, 3.0)},
        {"fraction": 1.0, "real": _s(2.5), "task": _s(1.05, 0.1, 0.95, 1.1)},
    ]
    s = X.mixture_phrase(rows)
    assert s.startswith("On held-out real text the 0 % synthetic mix has the lowest loss (2.000 ± 0.010 nats), "
                        "and no seed of the 50 % mix does as well;")  # fmt: skip
    assert "on the task answers the 50 % synthetic mix has the lowest loss" in s
    assert s.endswith("but within the spread of 3 seeds of the 100 % mix.")
    one = [{"fraction": f, "real": _s(v, n=1), "task": _s(v, n=1)} for f, v in ((0.0, 2.0), (1.0, 2.2))]
    assert "(2.000 nats), from 1 run per mix, too few to rank the mixes;" in X.mixture_phrase(one)
    col = [{"generation": 0, "real": _s(2.0, 0.01, 1.99, 2.01), "tail": _s(0.05)},
           {"generation": 1, "real": _s(2.2), "tail": _s(0.001)},
           {"generation": 2, "real": _s(2.3, 0.01, 2.29, 2.31), "tail": _s(0.02)}]  # fmt: skip
    assert X.collapse_phrase(col) == (
        "After 2 generations of training on its own samples, the held-out real loss is 0.300 nats above "
        "generation 0's (the seeds' ranges do not overlap), and the rare bytes' share of the training text went "
        "from 5.00 % in generation 0 to 2.00 % in generation 2, after falling to 0.10 % in generation 1."
    )
    col[1]["tail"] = _s(0.03)  # no dip below both ends: nothing said about the middle
    assert X.collapse_phrase(col).endswith("from 5.00 % in generation 0 to 2.00 % in generation 2.")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    """Every experiment run once on a tiny config (a tiny untrained model stands in for the shared one)."""
    root: Path = tmp_path_factory.mktemp("synthetic-lab")
    torch.manual_seed(0)
    GPT(GPTConfig(**TINY)).save(root / "shared" / "model")
    shared = Result("shared-model/train", "quick", "test", root / "shared", {}, ran=True)
    out = {}
    tiny_train = {"steps": 2, "batch_size": 2, "seq_len": 16, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 1,
                  "eval_every": 0, "eval_batches": 1}  # fmt: skip
    cfgs = {
        N.GENERATE: {"n_docs": 3, "model_prompts": 2, "prompt_len": 8, "new_tokens": 8,
                     "settings": [[0.7, None], [1.0, 0.9]], "real_docs": 5},
        N.DEDUP: {"bands": 10, "rows": 3, "threshold": 0.5, "real": 30, "grammar": 10, "near": 6, "exact": 3,
                  "edit": [0.01, 0.05], "grid": [0.3, 0.9], "pairs": 5, "sizes": [20, 40]},
        N.MIXTURES: {"model": TINY, "train": tiny_train, "seeds": [0, 1], "fractions": [0.0, 1.0],
                     "n_tokens": 4000, "n_windows": 2, "n_tasks": 4},
        N.COLLAPSE: {"model": TINY, "train": tiny_train, "seeds": [0], "generations": 2, "samples": 2,
                     "prompt_len": 4, "new_tokens": 40, "temperature": 1.0, "top_p": 0.9, "n_windows": 2,
                     "tail_mass": 0.05},
    }  # fmt: skip
    for name, cfg in cfgs.items():
        ctx = RunContext(name, "quick", root / name.split("/")[1], False, {"shared-model/train": shared})
        out[name] = get_experiment(name).fn(cfg, ctx)
    return out


def test_generate_measures_and_cleans_every_source(results):
    res = results[N.GENERATE]
    sources = ["real (pydoc)", "grammar", "textbook", "code", "model"]
    assert list(res["stats"]) == sources
    assert [r["source"] for r in table_rows(res["stats_table"])] == sources
    assert [r["sampling"] for r in table_rows(res["model_table"])] == ["T 0.7", "T 1, top-p 0.9"]
    assert res["stats"]["model"]["docs"] == 4 and res["stats"]["grammar"]["docs"] == 3
    clean = {r["source"]: r for r in table_rows(res["clean_table"])}
    assert clean["textbook"]["documents"] == 3 and "too short" in clean["textbook"]  # lessons are short
    assert all(0 <= v <= 1 for v in res["kept"].values()) and res["clean_text"].startswith(
        "The Gopher rules keep"
    )
    assert (
        set(res["samples"]) == {"real", "grammar", "textbook", "code", "model"}
        and res["model_setting"] == "T 0.7"
    )


def test_dedup_scores_planted_pairs(results):
    res = results[N.DEDUP]
    m = res["metrics"]
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["exact_planted_found"] == 3
    assert res["docs"] == 30 + 10 + 6 + 3 and len(res["planted"]) == 9
    assert all(p["jaccard"] == 1.0 for p in res["planted"] if p["kind"] == "exact")
    assert res["predicted"] == pytest.approx([1 - (1 - s**3) ** 10 for s in (0.3, 0.9)])
    assert len(res["measured"]) == 2 and [c["docs"] for c in res["cost"]] == [20, 40]
    assert res["s_star"] == pytest.approx(0.1 ** (1 / 3))


def test_mixtures_and_collapse_rows(results):
    mix = results[N.MIXTURES]
    assert [r["fraction"] for r in mix["rows"]] == [0.0, 1.0] and mix["seeds"] == 2
    assert all(
        r["real"]["n"] == 2 and set(r["per_task"]) == {"copy", "reverse", "sort", "recall"}
        for r in mix["rows"]
    )
    assert mix["text"].startswith("On held-out real text")
    col = results[N.COLLAPSE]
    assert [r["generation"] for r in col["rows"]] == [0, 1, 2] and col["tokens_per_generation"] == 80
    assert all(0 <= r["tail"]["mean"] <= 1 and r["real"]["mean"] > 0 for r in col["rows"])
    assert col["text"].startswith("After 2 generations")


@pytest.mark.parametrize("name", [N.DEDUP, N.MIXTURES, N.COLLAPSE])
def test_figures_draw(results, name, tmp_path):
    assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))


def test_experiments_are_registered_with_both_profiles():
    for name in (N.GENERATE, N.DEDUP, N.MIXTURES, N.COLLAPSE):
        assert set(get_experiment(name).profiles) == {"quick", "full"}, name
    assert list(get_experiment(N.GENERATE).needs) == ["shared-model/train"]
    assert get_experiment(N.MIXTURES).config("full")["seeds"] == [0, 1, 2]
    assert get_experiment(N.MIXTURES).config("full")["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert figures_of(N.DEDUP)
