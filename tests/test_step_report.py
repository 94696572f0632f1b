"""llmkb.infer.step_report: the playground's step report and KV panel (the reference its JavaScript mirrors)."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.infer.sampling import SamplingConfig
from llmkb.infer.step_report import kv_panel, step_report, top_tokens
from llmkb.nn import GPT, GPTConfig


def test_top_tokens_rank_ties_by_lower_id():
    probs = torch.tensor([0.1, 0.3, 0.2, 0.3, 0.1], dtype=torch.float64)
    assert top_tokens(probs, 4) == [(1, 0.3), (3, 0.3), (2, 0.2), (0, 0.1)]


def test_report_before_is_the_softmax_and_after_the_filtered_distribution():
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, 3.0])
    rep = step_report(logits, SamplingConfig(temperature=0.7, top_k=3), k=4)
    raw = torch.softmax(logits.double(), -1)
    assert [i for i, _ in rep.before] == [5, 0, 1, 2]
    assert rep.before[0][1] == pytest.approx(float(raw[5]), abs=1e-15)
    assert rep.survivors == 3 and rep.after[3][1] == 0.0 and [i for i, _ in rep.after[:3]] == [5, 0, 1]
    assert math.fsum(p for _, p in rep.after) == pytest.approx(1.0)
    assert rep.entropy_before == pytest.approx(float(-(raw * raw.log()).sum()))
    assert 0 < rep.entropy_after < rep.entropy_before


def test_greedy_report_is_one_hot_and_the_penalty_uses_the_history():
    logits = torch.tensor([1.0, 4.0, 3.9, -2.0])
    rep = step_report(logits, SamplingConfig(temperature=0.0))
    assert rep.after[0] == (1, 1.0) and rep.entropy_after == 0.0 and rep.survivors == 1
    pen = step_report(logits, SamplingConfig(temperature=0.0, repetition_penalty=2.0), torch.tensor([1, 3]))
    assert pen.after[0] == (2, 1.0)  # 4.0 / 2 < 3.9: the seen token loses its lead


def test_report_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        step_report(torch.zeros(2, 4), SamplingConfig())
    with pytest.raises(ValueError, match="k must"):
        step_report(torch.zeros(4), SamplingConfig(), k=0)


def test_kv_panel_bytes_equal_a_real_cache():
    cfg = GPTConfig.preset("tiny", n_kv_heads=1)
    model = GPT(cfg).eval()
    cache = model.make_cache(1, 16, "concat")
    with torch.no_grad():
        model(torch.randint(0, 256, (1, 11)), kv_cache=cache)
    p = kv_panel(cfg.n_layers, cfg.kv_heads, cfg.head_dim, 11, window=4)
    assert p.bytes == cache.nbytes and p.entries_per_layer == 11
    assert (p.window_kept, p.window_evicted) == (4, 7) and p.window_bytes * 11 == p.bytes * 4
    assert kv_panel(2, 2, 8, 3, window=10).window_evicted == 0
    assert kv_panel(2, 2, 8, 3).window_kept == 3


def test_kv_panel_rejects_bad_input():
    with pytest.raises(ValueError, match="length"):
        kv_panel(1, 1, 1, -1)
    with pytest.raises(ValueError, match="window"):
        kv_panel(1, 1, 1, 3, window=0)
