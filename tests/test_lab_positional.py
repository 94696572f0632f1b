"""The positional-embeddings lab: its measuring helpers against independent computations, and the quick
profile of its four experiments run through ``llmkb.lab.run`` into a temporary cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmkb import lab
from llmkb.lab.cache import Result
from llmkb.lab.topics import positional as P
from llmkb.nn import GPT, GPTConfig
from llmkb.nn.positional import sinusoidal_table

EXPERIMENTS = (
    "positional/compare",
    "positional/extrapolation",
    "positional/animation",
    "positional/ablation",
)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def test_attention_entropy_extremes_and_bound():
    T = 6
    uniform = torch.tril(torch.ones(T, T))
    uniform = uniform / uniform.sum(-1, keepdim=True)  # row i spread over i+1 keys
    one_hot = torch.eye(T)
    assert torch.allclose(P.attention_entropy(uniform), P.causal_entropy_bound(T), atol=1e-6)
    assert torch.allclose(P.attention_entropy(one_hot), torch.zeros(T))
    rnd = torch.softmax(
        torch.randn(2, 3, T, T).masked_fill(~torch.tril(torch.ones(T, T)).bool(), -math.inf), -1
    )
    ent = P.attention_entropy(rnd)  # (2, 3, T)
    assert ent.shape == (2, 3, T)
    assert bool((ent >= -1e-6).all()) and bool((ent <= P.causal_entropy_bound(T) + 1e-5).all())


def test_eval_windows_are_deterministic_prefix_consistent_slices():
    ids = torch.arange(1000)
    w = P.eval_windows(ids, 40, 5, seed=3)
    assert w.shape == (5, 41)
    assert torch.equal(w, P.eval_windows(ids, 40, 5, seed=3))
    assert bool((w[:, 1:] - w[:, :-1] == 1).all())  # contiguous slices
    with pytest.raises(ValueError):
        P.eval_windows(ids[:10], 40, 5)


def test_per_position_loss_averages_to_the_models_own_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", positional="rope"))
    windows = P.eval_windows(torch.randint(0, 256, (500,)), 24, 6)
    curve = P.per_position_loss(model, windows, chunk=4)
    assert curve.shape == (24,)
    with torch.no_grad():
        loss = model(windows[:, :-1], windows[:, 1:]).loss
    assert float(curve.mean()) == pytest.approx(float(loss), abs=1e-5)


def test_pca_3d_recovers_a_planar_curve():
    t = torch.linspace(0, 2 * math.pi, 40)
    basis = torch.linalg.qr(torch.randn(10, 10))[0][:, :2]  # orthonormal (10, 2)
    points = torch.stack([torch.cos(t), 0.3 * torch.sin(t)], 1) @ basis.T + 5.0  # (40, 10) in a plane
    coords, explained = P.pca_3d(points)
    assert coords.shape == (40, 3) and explained.shape == (3,)
    assert float(explained[:2].sum()) == pytest.approx(1.0, abs=1e-5)
    exact = "donot_use_mm_for_euclid_dist"
    d_in = torch.cdist(points.double(), points.double(), compute_mode=exact)
    d_out = torch.cdist(coords.double(), coords.double(), compute_mode=exact)
    assert torch.allclose(d_in, d_out, atol=1e-4)  # a projection onto the plane keeps distances


def test_the_site_build_finds_the_experiments_of_this_page():
    names = {e.name for e in lab.topic_experiments("02-positional-embeddings")}
    assert names == set(EXPERIMENTS)


# --------------------------------------------------------------------------------------------------
# the quick profile, end to end
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMKB_CACHE", str(tmp_path_factory.mktemp("lab-cache")))
        out = {name: lab.run(name, "quick") for name in EXPERIMENTS}
        assert all(r.ran for r in out.values())
        yield out


def test_compare_trains_all_five_variants(results):
    res = results["positional/compare"]
    assert [row["variant"] for row in res["rows"]] == list(P.VARIANTS)
    assert res["table"]["columns"][0] == "variant"  # the page's table keeps the column order
    assert [r[0] for r in res["table"]["rows"]] == list(P.VARIANTS)
    assert set(P.VARIANTS) == {"none", "sinusoidal", "learned", "rope", "alibi"}
    for row in res["rows"]:
        assert math.isfinite(row["val loss (nats)"]) and 0 < row["val loss (nats)"] < 10
        assert row["bits per byte"] == pytest.approx(row["val loss (nats)"] / math.log(2), abs=1e-3)
        assert (Path(res.dir) / "models" / row["variant"] / "model.safetensors").is_file()
    params = {r["variant"]: r["parameters"] for r in res["rows"]}
    table_rows = res["max_seq_len"] * res["d_model"]
    assert params["learned"] - params["rope"] == table_rows  # only the learned table adds parameters
    assert params["none"] == params["sinusoidal"] == params["rope"] == params["alibi"]
    for v in P.VARIANTS:
        curve = res["curves"][v]
        assert len(curve["val_loss"]) >= 2 and all(math.isfinite(x) for x in curve["val_loss"])
    assert res["best"] in P.VARIANTS and res["spread"] >= 0
    assert res["learned_table"]["untrained_rows_max_change"] == 0.0  # rows past T never trained
    assert res["learned_table"]["trained_rows_mean_change"] > 0.0


def test_extrapolation_scores_every_variant_at_three_lengths(results):
    res = results["positional/extrapolation"]
    T = int(res["seq_len"])
    assert list(res["mults"]) == [1, 2, 4]
    assert [row["variant"] for row in res["rows"]] == list(P.VARIANTS)
    for row in res["rows"]:
        for m in (1, 2, 4):
            value = row[f"loss @ {m}x ({m * T} bytes)"]
            assert math.isfinite(value) and value > 0
    for v in P.VARIANTS:
        curve = np.asarray(res["curves"][v])
        assert curve.shape == (4 * T,) and np.isfinite(curve).all()
        assert res["within"][v] == pytest.approx(float(curve[:T].mean()), abs=1e-6)
    assert res["prefix_max_abs_diff"] < 1e-4  # causal: a shorter window is a prefix of a longer one
    assert res["best_long"] in P.VARIANTS and res["worst_long"] in P.VARIANTS


def test_animation_exports_llmkb_vectors(results):
    res = results["positional/animation"]
    w = res["widget"]
    N = w["n_positions"]
    rope = w["rope"]
    rotated = np.asarray(rope["rotated"])
    half = rope["head_dim"] // 2
    assert rotated.shape == (N, rope["head_dim"]) and len(w["text"]) == N
    norms = np.hypot(rotated[:, :half], rotated[:, half:])  # each pair keeps its length
    assert np.allclose(norms, 1.0, atol=1e-3)
    m = np.arange(N)[:, None]
    angle = np.arctan2(rotated[:, half:], rotated[:, :half])
    wrapped = np.angle(np.exp(1j * m * np.asarray(rope["theta"])[None, :]))
    assert np.allclose(np.exp(1j * angle), np.exp(1j * wrapped), atol=2e-3)
    assert res["rope_relative_max_std"] < 1e-4
    table = np.asarray(w["sinusoidal"]["table"])
    expected = sinusoidal_table(torch.arange(N), w["sinusoidal"]["d_model"]).numpy()
    assert np.allclose(table, expected, atol=1e-4)
    for part in ("sinusoidal", "learned"):
        pca = np.asarray(w[part]["pca"])
        explained = np.asarray(w[part]["explained"])
        assert pca.shape[1] == 3 and 0 < explained.sum() <= 1 + 1e-6
    assert np.asarray(w["learned"]["pca"]).shape[0] == w["learned"]["n_positions"]


def test_ablation_entropy_is_within_bounds(results):
    res = results["positional/ablation"]
    T = int(res["task"]["seq_len"])
    variants = [row["variant"] for row in res["rows"]]
    assert "none" in variants and len(variants) >= 2
    for row in res["rows"]:
        assert math.isfinite(row["loss (nats)"]) and 0.0 <= row["exact match"] <= 1.0
    bound = math.log(T)
    for name, ent in res["entropy"].items():
        ent = np.asarray(ent)
        assert ent.ndim == 2, name  # (layers, heads)
        assert (ent >= 0).all() and (ent <= bound + 1e-5).all(), name
    assert 0 < res["entropy_bound"] <= bound
    assert {r["variant"] for r in res["removed_rows"]} == set(variants) - {"none"}
    for v in res["maps"]:
        w = np.asarray(res["maps"][v])  # (L, H, T, T), causal rows summing to 1
        assert w.shape[-2:] == (T, T)
        assert np.allclose(w.sum(-1), 1.0, atol=1e-5) and np.allclose(np.triu(w, 1), 0.0)
    assert res["best_pe"] in variants and res["best_pe"] != "none"


def test_every_figure_renders(results):
    from llmkb.lab.registry import render_figure

    names = []
    for name in EXPERIMENTS:
        for fig in lab.figures_of(name):
            path = render_figure(fig, results[name])
            assert path.is_file() and path.stat().st_size > 1000
            names.append(fig.name)
    assert sorted(names) == ["entropy", "maps", "per-position", "val-loss"]


def test_quick_profile_is_cached(results):
    again = lab.run("positional/compare", "quick")
    assert not again.ran and again.key == results["positional/compare"].key


def test_cross_entropy_matches_torch_per_position():
    torch.manual_seed(3)
    model = GPT(GPTConfig.preset("tiny", positional="alibi")).eval()
    windows = P.eval_windows(torch.randint(0, 256, (300,)), 10, 3)
    with torch.no_grad():
        logits = model(windows[:, :-1]).logits
    manual = F.cross_entropy(logits.reshape(-1, 256), windows[:, 1:].reshape(-1), reduction="none")
    assert torch.allclose(P.per_position_loss(model, windows), manual.view(3, 10).mean(0), atol=1e-5)
