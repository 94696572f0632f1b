"""Tests for llmkb.infer.sampling (logits processors, sampling)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmkb.infer.sampling import (
    LogitsPipeline,
    MinP,
    RepetitionPenalty,
    SamplingConfig,
    Temperature,
    TopK,
    TopP,
    compose,
    entropy,
    entropy_bits,
    filtered_probs,
    sample_next,
    surviving_count,
)

NEG_INF = float("-inf")
PROPS = settings(max_examples=60, deadline=None)

# Logit rows: continuous values, or values from a small set so that ties are frequent.
_cont = st.lists(st.floats(-15.0, 15.0, allow_nan=False, allow_infinity=False), min_size=1, max_size=32)
_tied = st.lists(st.sampled_from([-2.0, 0.0, 0.5, 1.0, 3.0]), min_size=1, max_size=32)
logit_rows = st.one_of(_cont, _tied)


def _row(values: list[float]) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float64)  # (1, V)


def _kept(out: torch.Tensor) -> torch.Tensor:
    return out[0] > NEG_INF  # (V,) bool


# --------------------------------------------------------------------------------------------------
# top-p
# --------------------------------------------------------------------------------------------------


@PROPS
@given(values=logit_rows, p=st.floats(0.01, 1.0))
def test_top_p_keeps_smallest_prefix_reaching_p(values: list[float], p: float) -> None:
    logits = _row(values)
    probs = torch.softmax(logits, dim=-1)[0]
    keep = _kept(TopP(p)(logits))
    kept_p, dropped_p = probs[keep], probs[~keep]
    assert keep.any()
    # the kept set reaches p ...
    assert kept_p.sum().item() >= p - 1e-9
    # ... and no smaller set does: the best set one token smaller drops the least likely kept token
    assert kept_p.sum().item() - kept_p.min().item() < p + 1e-9
    # it is a prefix of the sorted distribution, ties broken towards the lower index
    if dropped_p.numel():
        assert kept_p.min() >= dropped_p.max()
        boundary = kept_p.min()
        kept_idx = torch.nonzero(keep & (probs == boundary)).flatten()
        dropped_idx = torch.nonzero(~keep & (probs == boundary)).flatten()
        if kept_idx.numel() and dropped_idx.numel():
            assert kept_idx.max() < dropped_idx.min()


def test_top_p_hand_example_and_identity() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.4, 0.2, 0.3]], dtype=torch.float64))
    assert _kept(TopP(0.5)(logits)).tolist() == [False, True, False, True]  # 0.4 < 0.5 <= 0.7
    assert _kept(TopP(0.39)(logits)).tolist() == [False, True, False, False]  # 0.4 alone reaches 0.39
    assert _kept(TopP(0.75)(logits)).tolist() == [False, True, True, True]  # 0.7 < 0.75 <= 0.9
    assert _kept(TopP(0.01)(logits)).tolist() == [False, True, False, False]  # always >= 1 token
    assert torch.equal(TopP(1.0)(logits), logits)


def test_top_p_exact_boundary_and_ties_keep_lower_indices() -> None:
    # Powers of two make every probability and prefix sum exact.
    assert _kept(TopP(0.5)(torch.zeros(1, 2))).tolist() == [True, False]  # 0.5 alone reaches 0.5
    assert _kept(TopP(0.5)(torch.zeros(1, 4))).tolist() == [True, True, False, False]
    big = TopP(0.5)(torch.zeros(1, 4096))  # large enough for an unstable sort to scramble ties
    assert torch.equal(_kept(big), torch.arange(4096) < 2048)


def test_top_p_sees_distribution_renormalized_after_top_k() -> None:
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]]))
    alone = filtered_probs(logits, SamplingConfig(top_p=0.5))
    after_k = filtered_probs(logits, SamplingConfig(top_k=2, top_p=0.5))  # renormalized: 4/7, 3/7
    assert int(surviving_count(alone[0])) == 2
    assert int(surviving_count(after_k[0])) == 1


# --------------------------------------------------------------------------------------------------
# top-k
# --------------------------------------------------------------------------------------------------


@PROPS
@given(values=logit_rows, k=st.integers(1, 40))
def test_top_k_keeps_exactly_k_highest_lower_index_on_ties(values: list[float], k: int) -> None:
    logits = _row(values)
    keep = _kept(TopK(k)(logits))
    assert int(keep.sum()) == min(k, len(values))
    row = logits[0]
    if (~keep).any():
        assert row[keep].min() >= row[~keep].max()
        boundary = row[keep].min()
        kept_idx = torch.nonzero(keep & (row == boundary)).flatten()
        dropped_idx = torch.nonzero(~keep & (row == boundary)).flatten()
        if dropped_idx.numel():
            assert kept_idx.max() < dropped_idx.min()


def test_top_k_ties_hand_example() -> None:
    logits = torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert _kept(TopK(2)(logits)).tolist() == [False, True, True, False, False]
    assert _kept(TopK(4)(logits)).tolist() == [False, True, True, True, True]
    assert torch.equal(TopK(99)(logits), logits)


def test_top_k_ties_large_vocabulary() -> None:
    row = torch.randint(0, 3, (5000,), generator=torch.Generator().manual_seed(0)).float()
    expected = sorted(range(5000), key=lambda i: (-row[i].item(), i))[:100]
    kept = torch.nonzero(_kept(TopK(100)(row.unsqueeze(0)))).flatten().tolist()
    assert kept == sorted(expected)


# --------------------------------------------------------------------------------------------------
# temperature and greedy
# --------------------------------------------------------------------------------------------------


@PROPS
@given(values=logit_rows)
def test_temperature_zero_is_argmax_lowest_index(values: list[float]) -> None:
    logits = _row(values).float()
    as32 = logits[0].tolist()  # compare in the dtype actually sampled (float32 may merge close values)
    first_max = as32.index(max(as32))
    assert sample_next(logits, SamplingConfig(temperature=0.0)).tolist() == [first_max]
    onehot = filtered_probs(logits, SamplingConfig(temperature=0.0))[0]
    assert onehot[first_max] == 1.0 and int(surviving_count(onehot)) == 1


@PROPS
@given(values=_cont, gap=st.floats(0.5, 5.0))
def test_temperature_to_zero_concentrates_on_argmax(values: list[float], gap: float) -> None:
    values = [*values, max(values) + gap]  # a unique maximum, at the end
    probs = filtered_probs(_row(values), SamplingConfig(temperature=1e-3))[0]
    assert probs[-1].item() > 1.0 - 1e-6
    assert sample_next(_row(values).float(), SamplingConfig(temperature=1e-3)).item() == len(values) - 1


@PROPS
@given(values=logit_rows, t=st.floats(0.05, 20.0))
def test_temperature_scales_logits(values: list[float], t: float) -> None:
    logits = _row(values)
    expected = torch.softmax(logits / t, dim=-1)
    torch.testing.assert_close(filtered_probs(logits, SamplingConfig(temperature=t)), expected)


@PROPS
@given(values=logit_rows)
def test_temperature_one_without_filters_is_identity(values: list[float]) -> None:
    logits = _row(values)
    cfg = SamplingConfig()
    assert len(cfg.pipeline()) == 0
    torch.testing.assert_close(filtered_probs(logits, cfg), torch.softmax(logits, dim=-1))
    explicit = SamplingConfig(temperature=1.0, top_p=1.0, min_p=0.0, repetition_penalty=1.0)
    torch.testing.assert_close(filtered_probs(logits, explicit), torch.softmax(logits, dim=-1))


def test_greedy_applies_repetition_penalty_first() -> None:
    logits = torch.tensor([[2.0, 1.5, 0.0]])
    history = torch.tensor([[0]])
    assert sample_next(logits, SamplingConfig(temperature=0.0)).item() == 0
    penalized = SamplingConfig(temperature=0.0, repetition_penalty=2.0)
    assert sample_next(logits, penalized, history=history).item() == 1


def test_greedy_does_not_consume_random_numbers() -> None:
    g = torch.Generator().manual_seed(3)
    sample_next(torch.randn(4, 7), SamplingConfig(temperature=0.0), generator=g)
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(3).get_state())


# --------------------------------------------------------------------------------------------------
# min-p
# --------------------------------------------------------------------------------------------------


@PROPS
@given(values=logit_rows, p=st.floats(0.0, 1.0))
def test_min_p_keeps_exactly_tokens_above_threshold(values: list[float], p: float) -> None:
    logits = _row(values)
    probs = torch.softmax(logits, dim=-1)[0]
    keep = _kept(MinP(p)(logits))
    assert keep.tolist() == (probs >= p * probs.max()).tolist()
    assert keep[probs == probs.max()].all()


def test_min_p_ratio_is_invariant_to_top_k() -> None:
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    a = filtered_probs(logits, SamplingConfig(top_k=10, min_p=0.2))
    b = filtered_probs(logits, compose(MinP(0.2), TopK(10)))
    torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------------------------------
# repetition penalty
# --------------------------------------------------------------------------------------------------


@PROPS
@given(
    values=_cont.filter(lambda v: len(v) >= 2),
    r=st.floats(0.1, 10.0),
    data=st.data(),
)
def test_repetition_penalty_touches_only_seen_tokens(
    values: list[float], r: float, data: st.DataObject
) -> None:
    v = len(values)
    hist = data.draw(st.lists(st.integers(-1, v - 1), min_size=0, max_size=12))
    logits = _row(values)
    out = RepetitionPenalty(r)(logits, torch.tensor([hist], dtype=torch.long))[0]
    seen = {i for i in hist if i >= 0}
    for i, x in enumerate(values):
        if i in seen:
            assert out[i].item() == pytest.approx(x / r if x > 0 else x * r)
        else:
            assert out[i].item() == x
    if r > 1:  # seen tokens never gain
        assert (out <= logits[0]).all()


def test_repetition_penalty_none_history_is_identity() -> None:
    logits = torch.randn(2, 9)
    assert torch.equal(RepetitionPenalty(1.7)(logits, None), logits)
    assert torch.equal(RepetitionPenalty(1.7)(logits, torch.empty(2, 0, dtype=torch.long)), logits)


def test_processors_do_not_mutate_input() -> None:
    logits = torch.randn(2, 9)
    before = logits.clone()
    hist = torch.tensor([[1, 2], [3, 3]])
    for proc in [Temperature(0.0), Temperature(0.5), TopK(3), TopP(0.5), MinP(0.3), RepetitionPenalty(2.0)]:
        proc(logits, hist)
    assert torch.equal(logits, before)


# --------------------------------------------------------------------------------------------------
# ground truth: Hugging Face transformers' logits processors
# --------------------------------------------------------------------------------------------------


def test_matches_transformers_processors() -> None:
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(16, 300, generator=g) * 3  # continuous: no ties
    ids = torch.randint(0, 300, (16, 20), generator=g)
    pairs = [
        (RepetitionPenalty(1.3), RepetitionPenaltyLogitsProcessor(1.3)),
        (Temperature(0.7), TemperatureLogitsWarper(0.7)),
        (TopK(17), TopKLogitsWarper(17)),
        (TopP(0.8), TopPLogitsWarper(0.8)),
        (TopP(0.05), TopPLogitsWarper(0.05)),
        (MinP(0.1), MinPLogitsWarper(0.1)),
    ]
    for ours, theirs in pairs:
        mine = ours(logits, ids)
        ref = theirs(ids, logits.clone())
        assert torch.equal(mine == NEG_INF, ref == NEG_INF), ours
        torch.testing.assert_close(torch.softmax(mine, -1), torch.softmax(ref, -1))


# --------------------------------------------------------------------------------------------------
# distributions and sampling
# --------------------------------------------------------------------------------------------------

configs = st.builds(
    SamplingConfig,
    temperature=st.floats(0.0, 5.0),
    top_k=st.none() | st.integers(1, 40),
    top_p=st.none() | st.floats(0.01, 1.0),
    min_p=st.none() | st.floats(0.0, 1.0),
    repetition_penalty=st.floats(0.5, 3.0),
)


@PROPS
@given(values=logit_rows, cfg=configs, data=st.data())
def test_filtered_probs_is_a_distribution(
    values: list[float], cfg: SamplingConfig, data: st.DataObject
) -> None:
    v = len(values)
    hist = torch.tensor([data.draw(st.lists(st.integers(0, v - 1), max_size=5))], dtype=torch.long)
    probs = filtered_probs(_row(values).float(), cfg, history=hist)
    assert (probs >= 0).all()
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert 1 <= int(surviving_count(probs[0])) <= (cfg.top_k or v)
    token = sample_next(_row(values).float(), cfg, history=hist, generator=torch.Generator().manual_seed(0))
    assert probs[0, token.item()] > 0  # only surviving tokens are ever sampled


@PROPS
@given(seed=st.integers(0, 2**32 - 1), cfg=configs)
def test_same_seed_same_sample(seed: int, cfg: SamplingConfig) -> None:
    logits = torch.randn(8, 64, generator=torch.Generator().manual_seed(7))
    hist = torch.randint(0, 64, (8, 5), generator=torch.Generator().manual_seed(8))
    a = sample_next(logits, cfg, history=hist, generator=torch.Generator().manual_seed(seed))
    b = sample_next(logits, cfg, history=hist, generator=torch.Generator().manual_seed(seed))
    assert a.shape == (8,) and a.dtype == torch.long
    assert torch.equal(a, b)


def _chi2_critical(df: int, z: float = 3.29) -> float:
    """Wilson–Hilferty approximation of the chi-square upper quantile (z = 3.29: alpha ~ 5e-4)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


