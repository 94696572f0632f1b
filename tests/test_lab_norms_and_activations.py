"""The normalization and activations lab (llmkb/lab/topics/norms_and_activations/) on tiny configs."""

from __future__ import annotations

import math

import pytest
import torch
from labkit import assert_figures_draw

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.norms_and_activations import analysis as A
from llmkb.lab.topics.norms_and_activations import names as N
from llmkb.lab.topics.norms_and_activations import text as X


def test_divergence_is_the_first_lr_whose_loss_ends_above_its_start_or_nan():
    assert A.diverged(5.0, 5.1) and A.diverged(5.0, math.nan) and not A.diverged(5.0, 4.9)
    lrs, initial = [0.3, 0.01, 0.1, 1.0], [5.5] * 4
    assert A.divergence_lr(lrs, initial, [5.6, 3.0, 3.5, math.nan]) == 0.3
    assert A.divergence_lr(lrs, initial, [3.0, 3.0, 5.51, 3.0]) == 0.1
    assert A.divergence_lr(lrs, initial, [3.0] * 4) is None
    assert A.tail_mean([9.0, 1.0, 2.0, 3.0], 3) == 2.0 and math.isnan(A.tail_mean([1.0, math.inf], 2))


def test_block_parameters_match_the_published_blocks_and_built_modules():
    llama = A.block_parameters(N.REAL_BLOCKS["Llama 2 7B"])
    assert llama["attention"] == 4 * 4096**2 and llama["feed-forward"] == 3 * 4096 * 11008
    assert (
        llama["norms"] == 2 * 4096 and llama["total"] == 202_383_360
    )  # Llama 2 7B: 6.74e9 = 32 of these + 2 Vd
    gpt2 = A.block_parameters(N.REAL_BLOCKS["GPT-2 small"])
    assert gpt2["total"] == 7_087_872  # GPT-2 small: 12 blocks of 7.09M
    for fields in ({"d_model": 16, "n_heads": 2, **N.LLAMA_STYLE, "bias": False},
                   {"d_model": 16, "n_heads": 2, "norm": "layernorm", "activation": "geglu", "bias": True},
                   {"d_model": 16, "n_heads": 2, "norm": "none", "activation": "relu", "bias": True}):  # fmt: skip
        assert A.block_parameters(fields)["total"] == A.built_block_parameters(fields), fields


def test_per_layer_statistics():
    x = torch.ones(10, 8)
    x[3, 5] = 40.0
    assert A.outlier_ratio(x) == pytest.approx(40.0)
    h = torch.relu(torch.tensor([[1.0, -1.0, 0.0, 2.0], [3.0, -2.0, 0.0, -1.0]]))
    assert A.dead_fraction(h) == 0.5
    assert A.density_rows([[1, 3], [0, 0]]) == [[0.25, 0.75], [0.0, 0.0]]
    s = A.spread([[1.0, 2.0], [3.0, 2.0]])
    assert s["mean"] == [2.0, 2.0] and s["sd"][0] == pytest.approx(math.sqrt(2)) and s["sd"][1] == 0.0
    v = A.grid_variants(["layernorm", "rmsnorm"], ["gelu"], ["pre", "post"])
    assert [A.variant_name(**{k: r[k] for k in ("norm", "activation")}, position=r["norm_position"]) for r in v] == [
        "pre · LayerNorm · GELU", "pre · RMSNorm · GELU", "post · LayerNorm · GELU", "post · RMSNorm · GELU"
    ]  # fmt: skip


def test_prose_follows_the_numbers():
    rows = [
        {"variant": "a", "mean": 3.0, "sd": 0.01, "n": 3},
        {"variant": "b", "mean": 3.1, "sd": 0.01, "n": 3},
    ]
    assert X.grid_phrase([{**r, "n": 1, "sd": 0.0} for r in rows]).endswith("no spread to judge the gap by")
    assert X.grid_phrase(rows).endswith("more than the spread over seeds")
    rows[1]["mean"] = 3.015
    assert "not told apart" in X.grid_phrase(rows) and X.grid_phrase(rows).startswith("a ends lowest")
    assert X.speed_phrase(1.01, 0.05, "w").startswith("w: no difference")
    assert "RMSNorm takes 0.80×" in X.speed_phrase(0.8, 0.05, "w")
    assert (
        X.lr_phrase(None, 1.0) == "does not diverge up to lr 1"
        and X.lr_phrase(0.3, 1.0) == "diverges from lr 0.3"
    )
    needs = [{"variant": "post · x", "needs_warmup": True}, {"variant": "pre · x", "needs_warmup": False}]
    assert X.warmup_phrase(needs).startswith("post · x diverges at a lower")
    assert X.warmup_phrase(needs[1:]).startswith("no variant")
    grads = [{"norm_position": "pre", "layer_grad_norms": [[4.0, 1.0], [4.0, 1.0]]},
             {"norm_position": "post", "layer_grad_norms": [[1.0, 2.0]]}]  # fmt: skip
    assert X.gradient_phrase(grads) == (
        "pre-norm blocks get their largest gradients at the first layer (last / first = 0.25); "
        "post-norm blocks get their largest gradients at the last layer (last / first = 2.00)"
    )


