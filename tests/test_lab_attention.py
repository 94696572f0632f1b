"""The attention lab: head scores and labels on hand-made maps, the Jacobian norms against a brute-force
``torch.autograd.functional.jacobian``, the query walk-through against the model's own weights, softmax
saturation against the explicit Jacobian, the page's generated sentences, the memory formula, and the
experiments on the real (quick) shared model."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from llmkb import lab
from llmkb.lab.registry import get_figure
from llmkb.lab.topics.attention.analysis import (
    classify_head,
    head_scores,
    induction_scores,
    uniform_weight,
    word_starts,
)
from llmkb.lab.topics.attention.analysis_cost import attention_matrix_bytes, softmax_saturation, softmax_stats
from llmkb.lab.topics.attention.analysis_probe import jacobian_norms, layer_internals, query_walkthrough
from llmkb.lab.topics.attention.figures_model import _spread
from llmkb.lab.topics.attention.names import KINDS, QUERY_POSITION, SENTENCE
from llmkb.lab.topics.attention.text import (
    gradient_note,
    head_notes,
    induction_note,
    query_note,
    scaled_range_note,
    scaling_summary,
)
from llmkb.nn import GPT, GPTConfig


def _maps(T: int) -> torch.Tensor:
    """Four hand-made heads ``(4, T, T)``: previous token, first token, self, uniform causal."""
    eye = torch.eye(T)
    prev = torch.zeros(T, T)
    prev[0, 0] = 1.0
    prev[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    first = torch.zeros(T, T)
    first[:, 0] = 1.0
    uniform = torch.ones(T, T).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    return torch.stack([prev, first, eye, uniform])


def test_head_scores_on_hand_made_heads() -> None:
    T = 9
    boundary = torch.zeros(T, dtype=torch.bool)
    boundary[[0, 4]] = True  # "spaces" at 0 and 4
    s = head_scores(_maps(T), boundary=boundary, window=2)
    uniform = [1 / (t + 1) for t in range(2, T)]
    np.testing.assert_allclose(s["prev"], [1, 0, 0, np.mean(uniform)])
    np.testing.assert_allclose(s["first"][:3], [0, 1, 0])
    np.testing.assert_allclose(s["self"][:3], [0, 0, 1])
    np.testing.assert_allclose(s["local"], [1, 0, 1, np.mean([2 * u for u in uniform])])
    np.testing.assert_allclose(s["boundary"][:3], [1 / 7, 1, 1 / 7])  # prev and self each hit key 4 once
    np.testing.assert_allclose(s["entropy"], [0, 0, 0, 1], atol=1e-12)
    labels = [classify_head({k: float(v[i]) for k, v in s.items()}) for i in range(4)]
    assert labels == ["previous-token", "first-token", "self", "broad"]
    assert set(labels) <= set(KINDS)
    assert "boundary" not in head_scores(_maps(T))
    with pytest.raises(ValueError, match="start"):
        head_scores(_maps(2))


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({"boundary": 0.6, "induction": 0.9, "local": 0.9}, "word-boundary"),
        ({"boundary": 0.1, "induction": 0.6, "local": 0.9}, "induction"),
        ({"boundary": 0.1, "induction": 0.1, "local": 0.9}, "local"),
        ({"entropy": 0.8}, "broad"),
        ({}, "mixed"),
        ({"prev": 0.45, "boundary": 0.9}, "previous-token"),
    ],
)
def test_classify_head_order(extra: dict[str, float], kind: str) -> None:
    scores = {"prev": 0.1, "first": 0.2, "self": 0.1, "entropy": 0.3} | extra
    assert classify_head(scores) == kind
    assert classify_head(scores, {"focus": 0.05}) in ("previous-token", "first-token", "self")


def test_induction_score_and_label() -> None:
    P = 5
    T = 2 * P
    w = torch.zeros(T, T)
    w[:P, 0] = 1.0
    t = torch.arange(P, T)
    w[t, t - P + 1] = 1.0  # a perfect induction head on the second copy
    assert induction_scores(w[None], P)[0] == pytest.approx(1.0)
    uniform = _maps(T)[3]
    assert induction_scores(uniform[None], P)[0] == pytest.approx(np.mean([1 / (x + 1) for x in range(P, T)]))
    with pytest.raises(ValueError, match="period"):
        induction_scores(w[None], T)


def test_jacobian_norms_equal_brute_force_and_are_causal() -> None:
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", vocab_size=11, d_model=16, n_heads=2, positional="rope", bias=False)
    model = GPT(cfg).eval()
    idx = torch.randint(0, 11, (1, 5))
    fast = jacobian_norms(model, idx, chunk=7)  # chunks that straddle output positions

    emb0 = model.tok_emb(idx).detach()

    def logits_of(e: torch.Tensor) -> torch.Tensor:
        handle = model.tok_emb.register_forward_hook(lambda _m, _i, _o: e)
        try:
            return model(idx).logits[0]  # (T, V)
        finally:
            handle.remove()

    full = torch.autograd.functional.jacobian(logits_of, emb0)  # (T, V, 1, T, d)
    ref = full[:, :, 0].double().pow(2).sum(dim=(1, 3)).sqrt()  # (T, T)
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-7)
    assert torch.all(fast.triu(diagonal=1) == 0.0)
    lower = torch.ones(5, 5, dtype=torch.bool).tril()
    assert torch.all(fast[lower] > 0)
    with pytest.raises(ValueError, match="1, T"):
        jacobian_norms(model, idx.expand(2, -1))


def test_softmax_stats_against_the_explicit_jacobian() -> None:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 7, generator=g, dtype=torch.float64) * 3  # (N, K)
    st = softmax_stats(s)
    p = torch.softmax(s, -1)
    jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, K, K)
    torch.testing.assert_close(st["grad"], jac.flatten(1).norm(dim=-1))
    torch.testing.assert_close(st["max"], p.max(-1).values)
    torch.testing.assert_close(st["entropy"], -(p * p.log()).sum(-1) / math.log(7))
    flat = softmax_stats(torch.zeros(1, 8))  # uniform: every key counts
    assert flat["keys"].item() == pytest.approx(8) and flat["entropy"].item() == pytest.approx(1)
    sharp = softmax_stats(torch.tensor([[50.0, 0.0, 0.0]]))  # one-hot: one key, nothing to learn
    assert sharp["keys"].item() == pytest.approx(1) and sharp["grad"].item() < 1e-10


def test_softmax_saturation_scaled_vs_unscaled() -> None:
    rows = softmax_saturation([4, 64, 1024], n_keys=256, trials=64, seed=1, chunk_elements=2**16)
    for r in rows:
        assert r["score_std"] == pytest.approx(math.sqrt(r["d"]), rel=0.15)
        assert r["entropy_scaled"] > r["entropy_raw"] and r["keys_scaled"] > r["keys_raw"]
        assert r["max_scaled"] < r["max_raw"]
    raw = [r["entropy_raw"] for r in rows]
    assert raw[0] > raw[1] > raw[2] and raw[2] < 0.1  # unscaled: collapses towards one-hot
    scaled = [r["entropy_scaled"] for r in rows]
    assert max(scaled) - min(scaled) < 0.05  # scaled: the same distribution at every width
    assert rows[1]["keys_raw"] < 5 < 50 < rows[1]["keys_scaled"]  # d = 64: a few keys vs most of them


def test_attention_matrix_bytes_is_the_size_of_the_weights() -> None:
    from llmkb.nn.attention import causal_mask, scaled_dot_product

    q = torch.randn(2, 3, 10, 4)
    _, w = scaled_dot_product(q, q, q, mask=causal_mask(10))
    assert attention_matrix_bytes(2, 3, 10) == w.untyped_storage().nbytes() == 2 * 3 * 100 * 4
    assert attention_matrix_bytes(1, 32, 4096, 2) == 2**30  # 32 heads, 4k tokens, fp16: 1 GiB per layer


def test_causality_experiment_on_the_shared_model() -> None:
    res = lab.run("attention/causality", "quick")
    assert res["max_above_diagonal"] == 0.0
    assert res["zeros_on_or_below_diagonal"] == 0 and res["min_on_or_below_diagonal"] > 0
    assert res["max_past_logit_change"] == 0.0 and res["max_future_logit_change"] > 0
    T = res["T"]
    assert np.asarray(res["norms"]).shape == (T, T) == (len(res["tokens"]), T)


def test_heads_experiment_labels_every_head_from_its_scores() -> None:
    res = lab.run("attention/heads", "quick")
    maps = np.asarray(res["maps"])
    L, H, T, _ = maps.shape
    assert T == len(res["tokens"]) and len(res["rows"]) == L * H == res["n_heads"]
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(maps, k=1) == 0)
    for r in res["rows"]:
        assert r["kind"] == classify_head({**r, "boundary": r["space"]}, res["thresholds"])
    starts, words = res["word_starts"], res["words"]
    assert [res["tokens"][i] for i in starts] == [w[0] for w in words]
    assert set(res["notes"]) == {
        "summary",
        "prev",
        "first",
        "self",
        "boundary",
        "local",
        "induction",
        "layers",
        "division",
    }
    assert all(isinstance(v, str) and v for v in res["notes"].values())


def test_word_starts_and_uniform_weight() -> None:
    assert word_starts(" ab c") == ([1, 4], ["ab", "c"])
    assert word_starts(SENTENCE)[1][:3] == ["A", "list", "is"]
    assert uniform_weight(2, 4) == pytest.approx((1 / 3 + 1 / 4) / 2)


@pytest.mark.parametrize(
    "overrides",
    [
        {"positional": "rope"},
        {"positional": "alibi", "n_heads": 4, "n_kv_heads": 2},  # a score bias and grouped heads
        {"positional": "learned", "bias": True},
    ],
)
def test_query_walkthrough_recomputes_the_models_own_attention(overrides: dict) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", **overrides)).eval()
    idx = torch.randint(0, 256, (1, 12))
    with torch.no_grad():
        plain = model(idx, return_attn=True)
    inside = layer_internals(model, idx)
    assert all(
        torch.equal(a, b) for a, b in zip(inside["weights"], plain.attn, strict=True)
    )  # hooks only read
    assert len(inside["q"]) == len(inside["heads"]) == model.config.n_layers
    t = 9
    res = query_walkthrough(model, idx, t, layer=1, head=1)
    row = plain.attn[1][0, 1, t, : t + 1].double().numpy()
    np.testing.assert_allclose(res["weights"], row, atol=1e-6)
    assert res["weights_diff"] < 1e-6 and res["output_diff"] < 1e-5
    np.testing.assert_allclose(res["output"], res["weights"] @ res["values"])  # o_t = sum_j a_j v_j
    assert res["weights"].sum() == pytest.approx(1.0)
    assert res["scores"].shape == (t + 1,) and res["values"].shape == (t + 1, model.config.head_dim)
    picked = query_walkthrough(model, idx, t)  # no head given: the sharpest one at t
    ent = picked["entropies"]
    assert ent[picked["layer"], picked["head"]] == ent.min()
    with pytest.raises(ValueError, match="1 <= t < T"):
        query_walkthrough(model, idx, 12)


def _rows(kinds: list[str]) -> list[dict]:
    base = {"prev": 0.1, "first": 0.1, "self": 0.1, "local": 0.2, "space": 0.2, "induction": 0.05}
    return [
        base
        | {"head": f"L{i // 2}H{i % 2}", "layer": i // 2, "kind": k, "entropy": 0.5 + 0.1 * i}
        | ({"prev": 0.9} if k == "previous-token" else {})
        for i, k in enumerate(kinds)
    ]


def test_head_notes_follow_the_rows() -> None:
    rows = _rows(["previous-token", "previous-token", "broad", "mixed"])
    notes = head_notes(rows, 2, induction_uniform=0.04, space_uniform=0.2)
    assert notes["summary"] == "Labels over the 4 heads: previous-token 2, broad 1, mixed 1."
    assert notes["prev"].startswith("2 of the 4 heads are previous-token heads (L0H0 and L0H1)")
    assert notes["first"].startswith("No head is a first-token head")
    assert "layer 0 is the sharpest, layer 1 the most diffuse" in notes["layers"]
    assert "no head copies" in notes["induction"]
    assert "layer 1 (broad and mixed)" in notes["division"] and "layer 0" not in notes["division"]
    same = head_notes(_rows(["broad"] * 4), 2, 0.04, 0.2)["division"]
    assert "no division of labour" in same
    rows[3] |= {"kind": "induction", "induction": 0.6}
    assert induction_note(rows, 0.04).startswith("1 of the 4 heads is an induction head (L1H1)")
    every = head_notes(_rows(["local"] * 4), 2, 0.04, 0.2)["local"]
    assert every.startswith("all 4 heads are local heads (L0H0, L0H1, L1H0 and L1H1)")
    weak = induction_note(
        rows[:3], 0.04
    )  # no induction head: the best score and the uniform one, same digits
    assert re.search(r"the largest induction score is \d\.\d{3} \(L\w+\), against 0\.040", weak)


def test_scaling_sentences_follow_the_numbers() -> None:
    rows = [
        {"d": 8, "entropy_raw": 0.6, "entropy_scaled": 0.93, "max_raw": 0.3, "max_scaled": 0.02,
         "keys_raw": 30.0, "keys_scaled": 400.0, "grad_raw": 0.2, "grad_scaled": 0.05},
        {"d": 64, "entropy_raw": 0.2, "entropy_scaled": 0.92, "max_raw": 0.7, "max_scaled": 0.015,
         "keys_raw": 2.4, "keys_scaled": 410.0, "grad_raw": 0.01, "grad_scaled": 0.05},
    ]  # fmt: skip
    text = scaling_summary(rows, {64: "GPT-2", 128: "Llama"}, 1024)
    assert "d = 64 (GPT-2)" in text and "128" not in text and "0.70" in text and "410" in text
    with pytest.raises(ValueError, match="none of the widths"):
        scaling_summary(rows, {128: "Llama"}, 1024)
    assert "falls at every step, from 0.600 to 0.200" in scaled_range_note(rows)  # same digits at both ends
    assert "does not fall" in scaled_range_note(rows[::-1][:1] + [rows[1] | {"entropy_raw": 0.9}])
    assert "larger unscaled at d = 8 and smaller at the other widths" in gradient_note(rows)
    assert "at every width measured" in gradient_note(rows[:1])


def test_query_experiment_walks_through_one_query_of_the_shared_model() -> None:
    res = lab.run("attention/query", "quick")
    t = res["t"]
    assert t == QUERY_POSITION and res["tokens"][t] == SENTENCE[t] == "d"
    w = np.asarray(res["weights"])
    assert w.shape == (t + 1,) and w.sum() == pytest.approx(1.0)
    assert res["weights_diff"] < 1e-5 and res["output_diff"] < 1e-4
    assert f"L{res['layer']}H{res['head']}" in res["note"] and f"at position {t}" in res["note"]
    assert res["positional"] == GPTConfig.preset("shared").positional
    heads = lab.run("attention/heads", "quick")
    maps = np.asarray(heads["maps"])
    np.testing.assert_allclose(w, maps[res["layer"], res["head"], t, : t + 1], atol=1e-6)
    fig = get_figure("attention/query", "walkthrough").fn(res)
    assert len(fig.axes) == 4  # scores, weights, the weighted sum and its colour bar
    assert query_note(res, res["tokens"], res["n_heads"]) == res["note"]


def test_scaling_experiment_covers_real_head_widths() -> None:
    res = lab.run("attention/scaling", "quick")
    assert res["n_keys"] >= 1024
    widths = {int(d) for d in res["widths"]}
    assert {32, 64, 128} <= widths and widths <= {r["d"] for r in res["rows"]}
    assert [row[0] for row in res["real"]["rows"]] == sorted(widths)
    for d in widths:
        r = res["by_d"][str(d)]
        assert r["max_raw"] > 10 * r["max_scaled"] and r["keys_scaled"] > 50 * r["keys_raw"]


def test_memory_experiment_matches_the_formula_and_sdpa() -> None:
    res = lab.run("attention/memory", "quick")
    assert res["all_equal"] and res["max_diff_vs_sdpa"] < 1e-4
    assert res["slope"]["weights"] == pytest.approx(2.0, abs=0.01)
    assert res["slope"]["qkv"] == pytest.approx(1.0, abs=0.01)


def test_every_number_the_page_quotes_exists_in_the_quick_results() -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "03-attention" / "index.md").read_text("utf-8")
    quoted = re.findall(r'lab\.(value|text|table|figure)\("([^"]+)", "([^"]+)"', page)
    assert len(quoted) > 40 and {e for _, e, _ in quoted} == {
        f"attention/{x}" for x in ("heads", "query", "causality", "scaling", "memory")
    }
    for kind, exp, path in quoted:
        if kind == "figure":
            assert get_figure(exp, path) is not None
        else:
            assert lab.run(exp, "quick").path(path) is not None, (exp, path)


def test_the_all_heads_grid_labels_spaced_words_longest_first() -> None:
    starts, words = word_starts(SENTENCE)
    kept = _spread(starts, words, gap=7.0)
    picked = [starts[i] for i in kept]
    assert kept == sorted(kept) and all(b - a >= 7 for a, b in zip(picked, picked[1:], strict=False))
    assert words.index(max(words, key=len)) in kept
    assert _spread(starts, words, gap=1.0) == list(range(len(words)))  # room for all: every word


def test_every_figure_reads_in_the_page_column() -> None:
    """Each figure renders in both themes at most as wide as the column, its smallest text at least 11 px
    (``render_figure`` refuses it otherwise)."""
    from llmkb.lab.kit import style
    from llmkb.lab.render import render_figure

    names = []
    for exp in ("heads", "query", "causality", "scaling", "memory"):
        res = lab.run(f"attention/{exp}", "quick")
        for fig in lab.figures_of(res.name):
            r = render_figure(fig, res)
            assert r.dark.is_file() and r.width_in * style.CSS_PX_PER_IN <= style.COLUMN_PX
            assert style.text_px(r.min_font_pt, r.width_in) >= style.MIN_TEXT_PX
            names.append(f"{exp}/{fig.name}")
    assert sorted(names) == sorted(
        [
            "heads/maps",
            "heads/examples",
            "query/walkthrough",
            "causality/jacobian",
            "scaling/entropy",
            "memory/memory",
        ]
    )