@pytest.mark.parametrize(
    "cfg",
    [
        SamplingConfig(),
        SamplingConfig(temperature=0.8, top_k=7, top_p=0.9),
        SamplingConfig(temperature=1.5, min_p=0.1, repetition_penalty=1.5),
    ],
)
def test_empirical_frequencies_match_filtered_probs(cfg: SamplingConfig) -> None:
    n, v = 60_000, 12
    logits = torch.linspace(2.0, -2.0, v).unsqueeze(0)  # (1, V)
    hist = torch.tensor([[0, 3]])
    probs = filtered_probs(logits, cfg, history=hist)[0].double()  # (V,)
    tokens = sample_next(
        logits.expand(n, v), cfg, history=hist.expand(n, 2), generator=torch.Generator().manual_seed(1234)
    )
    counts = torch.bincount(tokens, minlength=v).double()
    alive = probs > 0
    assert counts[~alive].sum() == 0
    expected = probs[alive] * n
    chi2 = ((counts[alive] - expected) ** 2 / expected).sum().item()
    df = int(alive.sum()) - 1
    assert df >= 1
    assert chi2 < _chi2_critical(df)


def test_sampling_config_pipeline_order() -> None:
    cfg = SamplingConfig(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05, repetition_penalty=1.2)
    kinds = [type(p) for p in cfg.pipeline().processors]
    assert kinds == [RepetitionPenalty, Temperature, TopK, TopP, MinP]
    assert [type(p) for p in SamplingConfig(temperature=0.0, top_k=5).pipeline().processors] == [Temperature]


