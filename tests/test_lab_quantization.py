"""The quantization lab (llmkb/lab/topics/quantization/): its analysis, its prose, its experiments on tiny configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.quantization import analysis as A
from llmkb.lab.topics.quantization import experiments_errors as EE
from llmkb.lab.topics.quantization import experiments_qat as EQ
from llmkb.lab.topics.quantization import experiments_sizes as ES
from llmkb.lab.topics.quantization import names as N
from llmkb.lab.topics.quantization import text as X
from llmkb.nn import GPT, GPTConfig
from llmkb.quant import QuantSpec


def _ctx(tmp_path, name: str, needed: dict | None = None) -> RunContext:
    return RunContext(name, "quick", tmp_path / "out", False, needed or {})


def _draw(name: str, data: dict, tmp_path) -> None:
    import matplotlib.pyplot as plt

    res = Result(name, "quick", "test", tmp_path, data, ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        plt.close(f.fn(res))


def test_parse_spec():
    assert A.parse_spec("int8-channel") == QuantSpec(8, True, "channel")
    assert A.parse_spec("uint4-g32") == QuantSpec(4, False, "group", 32)
    assert A.parse_spec("int3-tensor") == QuantSpec(3, True, "tensor")
    assert A.parse_spec("int4-g128").label == "int4 g128"


def test_pareto_frontier():
    assert A.pareto([1, 2, 3], [3, 1, 2]) == [0, 1]
    assert A.pareto([3, 1, 2, 2], [1, 3, 2, 2.5]) == [1, 2, 0]  # sorted by size; (2, 2.5) is dominated
    assert A.pareto([1, 1], [2, 2]) == [0, 1]  # ties dominate nobody


def test_outlier_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, generator=g)
    assert abs(A.kurtosis(x)) < 0.15
    heavy = x.clone()
    heavy[:20] *= 40
    assert A.kurtosis(heavy) > 10 and A.outlier_ratio(heavy) > 3 * A.outlier_ratio(x)
    assert A.outlier_ratio(torch.ones(5)) == 1.0
    assert (
        A.layer_kind("blocks.2.attn.q_proj.weight") == "q_proj"
        and A.layer_kind("blocks.0.ffn.down.weight") == "down"
    )


def test_error_histograms_share_bins():
    rng = np.random.default_rng(0)
    h = A.error_histograms({"a": rng.normal(0, 1, 1000), "b": rng.normal(0, 0.1, 1000)}, bins=10)
    assert len(h["edges"]) == 11 and len(h["a"]) == len(h["b"]) == 10
    assert 0.99 <= sum(h["a"]) <= 1.0 and 0.99 <= sum(h["b"]) <= 1.0
    centre = np.sqrt(np.array(h["edges"][:-1]) * np.array(h["edges"][1:]))
    assert np.dot(centre, h["a"]) > 5 * np.dot(centre, h["b"])  # the wider error sits in higher bins


def test_prose_follows_the_numbers():
    assert X.frontier_phrase(["a", "b", "c"], [0, 2]) == "a and c are on the frontier"
    assert X.frontier_phrase(["a", "b"], [1]) == "b is on the frontier"
    s = X.gguf_phrase({"Q8_0": 0.0001, "Q4_0": 0.05}, N.LLAMA_CPP)
    assert (
        s.startswith("Q8_0 changes our model's perplexity per byte by +0.0001, no measurable cost")
        and "free" in s
    )
    assert "no measurable cost" in X.gguf_phrase({"Q8_0": -0.002, "Q4_0": 0.05}, N.LLAMA_CPP)
    assert "no measurable cost" in X.gguf_phrase({"Q8_0": 0.001, "Q4_0": 0.05}, N.LLAMA_CPP, noise=0.0015)
    s = X.gguf_phrase({"Q8_0": 0.002, "Q4_0": 0.05}, N.LLAMA_CPP)
    assert s.endswith("Q4_0's cost is 25× Q8_0's here and 541× there")
    assert "did not cost more" in X.gguf_phrase({"Q8_0": 0.01, "Q4_0": -0.01}, N.LLAMA_CPP)
    assert X.cliff_phrase(0.02, 0.1) == "going from 4 to 3 bits multiplies the perplexity increase by 5.0"
    assert X.awq_phrase(0.1, 0.06, "int3 g128") == "AWQ removes 40% of the int3 g128 perplexity increase"
    assert X.awq_phrase(0.1, 0.13, "x").startswith("AWQ adds 30%")
    assert X.awq_phrase(0.1, 0.1, "x") == "AWQ leaves the x perplexity increase about where it was"
    assert X.awq_phrase(0.1, 0.05, "x", "GPTQ") == "GPTQ removes 50% of the x perplexity increase"
    assert X.gptq_phrase(0.1, 0.05, "x", 0.01, 0.005) == "GPTQ removes 50% of the x perplexity increase"
    assert X.gptq_phrase(0.1, 0.05, "x", 0.01, 0.02).endswith("larger (2.0% against 1.0%): it minimises the error "
                                                             "of each layer's output, not of its weights")  # fmt: skip
    assert X.group_phrase([32, 128], [0.01, 0.03], [0.001, 0.004]) == (
        "from groups of 128 to groups of 32 the relative weight error of int4 falls from 0.40% to 0.10%, "
        "while the perplexity increase falls (+0.030 to +0.010)"
    )
    s = X.group_phrase([32, 128], [0.03, 0.01], [0.001, 0.004])
    assert "increase does not fall" in s and s.endswith("the cleaner measure of the quantizer")
    rows = [{"layer": "0.attn.q_proj", "kind": "q_proj", "delta": 0.01},
            {"layer": "0.ffn.down", "kind": "down", "delta": 0.05},
            {"layer": "1.ffn.down", "kind": "down", "delta": 0.03}]  # fmt: skip
    s = X.sensitivity_phrase(rows)
    assert (
        s.startswith("the most sensitive single layer is 0.ffn.down (+0.050)")
        and "down layers cost most" in s
    )
    stats = {"mean": 0.02, "sd": 0.01, "min": 0.01, "max": 0.03, "n": 3}
    s = X.qat_phrase("uint2 g32", 0.3, stats, -0.01, 30)
    assert "(93% recovered)" in s and "QAT beats post-training quantization in all 3 seeds" in s
    assert s.endswith("moves the float model by -0.010, so the recovery is not the extra training")
    assert not X.qat_phrase("uint2 g32", 0.3, stats, -0.2, 30).endswith("extra training")
    assert "does not beat" in X.qat_phrase("x", 0.025, stats, 0.0, 30)
    assert "nothing to recover" in X.qat_phrase("x", -0.01, stats, 0.0, 30)


def test_experiments_registered_with_both_profiles():
    figs = {N.SIZES: {"pareto"}, N.ERRORS: {"sensitivity", "histogram", "activations"}, N.QAT: {"recovery"}}
    for name, expected in figs.items():
        exp = get_experiment(name)
        assert set(exp.profiles) == {"quick", "full"} and SHARED_MODEL in exp.needs
        assert {f.name for f in figures_of(name)} == expected
    assert N.QAT in get_experiment(N.SIZES).needs
    full = get_experiment(N.SIZES).config("full")
    groups = {A.parse_spec(s).group_size for s in full["rtn"] if A.parse_spec(s).granularity == "group"}
    assert {32, 64, 128} <= groups and "int8-channel" in full["rtn"] and full["awq"] and full["gptq"]
    q = get_experiment(N.QAT).config("full")
    assert len(q["seeds"]) >= 3 and (q["n_windows"], q["eval_len"]) == (full["n_windows"], full["seq_len"])
    assert get_experiment(N.QAT).config("quick")["specs"] == q["specs"]  # the page quotes each spec's text
    quick = (get_experiment(N.QAT).config("quick"), get_experiment(N.SIZES).config("quick"))
    assert (quick[0]["n_windows"], quick[0]["eval_len"]) == (quick[1]["n_windows"], quick[1]["seq_len"])


@pytest.fixture
def shared(tmp_path):
    """A `shared-model/train` result holding an untrained model of the shared shape (no training in tests)."""
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "shared" / "model")
    return Result(SHARED_MODEL, "quick", "fake", tmp_path / "shared", {}, ran=False)


TINY_QAT = {"specs": ["uint2-g32"], "seeds": [0, 1, 2], "steps": 2, "every": 1, "batch_size": 1, "seq_len": 16,
            "lr": 1e-3, "n_windows": 2, "eval_len": 16}  # fmt: skip
TINY_SIZES = {"n_windows": 2, "seq_len": 16, "calib_windows": 1, "grid": 2, "groups": [32, 128],
              "rtn": ["int4-g32", "int4-g128", "int3-g128"], "awq": ["int3-g128"], "gptq": ["int3-g128"]}  # fmt: skip


def test_qat_and_sizes_experiments_on_tiny_configs(tmp_path, shared):
    qat = EQ.qat(TINY_QAT, _ctx(tmp_path / "q", N.QAT, {SHARED_MODEL: shared}))
    run = qat["runs"]["uint2 g32"]
    assert run["steps"] == [0, 1, 2] and len(run["curves"]) == 3 and run["final"]["n"] == 3
    assert all(c[0] == pytest.approx(run["ptq"]) for c in run["curves"])  # every seed starts at PTQ
    assert qat["points"][0]["name"] == "QAT uint2 g32"
    assert qat["points"][0]["loss"] == pytest.approx(math.log(qat["base_ppl"] + run["final"]["mean"]))
    _draw(N.QAT, qat, tmp_path)
    qres = Result(N.QAT, "quick", "test", tmp_path / "qr", qat, ran=True)
    ctx = _ctx(tmp_path / "s", N.SIZES, {SHARED_MODEL: shared, N.QAT: qres})
    data = ES.sizes(TINY_SIZES, ctx)
    names = [p["name"] for p in data["points"]]
    assert names[:3] == ["FP32", "FP16", "BF16"] and "int3 g128 AWQ" in names and "QAT uint2 g32" in names
    assert names[-3:] == ["GGUF F16", "GGUF Q8_0", "GGUF Q4_0"] and data["gguf_gap"] <= 1e-3
    by = {p["name"]: p for p in data["points"]}
    assert by["FP32"]["bytes"] == 2 * by["FP16"]["bytes"] == 4 * data["n_params"]
    assert (
        by["int4 g128"]["bytes"]
        < by["int4 g32"]["bytes"]
        < by["GGUF Q4_0"]["bytes"]
        < by["GGUF Q8_0"]["bytes"]
    )
    assert by["GGUF Q8_0"]["bytes"] == (ctx.out_dir / "shared-q8_0.gguf").stat().st_size
    assert data["frontier"] == A.pareto(
        [p["bytes"] for p in data["points"]], [p["ppl"] for p in data["points"]]
    )
    rows = table_rows(data["table"])
    assert rows[0]["variant"] == "FP32" and rows[0]["change"] == "0" and rows[0]["bits per weight"] == "32.00"
    assert set(data["text"]) == {"frontier", "gguf", "cliff", "awq", "gptq", "groups"}
    assert by["int3 g128 GPTQ"]["bytes"] == by["int3 g128"]["bytes"] and data["text"]["gptq"].startswith(
        "GPTQ "
    )
    assert (
        by["int4 g32"]["weight_error"] < by["int4 g128"]["weight_error"] and by["FP32"]["weight_error"] == 0
    )
    assert by["QAT uint2 g32"]["weight_error"] is None and rows[0]["weight error"] == "0%"
    _draw(N.SIZES, data, tmp_path)
    wrong = Result(N.QAT, "quick", "test", tmp_path / "w", {**qat, "base_ppl": qat["base_ppl"] + 1}, ran=True)
    with pytest.raises(AssertionError, match="same windows"):
        ES.sizes(TINY_SIZES, _ctx(tmp_path / "w2", N.SIZES, {SHARED_MODEL: shared, N.QAT: wrong}))


def test_errors_experiment_on_a_tiny_config(tmp_path, shared):
    cfg = {"n_windows": 2, "seq_len": 16, "harsh": "int2-channel", "compare": ["int4-tensor", "int4-g32"]}
    data = EE.errors(cfg, _ctx(tmp_path, N.ERRORS, {SHARED_MODEL: shared}))
    assert len(data["rows"]) == 4 * 7 and data["harsh"] == "int2 channel"
    assert data["mse"]["int4-g32"] < data["mse"]["int4-tensor"]
    assert len(data["activation"]["profile"]) in (128, 344)
    assert set(data["hist"]) == {"layer", "edges", "int4-tensor", "int4-g32"}
    with pytest.raises(AssertionError, match="must err less"):
        EE.errors(
            {**cfg, "compare": ["int4-g32", "int4-tensor"]},
            _ctx(tmp_path / "x", N.ERRORS, {SHARED_MODEL: shared}),
        )
    _draw(N.ERRORS, data, tmp_path)