# ---------------------------------------------------------------------------------------------------
# the experiments, on configs no larger than their quick profiles
# ---------------------------------------------------------------------------------------------------


def _run(name: str, cfg: dict, root) -> dict:
    ctx = RunContext(name, "quick", root / name.replace("/", "-"), False, {})
    return get_experiment(name).fn(cfg, ctx)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("norms-lab")
    grid = get_experiment(N.GRID).config("quick")
    grid = {**grid, "activations": ["swiglu"], "positions": ["pre"], "seeds": [0, 1],
            "train": {**grid["train"], "steps": 2, "batch_size": 2}}  # fmt: skip
    stab = get_experiment(N.STABILITY).config("quick")
    stab = {**stab, "lrs": [1e-3, 50.0], "train": {**stab["train"], "steps": 4, "batch_size": 2}}
    depth = get_experiment(N.DEPTH).config("quick")
    depth = {**depth, "train": {**depth["train"], "steps": 2, "batch_size": 2}}
    cost = {**get_experiment(N.COST).config("quick"), "widths": [8], "repeats": 2, "inner": 1}
    return {N.COST: _run(N.COST, cost, root), N.GRID: _run(N.GRID, grid, root),
            N.STABILITY: _run(N.STABILITY, stab, root), N.DEPTH: _run(N.DEPTH, depth, root)}  # fmt: skip


def test_grid_runs_every_variant_and_seed_with_dynamics(results):
    res = results[N.GRID]
    assert [r["variant"] for r in res["rows"]] == ["pre · LayerNorm · SwiGLU", "pre · RMSNorm · SwiGLU"]
    L = res["n_layers"]
    for r in res["rows"]:
        assert len(r["losses"]) == 2 and len(r["curve"]["mean"]) == 2 and len(r["update_ratio"]) == 2
        assert len(r["layer_grad_norms"]) == 2 and len(r["layer_grad_norms"][0]) == L
    ln, rms = res["rows"]
    assert ln["parameters"] - rms["parameters"] == 0  # bias-free LayerNorm has RMSNorm's parameters
    assert res["speed"]["n"] == 2 and len(table_rows(res["table"])) == 2


def test_stability_finds_the_divergence_lr(results):
    res = results[N.STABILITY]
    assert len(res["runs"]) == 8 and len(res["rows"]) == 4
    for run in res["runs"]:
        assert run["divergence_lr"] == A.divergence_lr(res["lrs"], run["initial"], run["final"])
    assert all(r["divergence_lr"] in (None, 50.0) for r in res["runs"])
    assert any(r["divergence_lr"] == 50.0 for r in res["runs"])  # lr 50 breaks the tiny models


def test_depth_reads_every_layer_at_init_and_trained(results):
    res = results[N.DEPTH]
    L = res["n_layers"]
    for r in res["rows"]:
        for when in ("init", "trained"):
            stats = r[when]
            assert len(stats["resid_norm"]) == L + 1 and len(stats["dead"]) == L
            assert (
                len(stats["resid_hist"]) == L + 1
                and len(stats["resid_hist"][0]) == len(r["edges"]["resid"]) - 1
            )
            assert all(sum(h) == pytest.approx(1.0) for h in stats["ffn_hist"])
        assert r["growth_trained"] == pytest.approx(
            r["trained"]["resid_norm"][-1] / r["trained"]["resid_norm"][1]
        )
    assert res["swiglu_dead_trained"] == 0.0


def test_cost_checks_its_formula(results):
    res = results[N.COST]
    assert [r["block"] for r in table_rows(res["table"])] == ["GPT-2 small", "Llama 2 7B"]
    assert len(res["speed"]) == 1 and res["speed"][0]["ratio"] > 0


@pytest.mark.parametrize("name", [N.GRID, N.STABILITY, N.DEPTH])
def test_figures_draw(results, name, tmp_path):
    assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))
