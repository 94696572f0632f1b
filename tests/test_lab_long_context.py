"""The long-context lab: its analysis (slopes, collapse points, rescaled models, second-half loss, influence and
reach, passkey scores and the chance band), its prose, the benchmark's measurements, and its experiments run on
tiny configs: small random checkpoints standing in for the positional lab's, the benchmark measured in this
process instead of a subprocess, passkey models trained for a few steps."""

from __future__ import annotations

import math
import mmap
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from labkit import assert_figures_draw

from llmkb.bench import attention as bench
from llmkb.data.synthetic import PasskeyTask
from llmkb.lab import RunContext
from llmkb.lab.registry import get_experiment
from llmkb.lab.topics.long_context import analysis as A
from llmkb.lab.topics.long_context import passkey as P
from llmkb.lab.topics.long_context import text as X
from llmkb.lab.topics.long_context.names import BENCHMARK, CONTEXT, PASSKEY, VARIANTS, WINDOW
from llmkb.lab.topics.positional_embeddings.names import COMPARE, checkpoint_dir
from llmkb.nn import GPT, GPTConfig

matplotlib.use("Agg")


def test_loglog_slope_recovers_powers() -> None:
    T = [256, 512, 1024, 2048]
    assert A.loglog_slope(T, [t**2 * 3.0 for t in T]) == pytest.approx(2.0)
    assert A.loglog_slope(T, [t * 0.5 for t in T]) == pytest.approx(1.0)
    assert A.loglog_slope(T, [None, 0.0, 4.0, 8.0]) == pytest.approx(1.0)  # unmeasured points are left out
    assert A.loglog_slope(T, [None, None, None, 1.0]) is None


def test_collapse_point_is_the_first_rise_after_the_best() -> None:
    L = [16, 32, 64, 128, 256]
    assert A.collapse_point(L, [9.0, 6.0, 5.0, 8.0, 20.0], 1.5) == 128  # 8 > 1.5 * 5 at 128
    assert A.collapse_point(L, [9.0, 6.0, 5.0, 7.0, 7.4], 1.5) is None
    assert (
        A.collapse_point(L, [20.0, 6.0, 5.0, 5.0, 5.1], 1.5) is None
    )  # worse before the best is not a collapse
    assert A.collapse_point(L, [5.0, 6.0, float("nan"), None, 9.0], 1.5) == 256
    with pytest.raises(ValueError):
        A.collapse_point(L, [1.0] * 5, 1.0)


@pytest.fixture(scope="module")
def tiny_rope() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", positional="rope", max_seq_len=32)).eval()


def test_variant_model_keeps_the_weights_and_changes_only_positions(tiny_rope: GPT) -> None:
    ids = torch.randint(0, 256, (2, 20))
    same = A.variant_model(tiny_rope, positional="rope-pi", scale=1.0)
    with torch.no_grad():
        assert torch.allclose(same(ids).logits, tiny_rope(ids).logits, atol=1e-6)
        pi = A.variant_model(tiny_rope, positional="rope-pi", scale=2.0)
        assert not torch.allclose(pi(ids).logits, tiny_rope(ids).logits, atol=1e-4)
        wide = A.variant_model(tiny_rope, window=64)  # a window wider than the text changes nothing
        torch.testing.assert_close(wide(ids).logits, tiny_rope(ids).logits, atol=1e-5, rtol=0)
    assert tiny_rope.config.sliding_window is None and pi.config.rope_scale == 2.0


def test_tail_loss_scores_the_same_last_tokens_at_every_length(tiny_rope: GPT) -> None:
    windows = torch.randint(0, 256, (3, 41))
    got = A.tail_loss(tiny_rope, windows, 20, 5, batch=2)
    with torch.no_grad():
        logits = tiny_rope(windows[:, 20:40]).logits[:, -5:]  # the last 20 tokens read, the last 5 scored
    want = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), windows[:, 36:41].reshape(-1))
    assert got == pytest.approx(float(want), abs=1e-5)
    with pytest.raises(ValueError):
        A.tail_loss(tiny_rope, windows, 41, 5)


