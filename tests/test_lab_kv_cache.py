"""The KV-cache lab (llmkb/lab/topics/kv_cache/) on tiny configs, and `llmkb bench kv-cache`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from llmkb.bench import kv_cache as bench
from llmkb.cli import main
from llmkb.infer.kvtrace import decode_cost, decode_trace
from llmkb.lab.cache import Result
from llmkb.lab.kit import memory, table_rows
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.kv_cache import analysis as A
from llmkb.lab.topics.kv_cache import analysis_memory as M
from llmkb.lab.topics.kv_cache import experiments as E
from llmkb.lab.topics.kv_cache import experiments_memory as EM
from llmkb.lab.topics.kv_cache import experiments_traces as ET
from llmkb.lab.topics.kv_cache import names as N
from llmkb.lab.topics.kv_cache import text as X
from llmkb.nn import GPT, GPTConfig, KVCache, count_parameters


def _ctx(tmp_path, name: str, needed: dict | None = None) -> RunContext:
    return RunContext(name, "quick", tmp_path / "out", False, needed or {})


def _figures_draw(name: str, data: dict, tmp_path) -> None:
    import matplotlib.pyplot as plt

    res = Result(name, "quick", "test", tmp_path, data, ran=True)
    figs = figures_of(name)
    assert figs
    for f in figs:
        plt.close(f.fn(res))


# ------------------------------------------------------------------ bench


def test_time_generate_steps_covers_every_length_and_returns_the_tokens():
    model = bench.bench_model(16)
    idx = torch.tensor([[1, 2, 3]])
    outs = []
    for mode in (m for m in bench.MODES if m != "compiled"):  # compiled: tests/test_compiled.py, tiny model
        stamps, tokens = bench.time_generate_steps(model, idx, 5, mode)
        assert stamps.shape == (5,) and (np.diff(stamps) >= 0).all() and stamps[0] > 0
        assert tokens.shape == (1, 8) and torch.equal(tokens[:, :3], idx)
        outs.append(tokens)
    assert all(torch.equal(outs[0], t) for t in outs[1:])  # greedy: every mode generates the same ids
    with pytest.raises(ValueError, match="mode"):
        bench.time_generate(model, idx, 2, "paged")


def test_measure_speedup_rows_and_theory():
    model = bench.bench_model(12)
    seen = []
    rows = bench.measure_speedup(
        model, 4, [2, 6], {2: 2, 6: 1}, ("no-cache", "static", "concat"), on_measure=lambda *a: seen.append(a)
    )
    assert [r["new_tokens"] for r in rows] == [2, 6] and [r["repeats"] for r in rows] == [2, 1]
    assert len(seen) == 3 * (2 + 1)
    for r in rows:
        assert set(r["speedup"]) == {"static", "concat"} and all(v > 0 for v in r["speedup"].values())
        n = r["new_tokens"]
        want = decode_cost(model.config, 4, n, use_cache=False)["token_forwards"] / (4 + n - 1)
        assert r["forward_ratio"] == pytest.approx(want)
    assert "x static" in bench.format_table(rows)
    with pytest.raises(ValueError, match="no-cache"):
        bench.measure_speedup(model, 4, [2], 1, ("static",))


def test_bench_cli_prints_ratios(capsys):
    assert (
        main(
            ["bench", "kv-cache", "--new-tokens", "3", "--prompt-len", "2", "--repeats", "1", "--no-compiled"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "x static" in out and "site-shaped model" in out


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["--new-tokens", "0"], "--new-tokens"),
        (["--prompt-len", "0"], "--prompt-len"),
        (["--repeats", "0"], "--repeats"),
        (["--new-tokens", "9000"], "<= 8192"),
    ],
)
def test_bench_cli_rejects_bad_input(argv, msg, capsys):
    assert main(["bench", "kv-cache", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmkb: error:") and msg in err


# ------------------------------------------------------------------ analysis: the cost model


def test_experiments_are_registered_with_both_profiles():
    for name in (N.SPEEDUP, N.HITMISS, N.MEMORY):
        exp = get_experiment(name)
        assert exp.topic == "kv-cache" and set(exp.profiles) == {"quick", "full"}
        assert exp.module.startswith("llmkb.lab.topics.kv_cache.")
    assert get_experiment(N.HITMISS).needs == (SHARED_MODEL,)
    full = get_experiment(N.SPEEDUP).config("full")
    assert (
        max(full["lengths"]) == 1024 and full["headline"] in full["lengths"] and max(full["rounds"]) >= 1024
    )


def test_call_features_count_the_work_of_decode_cost():
    cfg = GPTConfig.preset("shared")
    for use_cache in (False, True):
        f = A.call_features(5, 7, use_cache)
        cost = decode_cost(cfg, 5, 7, use_cache=use_cache)
        assert f.shape == (7, 3) and f[:, 0].sum() == 7
        assert f[:, 1].sum() == cost["token_forwards"] and f[:, 2].sum() == cost["attention_pairs"]


def test_fit_call_cost_recovers_known_coefficients():
    coef = np.array([2e-3, 5e-5, 1e-7])
    lat = {"no-cache": A.call_features(4, 30, False) @ coef, "static": A.call_features(4, 30, True) @ coef}
    np.testing.assert_allclose(A.fit_call_cost(4, lat), coef, rtol=1e-6)
    assert A.predicted_seconds(coef, 4, 30, True) == pytest.approx(lat["static"].sum())
    assert A.predicted_ratio(coef, 4, 30) == pytest.approx(lat["no-cache"].sum() / lat["static"].sum())


def test_the_speed_up_grows_with_length_prompt_and_width_and_without_overhead():
    coef = np.array([3.9e-3, 3.6e-5, 6.1e-8])  # the order of magnitude measured on two CPU cores
    cfg = GPTConfig.preset("shared", max_seq_len=1040)
    rows = A.prediction_rows(coef, cfg, 16, 512, {"longer": 4, "prompt": 16, "wider": 4})
    by = {r["key"]: r for r in rows}
    assert list(by) == ["measured", "longer", "prompt", "wider", "no_overhead"]
    base = by["measured"]["predicted speed-up"]
    assert base == pytest.approx(A.predicted_ratio(coef, 16, 512), abs=0.01)
    assert all(by[k]["predicted speed-up"] > base for k in ("longer", "prompt", "wider", "no_overhead"))
    assert (by["longer"]["new tokens"], by["prompt"]["prompt"]) == (2048, 256)
    assert by["wider"]["c0 ms"] == by["measured"]["c0 ms"] and by["no_overhead"]["c0 ms"] == 0
    assert "d = 512" in by["wider"]["scenario"]


def test_scale_coef_scales_each_cost_with_its_work():
    base = GPTConfig.preset("shared")
    coef = np.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(A.scale_coef(coef, base, base), coef)
    deep = dataclasses.replace(base, n_layers=8)
    scaled = A.scale_coef(coef, base, deep)
    assert scaled[0] == 2.0 and scaled[2] == 2.0  # per-call and per-pair work double with the layers

    def per_token(c: GPTConfig) -> int:  # FLOPs through the blocks and the LM head
        return 2 * count_parameters(c, exclude_embeddings=True) + 2 * c.vocab_size * c.d_model

    assert scaled[1] == pytest.approx(per_token(deep) / per_token(base)) and 1.5 < scaled[1] < 2


def test_latency_slope_ignores_the_prefill():
    lat = np.concatenate([[50.0], 2.0 + 0.25 * np.arange(9)])
    assert A.latency_slope(lat) == pytest.approx(0.25)
    assert A.latency_slope(np.array([3.0, 1.0])) == 0.0


def test_checks_fail_loudly():
    a = torch.tensor([[1, 2, 3, 4]])
    assert A.check_same_tokens("x", a, a.clone()) == 4
    with pytest.raises(AssertionError, match="x: cached and uncached generations differ from token 2"):
        A.check_same_tokens("x", a, torch.tensor([[1, 2, 9, 4]]))
    with pytest.raises(AssertionError, match="different lengths"):
        A.check_same_tokens("x", a, a[:, :3])
    t = decode_trace(3, 4)
    assert A.check_same_trace("t", t, decode_trace(3, 4)) == t.grid.size
    for other in (decode_trace(3, 4, window=2), decode_trace(3, 5)):
        with pytest.raises(AssertionError, match="t: trace recorded"):
            A.check_same_trace("t", t, other)


# ------------------------------------------------------------------ experiments


_SMALL_SPEEDUP = {
    "prompt_len": 3,
    "lengths": [2, 4],
    "rounds": [4, 2],
    "modes": ["no-cache", "static"],
    "headline": 4,
    "predict": {"longer": 2, "prompt": 2, "wider": 2},
}


def test_speedup_experiment_small(tmp_path):
    data = E.speedup(_SMALL_SPEEDUP, _ctx(tmp_path, N.SPEEDUP))
    assert [row["samples"] for row in table_rows(data["table"])] == [2, 1]
    assert data["headline"]["new_tokens"] == 4 and data["checked_tokens"] == 7 + 5
    assert all(
        isinstance(c, str) for r in data["predictions"]["rows"] for c in r[3:6]
    )  # c0..c2 as plain text
    assert data["speedup"]["static"].shape == (2,) and (data["speedup"]["static"] > 0).all()
    assert (data["no_overhead_ratio"] >= data["predicted_ratio"] - 1e-9).all()
    assert data["latency_ms"]["no-cache"].shape == (4,) and data["model"]["max_seq_len"] >= 3 + 4
    assert "goal" not in str(data) and "fit predicts" in data["headline"]["fit_reading"]
    assert [r[0] for r in data["predictions"]["rows"]][0] == "as measured"
    for bad in ({"rounds": [3]}, {"headline": 3}, {"modes": ["static", "no-cache"]}):
        with pytest.raises(ValueError):
            E.speedup({**_SMALL_SPEEDUP, **bad}, _ctx(tmp_path, N.SPEEDUP))
    _figures_draw(N.SPEEDUP, data, tmp_path)


def test_speedup_experiment_fails_when_the_cache_changes_the_tokens(tmp_path, monkeypatch):
    real = E.time_generate_steps

    def corrupting(model, idx, n, mode):
        stamps, tokens = real(model, idx, n, mode)
        if mode == "static":
            tokens = tokens.clone()
            tokens[0, -1] = (tokens[0, -1] + 1) % model.config.vocab_size
        return stamps, tokens

    monkeypatch.setattr(E, "time_generate_steps", corrupting)
    with pytest.raises(AssertionError, match="round 0, static cache: cached and uncached generations differ"):
        E.speedup(_SMALL_SPEEDUP, _ctx(tmp_path, N.SPEEDUP))


@pytest.fixture
def fake_shared_result(tmp_path):
    """A `shared-model/train` result holding an untrained model of the shared shape (no training in tests)."""
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "shared" / "model")
    return Result(SHARED_MODEL, "quick", "fake", tmp_path / "shared", {}, ran=False)


def _hitmiss_cfg() -> dict:
    return {**get_experiment(N.HITMISS).config("quick"), "new_tokens": 6, "block_sizes": [1, 8]}


def test_visible_share_counts_what_is_not_whitespace():
    assert A.visible_share(list(b"abc")) == 1.0 and A.visible_share(list(b" \t\n\r\x0b\x0c")) == 0.0
    assert A.visible_share(torch.tensor([[ord("a"), ord(" ")]])) == 0.5 and A.visible_share([]) == 0.0
    assert A.visible_share([0xE2, 0x00]) == 1.0  # a byte that is not whitespace shows as a glyph (xNN)


def _contrast(a: str, b: str) -> float:
    from matplotlib.colors import to_rgb

    def lum(c: str) -> float:
        v = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in to_rgb(c)]
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_state_palette_follows_the_figure_themes_and_keeps_hits_readable():
    from llmkb.lab.kit.style import THEMES

    light, dark = A.state_palette("light"), A.state_palette("dark")
    assert len(light) == len(dark) == 4 and light != dark
    for theme, pal in (("light", light), ("dark", dark)):
        cycle = THEMES[theme]["axes.prop_cycle"].by_key()["color"]
        assert pal[1:3] == cycle[:2]  # hit, miss: the theme's blue and orange, as in the figures
        paper = THEMES[theme]["axes.facecolor"]
        assert _contrast(pal[1], paper) >= 3 and _contrast(pal[2], paper) >= 3, (theme, pal)
        assert _contrast(pal[0], paper) < 1.3  # empty is a faint tint of the paper
    with pytest.raises(ValueError, match="unknown theme"):
        A.state_palette("sepia")


def test_hitmiss_experiment_on_a_shared_shaped_model(tmp_path, fake_shared_result):
    cfg = _hitmiss_cfg()
    data = ET.hitmiss(cfg, _ctx(tmp_path, N.HITMISS, {SHARED_MODEL: fake_shared_result}))
    assert data["prompt"] == cfg["prompts"][0] == N.DEMO_PROMPTS[0]  # the first candidate that shows text
    prompt = len(data["prompt"])
    assert data["checked"] == {"tokens": 2 * (prompt + 6), "trace_cells": 2 * 6 * (prompt + 5)}
    assert data["prefix_check"]["reused"] > 0 and data["prefix_check"]["max_abs_diff"] < 1e-4
    rates = data["hit_rate"]
    assert rates["no-cache"] == 0.0 and rates["window"] < rates["cache"] and 0 < rates["prefix"] < 1
    modes = data["widget"]["modes"]
    assert [m["name"] for m in modes] == list(N.TRACE_ORDER)
    assert modes[1]["chars"][0][:4] == ["T", "h", "e", "␣"]  # the kit's glyphs: space is ␣
    for mode in modes[1:3]:  # the recorded demo's continuation (what the axis shows) is mostly visible text
        shown = mode["chars"][0][prompt:]
        assert len(shown) == 5 and sum(c not in "␣⏎⇥" for c in shown) >= N.MIN_VISIBLE * len(shown)
    assert data["decoding"] == f"sampled at temperature 0.8, seed 0, after the prompt “{data['prompt']}”"
    widget = data["widget"]
    assert (widget["colors"], widget["colors_dark"]) == (A.state_palette("light"), A.state_palette("dark"))
    assert len(widget["colors"]) == len(widget["states"])
    by_size = {r["block size"]: r["hit rate"] for r in table_rows(data["workload"])}
    assert by_size[1] >= by_size[8] > 0 and data["workload_verdict"].startswith("the hit rate falls")
    _figures_draw(N.HITMISS, data, tmp_path)


def test_hitmiss_experiment_fails_when_the_cache_changes_the_tokens(
    tmp_path, fake_shared_result, monkeypatch
):
    real = ET.traced_sample

    def corrupting(model, idx, n, sampling, seed):
        tokens, trace = real(model, idx, n, sampling, seed)
        tokens = tokens.clone()
        tokens[0, -1] = (tokens[0, -1] + 1) % 256
        return tokens, trace

    monkeypatch.setattr(ET, "traced_sample", corrupting)
    with pytest.raises(AssertionError, match="cache: cached and uncached generations differ"):
        ET.hitmiss(_hitmiss_cfg(), _ctx(tmp_path, N.HITMISS, {SHARED_MODEL: fake_shared_result}))


def test_hitmiss_experiment_fails_when_every_demo_continuation_is_whitespace(
    tmp_path, fake_shared_result, monkeypatch
):
    real = ET.traced_sample

    def spaces(model, idx, n, sampling, seed):
        tokens, trace = real(model, idx, n, sampling, seed)
        tokens = tokens.clone()
        tokens[0, idx.shape[1] :] = ord(" ")
        return tokens, trace

    monkeypatch.setattr(ET, "traced_sample", spaces)
    with pytest.raises(
        AssertionError, match=r"every demo continuation is mostly whitespace \(visible shares"
    ):
        ET.hitmiss(_hitmiss_cfg(), _ctx(tmp_path, N.HITMISS, {SHARED_MODEL: fake_shared_result}))


def test_traced_sample_is_generate_with_the_same_seed(fake_shared_result):
    from llmkb.infer.sampling import SamplingConfig
    from llmkb.lab.shared_model import load_shared_model

    model, _ = load_shared_model(fake_shared_result)
    idx = torch.tensor([[5, 6, 7]])
    cfg = SamplingConfig(temperature=0.8)
    tokens, trace = ET.traced_sample(model, idx, 5, cfg, 3)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(tokens, model.generate(idx, 5, cfg, use_cache=False, generator=gen))
    assert torch.equal(tokens, ET.traced_sample(model, idx, 5, cfg, 3)[0])  # seeded: reproducible
    assert not torch.equal(tokens, ET.traced_sample(model, idx, 5, cfg, 4)[0])  # and the seed matters
    assert np.array_equal(trace.grid, decode_trace(3, 5).grid)


# ------------------------------------------------------------------ memory


def test_kv_bytes_formula_matches_the_cache_storage():
    for heads in (4, 2, 1):
        cfg = dataclasses.replace(GPTConfig.preset("shared"), n_kv_heads=heads)
        for dtype, size in ((torch.float32, 4), (torch.bfloat16, 2)):
            cache = KVCache(cfg, 2, 37, dtype=dtype)
            storage = sum(t.untyped_storage().nbytes() for t in (*cache.k, *cache.v))
            closed = 2 * cfg.n_layers * heads * cfg.head_dim * 37 * 2 * size
            assert cache.nbytes == storage == memory.kv_bytes(cfg, 37, dtype, batch_size=2) == closed


def test_weights_overtaking_batch_and_decode_intensity():
    cfg = GPTConfig.preset("shared")
    assert memory.weight_bytes(cfg, torch.bfloat16) == 2 * GPT(cfg).num_parameters()
    for t in (16, 256, 1000):
        b = M.overtaking_batch(cfg, t, torch.bfloat16)
        weights, one = memory.weight_bytes(cfg, torch.bfloat16), memory.kv_bytes(cfg, t, torch.bfloat16)
        assert (b - 1) * one <= weights < b * one
    one = M.decode_flop_per_byte(cfg, 256, torch.bfloat16, 1)
    many = M.decode_flop_per_byte(cfg, 256, torch.bfloat16, 64)
    limit = M.decode_flop_per_byte(cfg, 256, torch.bfloat16, None)
    assert one < many < limit
    flops = decode_cost(cfg, 256, 2)["flops"] - decode_cost(cfg, 256, 1)["flops"]  # one decode step at T=257
    assert limit == pytest.approx(flops / memory.kv_bytes(cfg, 257, torch.bfloat16), rel=0.01)


def test_public_configs_match_hugging_face_parameter_counts():
    from hfkit import llama_config
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaForCausalLM

    def hf_count(model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())  # tied weights are counted once

    gpt2 = GPTConfig.from_dict(N.PUBLIC_CONFIGS["GPT-2 small"])
    with torch.device("meta"):
        hf = GPT2LMHeadModel(GPT2Config())  # the defaults are GPT-2 small
    assert count_parameters(gpt2) == hf_count(hf) and gpt2.max_seq_len == GPT2Config().n_positions
    for name in ("Llama-2-7B", "Llama-3-8B"):
        c = GPTConfig.from_dict(N.PUBLIC_CONFIGS[name])
        hf_cfg = llama_config(c, tie_word_embeddings=False)
        with torch.device("meta"):
            hf = LlamaForCausalLM(hf_cfg)
        assert count_parameters(c) == hf_count(hf), name
    assert count_parameters(GPTConfig.from_dict(N.PUBLIC_CONFIGS["Llama-2-7B"])) == 6_738_415_616


def test_scale_rows_stay_within_each_context():
    configs = {n: GPTConfig.from_dict(c) for n, c in N.PUBLIC_CONFIGS.items()}
    rows = M.scale_rows(configs)
    assert [r["context"] for r in rows] == [1024, 4096, 8192]
    llama = rows[1]
    assert llama["KiB / token"] == 512 and llama["cache at full context"] == "2 GiB"  # 2*32*32*128*2 B
    assert llama["weights"] == "12.6 GiB" and llama["cache > weights from batch"] == 7
    assert memory.human_bytes(512) == "512 B" and memory.human_bytes(3 * 2**19) == "1.5 MiB"


def test_measure_rss_pays_about_the_cache_bytes():
    cfg = GPTConfig.preset("shared")
    (fp32, bf16) = M.measure_rss(cfg, [("float32", 4096), ("bfloat16", 4096)])
    assert fp32["nbytes"] == 2 * bf16["nbytes"] == memory.kv_bytes(cfg, 4096, torch.float32)
    for r in (fp32, bf16):  # a fresh process pays (about) exactly the cache's bytes in resident memory
        assert 0.9 * r["nbytes"] <= r["rss_delta"] <= 1.5 * r["nbytes"]
        assert r["peak_delta"] >= r["rss_delta"]


def test_memory_experiment_small(tmp_path, monkeypatch):
    def fake_rss(config, runs):  # the probe itself is tested above; here only what the experiment makes of it
        sizes = {"float32": 4, "bfloat16": 2}
        return [{"rss_delta": 1.0 * t, "peak_delta": 2.0 * t, "nbytes": 1.0 * t * sizes[d]} for d, t in runs]

    monkeypatch.setattr(EM, "measure_rss", fake_rss)
    cfg = {"lengths": [8, 1024], "rss_lengths": [2048, 4096], "kv_heads": [4, 1]}
    data = EM.memory(cfg, _ctx(tmp_path, N.MEMORY))
    assert data["checked_caches"] == 2 * 2 * 2 and data["per_token_bytes"] == 2 * 4 * 4 * 32 * 4
    assert data["rss"]["fp32"]["nbytes"].tolist() == [8192, 16384] and data["rss_ratio_largest"] == 0.25
    assert data["rss"]["bf16"]["peak_delta"].tolist() == [4096, 8192]
    rows = table_rows(data["scale"])
    assert rows[0]["model"] == N.SHARED_NAME and rows[0]["context"] == 256
    assert data["overtaking_batch"]["Llama-2-7B"] == 7 and "7 for Llama-2-7B (4,096)" in data["overtaking"]
    assert data["overtaking"].count("sequences") == 1 and data["overtaking"].count("tokens each") == 1
    _figures_draw(N.MEMORY, data, tmp_path)


# ------------------------------------------------------------------ text


def test_fit_reading():
    assert X.fit_reading(4.0, 4.0, 512, 60.0).startswith(
        "The fit predicts 4.0× at 512 new tokens (measured: 4.0×, the same)."
    )
    assert "25% above the fit" in X.fit_reading(5.0, 4.0, 16, 8.0) and X.fit_reading(
        5.0, 4.0, 16, 8.0
    ).endswith("predicts 8.0×.")
    assert X.fit_reading(3.4, 3.55, 512, 234.2).endswith("the same fit predicts 234×.")


def test_predictions_sentence_names_every_scenario():
    coef = np.array([3.9e-3, 3.6e-5, 6.1e-8])
    rows = A.prediction_rows(
        coef, GPTConfig.preset("shared"), 16, 512, {"longer": 4, "prompt": 16, "wider": 4}
    )
    s = X.predictions_sentence(rows)
    assert s.startswith("Each change on its own gives ")
    assert "with 4× more new tokens (2,048)" in s and "with a 16× longer prompt (256 tokens)" in s
    assert s.endswith("with a 4× wider model (d = 512).")
    # the measured setting and the one without a per-call cost are fit_reading's: not said twice
    assert "as measured" not in s and "per-call cost" not in s


def test_latency_trend_verdicts():
    assert X.latency_trend({"no-cache": 0.05, "static": 0.001}).endswith(": a slope 50× steeper")
    flat = X.latency_trend({"no-cache": 0.05, "static": -0.001})
    assert flat.endswith(
        "the cached one does not grow (slope -0.0010 ms): only the uncached calls get slower"
    )
    for noisy in ({"no-cache": 0.01, "static": 0.02}, {"no-cache": -0.2, "static": 0.4}):
        assert X.latency_trend(noisy).endswith("do not slow down faster than the cached ones")
    assert "the uncached one does not grow (slope -0.2000 ms)" in X.latency_trend(noisy)
    both = X.latency_trend({"no-cache": -1.1434, "static": -0.3817})
    assert both.startswith(
        "neither latency grows (slopes: -1.1434 ms per position uncached, -0.3817 ms cached)"
    )
    for slopes in (
        {"no-cache": 0.05, "static": 0.001},
        {"no-cache": -0.1, "static": -0.2},
        {"no-cache": 0.1, "static": -0.1},
    ):
        s = X.latency_trend(slopes)
        assert s.count("grows by") <= 1 and s.count("does not grow") <= 1  # each said once


def test_plain_number_never_uses_exponents():
    assert [X.plain_number(v) for v in (34150.3, 999.4, 36.24, 1e-3, 0.0)] == [
        "34,150",
        "999",
        "36.2",
        "0.001",
        "0",
    ]


def test_workload_verdict_and_overtaking_sentence():
    assert X.workload_verdict([1, 4], [0.5, 0.6], 0.7) == (
        "the hit rate does not fall steadily as blocks grow; it never exceeds the shared prompt's share"
    )
    assert X.workload_verdict([4, 1, 16], [0.75, 0.8, 0.6], 0.7).endswith(
        "blocks of up to 4 tokens it exceeds the shared prompt's share"
    )
    rows = [
        {"model": "A", "context": 1024, "cache > weights from batch": 7},
        {"model": "B", "context": 8192, "cache > weights from batch": 15},
    ]
    assert X.overtaking_sentence(rows) == "7 sequences for A (1,024 tokens each) and 15 for B (8,192)"
    assert X.overtaking_sentence(rows[:1] + [{**rows[1], "cache > weights from batch": 1}]).endswith(
        "1 for B (8,192)"
    )
    one = [{"model": "A", "context": 64, "cache > weights from batch": 1}]
    assert X.overtaking_sentence(one) == "1 sequence for A (64 tokens each)"
