"""The inference-stacks lab: its analysis, its prose, and its experiments on a fake shared model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from labkit import assert_figures_draw

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.inference_stacks import analysis as A
from llmkb.lab.topics.inference_stacks import experiments as E
from llmkb.lab.topics.inference_stacks import names as N
from llmkb.lab.topics.inference_stacks import text as T
from llmkb.nn import GPT, GPTConfig


@pytest.fixture
def shared(tmp_path) -> Result:
    """A `shared-model/train` result holding an untrained model of the shared shape (no training in tests)."""
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "shared" / "model")
    return Result(SHARED_MODEL, "quick", "fake", tmp_path / "shared", {}, ran=False)


def _ctx(tmp_path, name: str, shared: Result) -> RunContext:
    return RunContext(name, "quick", tmp_path / "out", False, {SHARED_MODEL: shared})


def test_latency_stats_from_stamps():
    s = A.latency_stats([0.2, 0.25, 0.3, 0.5], batch=4, prompt_len=10)
    assert s["ttft_ms"] == pytest.approx(200) and s["prefill_tok_s"] == pytest.approx(200)
    assert s["decode_tok_s"] == pytest.approx(4 * 3 / 0.3)
    assert s["p50_ms"] == pytest.approx(50) and 50 < s["p95_ms"] <= 200
    for bad in ([0.1], [0.2, 0.1], [0.0, 0.1]):
        with pytest.raises(ValueError):
            A.latency_stats(bad, 1, 1)
    assert A.median_stats([{"a": 1.0}, {"a": 3.0}, {"a": 2.0}]) == {"a": 2.0}


def test_perplexity_equals_exp_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(3, 7, 11, generator=g), torch.randint(0, 11, (3, 7), generator=g)
    want = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1)).exp().item()
    assert A.perplexity(logits.numpy(), y.numpy()) == pytest.approx(want, rel=1e-6)


def test_ratios_and_agreement():
    rows = [{"runtime": r, "batch": 1, "prompt_len": 4, "v": v} for r, v in (("eager", 2.0), ("x", 6.0))]
    assert A.ratios_to(rows, "eager", "v") == {(1, 4, "eager"): 1.0, (1, 4, "x"): 3.0}
    assert A.token_agreement(np.array([[1, 2, 3, 4]]), np.array([[1, 2, 0, 4]])) == 0.75
    with pytest.raises(ValueError):
        A.token_agreement(np.zeros((1, 2)), np.zeros((1, 3)))


def test_prose_follows_the_numbers():
    rows = [{"runtime": "eager", "same_tokens": 1.0}, {"runtime": "onnxruntime", "same_tokens": 0.5}]
    assert "ONNX Runtime (CPU) (50 % at worst)" in T.tokens_verdict(rows, "eager", N.RUNTIMES)
    par = [{"runtime and format": "PyTorch fp32", "max |Δ logit|": 0.0},
           {"runtime and format": "ONNX Runtime fp32", "max |Δ logit|": 1e-5},
           {"runtime and format": "PyTorch fp16", "max |Δ logit|": 0.01}]  # fmt: skip
    assert T.parity_verdict(par) == (
        "the fp32 ports stay within 1.0e-05 of PyTorch, while PyTorch fp16 moves a logit by up to 0.01, about 1,000× more"
    )


def test_bench_experiment_small(tmp_path, shared):
    cfg = {**get_experiment(N.BENCH).config("quick"), "batches": [1, 2], "prompts": [4], "new_tokens": 3}
    data = E.bench(cfg, _ctx(tmp_path, N.BENCH, shared))
    rows = data["rows"]
    assert {r["runtime"] for r in rows} == set(cfg["runtimes"]) and len(rows) == 2 * len(cfg["runtimes"])
    assert all(r["same_tokens"] == 1.0 for r in rows)  # fp32 ports of a random model: same greedy tokens
    for r in rows:
        assert r["kv_bytes"] == r["kv_formula"]  # measured cache bytes = 2 L H_kv D T B 4
        assert (r["runtime"] == "eager") == (r["decode_x"] == 1.0 and r["kv_bytes"] == 0)
    assert data["weights_formula"] == rows[0]["weight_bytes"]
    assert len(table_rows(data["table"])) == len(rows) and "fastest decoder" in data["summary"]
    assert_figures_draw(N.BENCH, Result(N.BENCH, "quick", "t", tmp_path, data, ran=True))


def test_parity_experiment_small(tmp_path, shared):
    data = E.parity({"windows": 2, "length": 16, "transformers": False}, _ctx(tmp_path, N.PARITY, shared))
    by = {r["runtime and format"]: r for r in data["rows"]}
    assert by["PyTorch fp32"]["max |Δ logit|"] == 0.0 and by["ONNX Runtime fp32"]["max |Δ logit|"] < 1e-4
    assert by["PyTorch bf16"]["max |Δ logit|"] > by["ONNX Runtime fp32"]["max |Δ logit|"]
    assert data["tokens"] == 32 and "fp32 ports stay within" in data["verdict"]
    assert_figures_draw(N.PARITY, Result(N.PARITY, "quick", "t", tmp_path, data, ran=True))
