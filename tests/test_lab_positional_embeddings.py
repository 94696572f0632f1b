"""The positional-embeddings lab: its measurements against independent computations, its prose functions, and
the quick profile of its four experiments run through ``llmkb.lab.run`` into a temporary cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmkb import lab
from llmkb.lab.cache import Result
from llmkb.lab.kit import evals
from llmkb.lab.topics.positional_embeddings import analysis as A
from llmkb.lab.topics.positional_embeddings import names as N
from llmkb.lab.topics.positional_embeddings import text as X
from llmkb.nn import GPT, GPTConfig
from llmkb.nn.positional import sinusoidal_table

EXPERIMENTS = (N.COMPARE, N.EXTRAPOLATION, N.ANIMATION, N.ABLATION)


# ------------------------------------------------------------------------------------------ analysis
def test_attention_entropy_extremes_and_bound():
    T = 6
    uniform = torch.tril(torch.ones(T, T))
    uniform = uniform / uniform.sum(-1, keepdim=True)  # row i spread over i+1 keys
    assert torch.allclose(A.attention_entropy(uniform), A.causal_entropy_bound(T), atol=1e-6)
    assert torch.allclose(A.attention_entropy(torch.eye(T)), torch.zeros(T))
    mask = ~torch.tril(torch.ones(T, T)).bool()
    rnd = torch.softmax(torch.randn(2, 3, T, T).masked_fill(mask, -math.inf), -1)
    ent = A.attention_entropy(rnd)  # (2, 3, T)
    assert ent.shape == (2, 3, T)
    assert bool((ent >= -1e-6).all()) and bool((ent <= A.causal_entropy_bound(T) + 1e-5).all())


def test_eval_windows_are_deterministic_prefix_consistent_slices():
    ids = torch.arange(1000)
    w = evals.eval_windows(ids, 40, 5, seed=3)
    assert w.shape == (5, 41)
    assert torch.equal(w, evals.eval_windows(ids, 40, 5, seed=3))
    assert bool((w[:, 1:] - w[:, :-1] == 1).all())  # contiguous slices
    with pytest.raises(ValueError):
        evals.eval_windows(ids[:10], 40, 5)


def test_per_position_loss_averages_to_the_models_own_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", positional="rope"))
    windows = evals.eval_windows(torch.randint(0, 256, (500,)), 24, 6)
    curve = evals.per_position_loss(model, windows, chunk=4)
    assert curve.shape == (24,)
    with torch.no_grad():
        loss = model(windows[:, :-1], windows[:, 1:]).loss
    assert float(curve.mean()) == pytest.approx(float(loss), abs=1e-5)


def test_cross_entropy_matches_torch_per_position():
    torch.manual_seed(3)
    model = GPT(GPTConfig.preset("tiny", positional="alibi")).eval()
    windows = evals.eval_windows(torch.randint(0, 256, (300,)), 10, 3)
    with torch.no_grad():
        logits = model(windows[:, :-1]).logits
    manual = F.cross_entropy(logits.reshape(-1, 256), windows[:, 1:].reshape(-1), reduction="none")
    assert torch.allclose(evals.per_position_loss(model, windows), manual.view(3, 10).mean(0), atol=1e-5)


def test_pca_3d_recovers_a_planar_curve():
    t = torch.linspace(0, 2 * math.pi, 40)
    basis = torch.linalg.qr(torch.randn(10, 10))[0][:, :2]  # orthonormal (10, 2)
    points = torch.stack([torch.cos(t), 0.3 * torch.sin(t)], 1) @ basis.T + 5.0  # (40, 10) in a plane
    coords, explained = A.pca_3d(points)
    assert coords.shape == (40, 3) and explained.shape == (3,)
    assert float(explained[:2].sum()) == pytest.approx(1.0, abs=1e-5)
    exact = "donot_use_mm_for_euclid_dist"
    d_in = torch.cdist(points.double(), points.double(), compute_mode=exact)
    d_out = torch.cdist(coords.double(), coords.double(), compute_mode=exact)
    assert torch.allclose(d_in, d_out, atol=1e-4)  # a projection onto the plane keeps distances


def test_seed_stats_and_rope_turns():
    s = evals.seed_stats([1.0, 2.0, 4.0])
    assert s == pytest.approx(
        {"mean": 7 / 3, "sd": float(np.std([1, 2, 4], ddof=1)), "min": 1, "max": 4, "n": 3}
    )
    assert evals.seed_stats([2.5])["sd"] == 0.0
    with pytest.raises(ValueError):
        evals.seed_stats([])
    # D = 16, b = 10^4: wavelengths 2 pi 10^(i/2) = 6.3, 19.9, 62.8, 198.7, 628, ...
    assert [A.rope_turns(16, 1e4, n) for n in (6, 7, 62, 63, 256, 10**6)] == [0, 1, 2, 3, 4, 8]


def test_rescaled_rope_is_the_model_at_scale_one_and_differs_past_it():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", positional="rope", max_seq_len=16)).eval()
    idx = torch.randint(0, 256, (2, 48))
    with torch.no_grad():
        plain = model(idx).logits
        for method in ("pi", "ntk"):
            assert torch.equal(A.rescaled_rope(model, method, 1)(idx).logits, plain)
            scaled = A.rescaled_rope(model, method, 4)
            assert not torch.allclose(scaled(idx).logits, plain, atol=1e-4)
            assert scaled.config.head_dim == model.config.head_dim
    assert A.rescaled_rope(model, "pi", 4).config.positional == "rope-pi"
    assert A.rescaled_rope(model, "ntk", 4).config.rope_base > model.config.rope_base
    with pytest.raises(ValueError, match="rope model"):
        A.rescaled_rope(GPT(GPTConfig.preset("tiny", positional="alibi")), "pi", 2)
    with pytest.raises(ValueError, match="pi|ntk"):
        A.rescaled_rope(model, "yarn", 2)


def test_learned_table_drift_and_relative_spread():
    init = torch.zeros(8, 4)
    trained = init.clone()
    trained[:3] += 1.0
    d = A.learned_table_drift(init, trained, 3)
    assert d["untrained_rows_max_change"] == 0.0 and d["trained_rows_mean_change"] == pytest.approx(2.0)
    trained[5, 0] = 0.5
    assert A.learned_table_drift(init, trained, 3)["untrained_rows_max_change"] == 0.5
    q = torch.randn(10, 4)
    assert A.relative_score_spread(q, q) > 1e-3  # unrotated vectors: no relative property
    assert A.relative_score_spread(torch.ones(10, 4), torch.ones(10, 4)) == 0.0


# ------------------------------------------------------------------------------------------ text
def test_rank_groups_only_separates_non_overlapping_seeds():
    samples = {"a": [1.0, 1.1, 1.2], "b": [1.15, 1.3, 1.25], "c": [2.0, 2.1, 2.2], "d": [0.1, 0.2, 0.1]}
    assert X.rank_groups(samples) == [["d"], ["a", "b"], ["c"]]
    assert X.ranking_phrase(samples) == "d < a ≈ b < c"
    assert X.lowest_phrase(samples) == "d, below every other variant in every seed"
    assert X.lowest_phrase({"a": [1, 2], "b": [1.5, 1.6]}) == "a and b, whose seeds overlap"
    assert X.ranking_phrase({"rope-pi": [1.0], "rope": [2.0]}) == "rope + PI < rope"


def test_paired_gap_counts_agreeing_seeds():
    assert X.paired_gap([-0.03, -0.02, -0.04], "plain rope") == "0.030 nats below plain rope in every seed"
    assert (
        X.paired_gap([0.01, 0.02, -0.002], "x")
        == "0.009 nats above x on average, in only 2 of 3 seeds (within the seeds' spread)"
    )
    assert X.paired_gap([0.03], "x") == "0.030 nats above x (one seed)"
    assert X.paired_gap([1e-5, -1e-5], "x") == "the same as x"
    assert X.mean_sd([1.0, 2.0, 3.0]) == "2.000 ± 1.000"
    assert X.change_phrase(0.1, 2.0, "the loss") == "raises the loss from 0.100 to 2.000 nats"
    assert X.change_phrase(2.0, 0.1, "the loss").startswith("lowers")


def test_grouped_phrases_say_each_part_once():
    both_up = X.changes_phrase([(1.0, 2.0, "the loss"), (0.5, 0.75, "the entropy")])
    assert both_up == "raises the loss from 1.000 to 2.000 nats and the entropy from 0.500 to 0.750 nats"
    mixed = X.changes_phrase([(1.0, 2.0, "the loss"), (0.5, 0.25, "the entropy")])
    assert mixed == "raises the loss from 1.000 to 2.000 nats and lowers the entropy from 0.500 to 0.250 nats"
    deltas = {"A": [-0.1, -0.2], "B": [-0.05, -0.05], "C": [0.3, 0.1], "D": [0.1, -0.2], "E": [1e-5, -1e-5]}
    s = X.gaps_phrase(deltas, "the loss at 1×")
    assert s == (
        "below the loss at 1× in every seed for A (by 0.150 nats) and B (0.050); above it in every seed for C "
        "(by 0.200 nats); on either side of it, depending on the seed, for D (0.050 nats below on average); "
        "the same as it for E"
    )
    assert s.count("the loss at 1×") == 1 and s.count("in every seed") == 2
    assert X.gaps_phrase({"A": [-0.1]}, "x") == "below x for A (by 0.100 nats)"  # one seed: no "every seed"


def test_the_site_build_finds_the_experiments_of_this_page():
    names = {e.name for e in lab.topic_experiments("02-positional-embeddings")}
    assert names == set(EXPERIMENTS)
    assert all(n.startswith("positional-embeddings/") for n in names)


# ------------------------------------------------------------------------------------------ quick profile
@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMKB_CACHE", str(tmp_path_factory.mktemp("lab-cache")))
        out = {name: lab.run(name, "quick") for name in EXPERIMENTS}
        assert all(r.ran for r in out.values())
        yield out


def test_compare_trains_all_five_variants_for_every_seed(results):
    res = results[N.COMPARE]
    assert res["table"]["columns"][0] == "variant"  # the page's table keeps the column order
    assert [r[0] for r in res["table"]["rows"]] == list(N.VARIANTS)
    assert res["n_seeds"] == len(res["seeds"]) >= 2
    for v in N.VARIANTS:
        assert len(res["losses"][v]) == res["n_seeds"]
        assert all(math.isfinite(x) and 0 < x < 10 for x in res["losses"][v])
        assert res["stats"][v]["mean"] == pytest.approx(float(np.mean(res["losses"][v])))
        for s in res["seeds"]:
            assert (Path(res.dir) / "models" / f"{v}-seed{s}" / "model.safetensors").is_file()
        curve = res["curves"][v]
        assert np.asarray(curve["val_loss"]).shape == (res["n_seeds"], len(curve["val_steps"]))
    params = dict(zip(res["table"]["columns"], zip(*res["table"]["rows"], strict=True), strict=True))[
        "parameters"
    ]
    params = dict(zip(N.VARIANTS, params, strict=True))
    assert (
        params["learned"] - params["rope"] == res["max_seq_len"] * res["d_model"]
    )  # only the table adds any
    assert params["none"] == params["sinusoidal"] == params["rope"] == params["alibi"]
    means = {v: res["stats"][v]["mean"] for v in N.VARIANTS}
    assert res["best"] == min(means, key=means.get) and res["worst"] == max(means, key=means.get)
    assert res["spread"] == pytest.approx(means[res["worst"]] - means[res["best"]], abs=1e-4)
    assert res["ranking"] == X.ranking_phrase(res["losses"])
    assert res["learned_table"]["untrained_rows_max_change"] == 0.0  # rows past T never trained
    assert res["learned_table"]["trained_rows_mean_change"] > 0.0
    assert res["head_dim"] == res["d_model"] // res["n_heads"]


_PAGE_NAMES = (
    ("alibi", "ALiBi"),
    ("none", "NoPE"),
    ("rope", "plain RoPE"),
    ("rope-ntk", "RoPE with the NTK base"),
)


def test_extrapolation_scores_every_variant_and_rescaled_rope(results):
    res = results[N.EXTRAPOLATION]
    T = int(res["seq_len"])
    assert list(res["mults"]) == [1, 2, 4]
    assert [row[0] for row in res["table"]["rows"]] == [N.label(v) for v in N.EXTRAPOLATED]
    for v in N.EXTRAPOLATED:
        curve = np.asarray(res["curves"][v])
        assert curve.shape == (4 * T,) and np.isfinite(curve).all()
        assert len(res["beyond_seeds"][v]) == res["n_seeds"]
        assert res["beyond"][v] == pytest.approx(float(np.mean(res["beyond_seeds"][v])))
    for name in N.RESCALED:  # at scale 1 the rescaled models are the RoPE model
        assert res["by_mult"][name]["1"] == pytest.approx(res["by_mult"]["rope"]["1"], abs=1e-5)
    for v in N.EXTRAPOLATED:  # the phrase is the paired 4x - 1x difference
        gap = np.mean(res["by_mult"][v]["4"]) - np.mean(res["by_mult"][v]["1"])
        assert res["longer_vs_1x"][v].startswith(("the same", f"{abs(gap):.3f}"))
    longer = {name: np.subtract(res["by_mult"][v]["4"], res["by_mult"][v]["1"]) for v, name in _PAGE_NAMES}
    assert res["longer_vs_1x_text"] == X.gaps_phrase(longer, "the loss at 1×")
    assert res["longer_vs_1x_text"].count("the loss at 1×") == 1  # said once, however many variants
    assert "NTK-aware base" in res["rescaled_vs_rope"] and "position interpolation" in res["rescaled_vs_rope"]
    assert res["prefix_max_abs_diff"] < 1e-4  # causal: a shorter window is a prefix of a longer one
    rope = res["rope"]
    lam = np.asarray(rope["wavelengths"])
    assert lam.shape == (rope["head_dim"] // 2,) and rope["longest"] == pytest.approx(lam[-1])
    assert rope["longest_vs_2pib"] == pytest.approx(10000.0 ** (-2 / rope["head_dim"]))
    assert rope["shared_head_dim"] == GPTConfig.preset("shared").head_dim
    assert 0.56 < rope["shared_longest_vs_2pib"] < 0.57  # D = 32
    assert rope["turns_within_T"] == int((lam <= T).sum()) <= rope["turns_within_top"]


def test_animation_exports_llmkb_vectors(results):
    res = results[N.ANIMATION]
    w = res["widget"]
    n = w["n_positions"]
    rope = w["rope"]
    rotated = np.asarray(rope["rotated"])
    half = rope["head_dim"] // 2
    assert rotated.shape == (n, rope["head_dim"]) and len(w["text"]) == n
    assert np.allclose(np.hypot(rotated[:, :half], rotated[:, half:]), 1.0, atol=1e-3)  # pairs keep length
    m = np.arange(n)[:, None]
    angle = np.arctan2(rotated[:, half:], rotated[:, :half])
    wrapped = np.angle(np.exp(1j * m * np.asarray(rope["theta"])[None, :]))
    assert np.allclose(np.exp(1j * angle), np.exp(1j * wrapped), atol=2e-3)
    assert res["rope_relative_max_std"] < 1e-4
    expected = sinusoidal_table(torch.arange(n), w["sinusoidal"]["d_model"]).numpy()
    assert np.allclose(np.asarray(w["sinusoidal"]["table"]), expected, atol=1e-4)
    for part in ("sinusoidal", "learned"):
        assert (
            np.asarray(w[part]["pca"]).shape[1] == 3
            and 0 < np.asarray(w[part]["explained"]).sum() <= 1 + 1e-6
        )
    assert np.asarray(w["learned"]["pca"]).shape[0] == w["learned"]["n_positions"]


def test_ablation_entropy_is_within_bounds(results):
    res = results[N.ABLATION]
    T = int(res["task"]["seq_len"])
    variants = list(res["variants"])
    assert "none" in variants and [r[0] for r in res["table"]["rows"]] == variants
    for v in variants:
        assert len(res["losses"][v]) == res["n_seeds"] >= 2
    bound = math.log(T)
    for name, ent in res["entropy"].items():
        ent = np.asarray(ent)
        assert ent.ndim == 2, name  # (layers, heads)
        assert (ent >= 0).all() and (ent <= bound + 1e-5).all(), name
    assert 0 < res["entropy_bound"] <= bound
    assert [r[0] for r in res["removed_table"]["rows"]] == [v for v in variants if v != "none"]
    for v in res["maps"]:
        w = np.asarray(res["maps"][v])  # (L, H, T, T), causal rows summing to 1
        assert w.shape[-2:] == (T, T)
        assert np.allclose(w.sum(-1), 1.0, atol=1e-5) and np.allclose(np.triu(w, 1), 0.0)
    assert res["best_pe"] in variants and res["best_pe"] != "none"
    assert res["ranking"] == X.ranking_phrase(res["losses"])
    removal = res["removal"]
    assert removal["changes"].startswith(removal["loss_change"]) and removal["changes"].count("raises") <= 2


def test_every_figure_renders(results):
    from llmkb.lab.render import render_figure

    names = []
    for name in EXPERIMENTS:
        for fig in lab.figures_of(name):
            r = render_figure(fig, results[name])
            assert r.light.is_file() and r.light.stat().st_size > 1000 and r.dark.is_file()
            names.append(fig.name)
    assert sorted(names) == ["entropy", "maps", "per-position", "val-loss"]


def test_quick_profile_is_cached(results):
    again = lab.run(N.COMPARE, "quick")
    assert not again.ran and again.key == results[N.COMPARE].key