def test_pipeline_equals_manual_composition() -> None:
    logits = torch.randn(4, 30, generator=torch.Generator().manual_seed(2))
    hist = torch.tensor([[0, 1], [2, 2], [5, -1], [29, 0]])
    cfg = SamplingConfig(temperature=0.6, top_k=12, top_p=0.8, min_p=0.02, repetition_penalty=1.4)
    manual = LogitsPipeline([RepetitionPenalty(1.4), Temperature(0.6), TopK(12), TopP(0.8), MinP(0.02)])
    torch.testing.assert_close(
        filtered_probs(logits, cfg, history=hist), filtered_probs(logits, manual, hist)
    )


def test_shapes_and_dtypes() -> None:
    logits = torch.randn(2, 3, 11)
    probs = filtered_probs(logits, SamplingConfig(top_k=4))
    assert probs.shape == (2, 3, 11)
    assert (surviving_count(probs) == 4).all()
    assert filtered_probs(torch.randn(11), SamplingConfig()).shape == (11,)
    half = sample_next(
        torch.randn(3, 11).half(), SamplingConfig(top_p=0.9), generator=torch.Generator().manual_seed(0)
    )
    assert half.shape == (3,) and half.dtype == torch.long


def test_entropy_helpers() -> None:
    uniform = torch.full((8,), 1 / 8)
    assert entropy(uniform).item() == pytest.approx(math.log(8))
    assert entropy_bits(uniform).item() == pytest.approx(3.0)
    assert entropy(torch.tensor([0.0, 1.0, 0.0])).item() == 0.0
    assert surviving_count(torch.tensor([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])).tolist() == [2, 1]