def test_influence_is_exactly_zero_beyond_the_receptive_field(tiny_rope: GPT) -> None:
    w = 4
    model = A.variant_model(tiny_rope, window=w)
    ids = torch.randint(0, 256, (2, 20))
    d = list(range(15))
    infl = A.influence(model, ids, d)
    theory = model.config.n_layers * (w - 1)
    assert np.all(infl[theory + 1 :] == 0.0) and infl[theory] > 0.0 and infl[0] > 0.0
    assert A.reach(d, infl.tolist(), 0.0) == theory
    with pytest.raises(ValueError):
        A.influence(model, ids, [20])


def test_phrases_follow_the_numbers() -> None:
    assert X.reach_phrase(5, 6, 2, 4).startswith("With 2 layers and a window of 4,")
    assert "83%" in X.reach_phrase(5, 6, 2, 4)
    with pytest.raises(ValueError):
        X.reach_phrase(7, 6, 2, 4)
    text = X.collapse_phrase(
        {"rope": 128, "alibi": None, "learned": 64}, 32, {"rope": 512, "alibi": 512, "learned": 128}
    )
    assert text.startswith("Collapse points: learned at 64 bytes (2× the training length) and RoPE at 128")
    assert text.endswith(
        "1 of the 3 variants stays within the threshold as far as it was measured: ALiBi up to 512 bytes."
    )
    held = X.collapse_phrase({"alibi": None, "learned": None}, 32, {"alibi": 512, "learned": 128})
    assert (
        held
        == "both variants stay within the threshold as far as they were measured: ALiBi up to 512 bytes; learned up to 128 bytes."
    )
    assert X.memory_phrase(1.99, 0.49).endswith("the T × T matrix is what the online softmax removes.")
    assert "fixed-size blocks" in X.memory_phrase(2.5, 4.6) and "not be fitted" in X.memory_phrase(None, 1.0)
    assert X.unavailable_phrase([]).startswith("Every") and " is not available" in X.unavailable_phrase(["a"])
    assert X.window_phrase([8, 16, 32], [9.0, 7.5, 8.0], 16).endswith(
        "window of 16 (1× the training length)."
    )
    ppl = {"rope": [5.0, 9.0], "alibi": [6.0, 7.0], "learned": [5.5, float("nan")]}
    assert X.best_at(ppl, [32, 64], -1) == "ALiBi (7.00 at 64 bytes)"


def test_bench_command_rejects_bad_options_before_measuring(capsys) -> None:
    from llmkb.cli import main

    for argv in (["--heads", "0"], ["--lengths", "0", "64"], ["--lengths", "32768"]):
        assert main(["bench", "attention", *argv]) == 2  # a one-line usage error, nothing measured
        assert capsys.readouterr().err.count("\n") == 1


def test_benchmark_measures_peak_memory_that_grows_with_the_matrix() -> None:
    if not bench.memory_probe_works():
        pytest.fail("this system cannot reset its memory high-water mark (/proc/self/clear_refs)")

    def touch(size: int = 8 * 2**20) -> int:
        # fresh anonymous pages: a tensor could reuse heap this long-lived test process already holds
        buf = mmap.mmap(-1, size)
        for i in range(0, size, mmap.PAGESIZE):
            buf[i] = 1
        return sum(buf[::4096])

    peak, out = bench.peak_extra_bytes(touch)  # touches 8 MiB
    assert 7 * 2**20 <= peak and out == 8 * 2**20 // 4096
    rows = bench.measure([64], kernels=("naive", "chunked", "sdpa-efficient"), modes=("forward",), repeats=2)
    by = {r["kernel"]: r for r in rows}
    assert by["naive"]["available"] and by["naive"]["seconds"] > 0 and by["chunked"]["peak_bytes"] >= 0
    assert by["sdpa-efficient"]["available"] == (by["sdpa-efficient"]["seconds"] is not None)
    r = bench.ratios(rows, 64)
    assert r["speedup"]["naive"] == pytest.approx(1.0) and r["fastest_exact"] == "chunked"


# ---------------------------------------------------------------------------------------------------
# the experiments, on small random checkpoints standing in for the positional lab's
# ---------------------------------------------------------------------------------------------------


