"""Sanity of the attention topic's experiments: the head scores and labels on hand-made maps, the
Jacobian norms against a brute-force ``torch.autograd.functional.jacobian``, softmax saturation, the
memory formula, and the causality experiment on the real (quick) shared model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmkb import lab
from llmkb.lab.topics.attention import (
    KINDS,
    attention_matrix_bytes,
    classify_head,
    head_scores,
    induction_scores,
    jacobian_norms,
    softmax_saturation,
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


def test_softmax_saturation_scaled_vs_unscaled() -> None:
    rows = softmax_saturation([4, 64, 1024], n_keys=32, trials=200, seed=1)
    for r in rows:
        assert r["score_std"] == pytest.approx(math.sqrt(r["d"]), rel=0.15)
        assert r["entropy_scaled"] > r["entropy_raw"]
    raw = [r["entropy_raw"] for r in rows]
    assert raw[0] > raw[1] > raw[2] and raw[2] < 0.1  # unscaled: collapses towards one-hot
    scaled = [r["entropy_scaled"] for r in rows]
    assert max(scaled) - min(scaled) < 0.05  # scaled: the same distribution at every width
    assert rows[-1]["grad_raw"] < rows[-1]["grad_scaled"]


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
        assert r["kind"] == classify_head({**r, "boundary": r["space"]})
    assert set(res["notes"]) == {
        "summary",
        "prev",
        "first",
        "self",
        "boundary",
        "local",
        "induction",
        "layers",
    }
    assert all(isinstance(v, str) and v for v in res["notes"].values())