# --------------------------------------------------------------------------------------------------
# invalid input
# --------------------------------------------------------------------------------------------------

BAD = [
    ("temperature", -0.1),
    ("temperature", float("nan")),
    ("temperature", float("inf")),
    ("top_k", 0),
    ("top_k", -2),
    ("top_k", 2.5),
    ("top_k", True),
    ("top_p", 0.0),
    ("top_p", -0.2),
    ("top_p", 1.01),
    ("top_p", float("nan")),
    ("min_p", -0.01),
    ("min_p", 1.5),
    ("repetition_penalty", 0.0),
    ("repetition_penalty", -1.0),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_invalid_parameters_raise_value_error_naming_them(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be [^\n]*, got {re.escape(repr(value))}$"):
        SamplingConfig(**{name: value})  # validated once, here; one line naming the field
    ctor = {"temperature": Temperature, "top_k": TopK, "top_p": TopP, "min_p": MinP}
    ctor["repetition_penalty"] = RepetitionPenalty
    with pytest.raises(ValueError, match=name):
        ctor[name](value)


def test_invalid_logits_and_history() -> None:
    with pytest.raises(ValueError, match="NaN"):
        sample_next(torch.tensor([[0.0, float("nan")]]), SamplingConfig())
    with pytest.raises(ValueError, match="all -inf"):
        sample_next(torch.full((1, 3), NEG_INF), SamplingConfig())
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        sample_next(torch.zeros(4), SamplingConfig())
    penalty = SamplingConfig(repetition_penalty=1.2)
    with pytest.raises(ValueError, match="history"):
        sample_next(torch.zeros(2, 4), penalty, history=torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="history"):
        sample_next(torch.zeros(1, 4), penalty, history=torch.tensor([[4]]))