class _FakeCompare(dict):
    def __init__(self, directory: Path, data: dict) -> None:
        super().__init__(data)
        self.dir = directory


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("long-context-lab")
    mp = pytest.MonkeyPatch()
    # the same measurements as the lab's subprocess, in this process: no second torch import to wait for
    mp.setattr(bench, "run_subprocess", lambda lengths, **options: bench.measure(lengths, **options))
    T = 16
    for variant in ("rope", "learned", "alibi"):
        torch.manual_seed(1)
        cfg = GPTConfig.preset("tiny", positional=variant, max_seq_len=4 * T, d_model=32, n_layers=1)
        GPT(cfg).save(checkpoint_dir(root, variant, 0))
    comp = _FakeCompare(root, {"seq_len": T, "seeds": [0], "max_seq_len": 4 * T})
    out = {}
    configs = {
        BENCHMARK: {"lengths": [32, 64], "max_backward": 32, "reference": [32, 64], "repeats": 1},
        CONTEXT: {"mults": [0.5, 1, 2, 8], "tail_mult": 0.25, "n_windows": 2, "seed": 0},
        WINDOW: {
            "length_mult": 4,
            "window_mults": [0.25, 1, 4],
            "reach_window_mult": 0.25,
            "n_windows": 2,
            "seed": 0,
        },
        PASSKEY: {
            "task": {"context": 8, "n_values": 4, "n_filler": 3},
            "window": 2,
            "model": {"d_model": 8, "n_layers": 2, "n_heads": 1, "positional": "rope", "attention": "sdpa"},
            "train": {"steps": 3, "batch_size": 8, "warmup_steps": 1, "eval_every": 0, "eval_batches": 1},
            "full_steps": 3,
            "n_eval": 64,
            "seed": 0,
        },
    }
    try:
        for name, cfg in configs.items():
            exp = get_experiment(name)
            ctx = RunContext(name, "quick", root / name.replace("/", "-"), False, {COMPARE: comp})
            out[name] = exp.fn(cfg, ctx)
    finally:
        mp.undo()
    return out


def test_benchmark_experiment_reports_every_kernel_it_ran(results) -> None:
    res = results[BENCHMARK]
    assert set(res["series"]["forward"]) | set(res["unavailable"]) == set(bench.KERNELS)
    assert all(s["T"] == [32] for s in res["series"]["backward"].values())  # backward stops at max_backward
    assert res["summary"].startswith("at T = 32 the fastest exact kernel")
    assert len(res["ratio_table"]["rows"]) == len(res["series"]["forward"])
    assert res["fastest_exact"] != "naive"


def test_context_experiment_finds_collapse_points_on_its_own_numbers(results) -> None:
    res = results[CONTEXT]
    assert res["lengths"] == [8, 16, 32, 128]
    assert set(res["ppl"]) == set(VARIANTS)
    learned = res["ppl"]["learned"]
    assert math.isfinite(learned[2]) and math.isnan(learned[3])  # the table ends at 64 positions
    for v in VARIANTS:
        assert res["collapse"][v] == A.collapse_point(res["lengths"], res["ppl"][v], res["ratio"])
    # at or below the training length the rescaled RoPE variants are plain RoPE (scale 1)
    assert res["ppl"]["rope-pi"][:2] == pytest.approx(res["ppl"]["rope"][:2])
    assert res["ppl"]["rope-ntk"][:2] == pytest.approx(res["ppl"]["rope"][:2])
    assert [row[0] for row in res["table"]["rows"]] == [
        "RoPE",
        "RoPE + PI",
        "RoPE + NTK",
        "ALiBi",
        "RoPE + window",
        "learned",
    ]


def test_window_experiment_measures_the_receptive_field(results) -> None:
    res = results[WINDOW]
    assert res["sizes"] == [4, 16, 64] and res["length"] == 64
    assert res["theory"] == res["layers"] * (res["reach_window"] - 1) == 3
    assert res["beyond_max"] == 0.0 and 0 < res["reach"] <= res["theory"]
    assert len(res["ppl"]) == 3 and all(p > 1 for p in res["ppl"])


def test_passkey_experiment_is_at_chance_beyond_the_reach(results) -> None:
    res = results[PASSKEY]
    assert res["theory"] == 2 and res["distances"] == list(range(1, 9)) and res["chance"] == 0.25
    assert all(c == 0.0 for c in res["change"]["window"][2:])  # beyond L(w-1): no logit moves
    assert all(c > 0.0 for c in res["change"]["window"][:2]) and all(c > 0.0 for c in res["change"]["full"])
    assert abs(res["pooled_beyond"] - 0.25) <= res["pooled_band"]
    assert res["last_above_chance"] <= res["theory"] and res["solid"] <= res["last_above_chance"]
    assert res["passkey_text"].startswith("With 2 layers and a window of 2, L·(w−1) = 2.")
    assert len(res["table"]["rows"]) == 8


def test_passkey_scores_and_chance_band() -> None:
    class Oracle(torch.nn.Module):
        """Reads the passkey if it is at most ``reach`` back, else guesses the first passkey symbol."""

        def __init__(self, task: PasskeyTask, reach: int) -> None:
            super().__init__()
            self.task, self.reach = task, reach

        def forward(self, x: torch.Tensor):
            lo, hi = self.task.answer_symbols
            seen = x[:, -1 - self.reach :]
            hit = (seen >= lo) & (seen < hi)
            answer = torch.where(hit.any(1), (seen * hit).sum(1), torch.full((len(x),), lo))
            logits = (
                torch.nn.functional.one_hot(answer, self.task.vocab_size)
                .float()[:, None]
                .expand(-1, x.shape[1], -1)
            )
            return type("Out", (), {"logits": logits})()

    task = PasskeyTask(context=10, n_values=4, n_filler=2)
    acc, change = P.distance_scores(Oracle(task, 3), task, [1, 3, 4, 9], 400, seed=0)
    assert acc[:2].tolist() == [1.0, 1.0] and change[:2].tolist() == [1.0, 1.0]
    assert change[2:].tolist() == [0.0, 0.0] and abs(acc[2] - 0.25) < 0.07  # a fixed guess: right 1 in 4
    assert P.chance_band(0.25, 300) == pytest.approx(4 * math.sqrt(0.25 * 0.75 / 300))
    assert P.above_chance([1, 2, 3, 4], [1.0, 0.3, 0.9, 0.25], 0.25, 300) == 3
    assert P.above_chance([1, 2], [0.26, 0.2], 0.25, 300) == 0
    assert P.solid_reach([1, 2, 3, 4], [1.0, 0.95, 0.5, 0.99], 0.9) == 2
    assert P.solid_reach([1, 2], [0.5, 1.0], 0.9) == 0
    with pytest.raises(ValueError):
        P.chance_band(1.0, 10)


def test_passkey_phrase_follows_the_numbers() -> None:
    base = dict(
        theory=14, layers=2, window=8, chance=0.125, pooled=0.13, n_beyond=2304, longest=32, level=0.9
    )
    exact = X.passkey_phrase(solid=14, solid_min=0.97, last=14, full_min=1.0, **base)
    assert "at least 97% accurate at every distance up to 14; from 15 on it is no better than chance" in exact
    assert "exactly one position past L·(w−1)" in exact and "1/8 = 12.5%" in exact
    assert exact.endswith("retrieves every one at every distance up to 32.")
    short = X.passkey_phrase(solid=0, solid_min=0.0, last=10, full_min=0.5, **base)
    assert "above chance up to distance 10; from 11 on" in short and "4 positions short of L·(w−1)" in short
    assert short.endswith("lowest accuracy over distances 1 to 32 is 50%.")
    mixed = X.passkey_phrase(solid=9, solid_min=1.0, last=12, full_min=0.95, **base)
    assert "right on every passkey at every distance up to 9 and above chance up to 12" in mixed
    assert "at least 95% accurate" in mixed
    assert "did not learn" in X.passkey_phrase(solid=0, solid_min=0.0, last=0, full_min=1.0, **base)
    with pytest.raises(ValueError):
        X.passkey_phrase(solid=15, solid_min=1.0, last=15, full_min=1.0, **base)
    assert X.relay_phrase(14, 14) == "above chance up to 14 positions back, of a theoretical 14"
    assert X.relay_phrase(0, 6).startswith("in this run it learned to retrieve at no distance")


@pytest.mark.parametrize("name", [BENCHMARK, CONTEXT, WINDOW, PASSKEY])
def test_figures_draw(results, name) -> None:
    assert_figures_draw(name, results[name])
