"""The sampling lab: its analysis (grid decoding, settings grid, diversity, quality and loop statistics), its
prose, and its two experiments run on a small random model standing in for the shared model."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from labkit import assert_figures_draw

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs
from llmkb.lab import RunContext
from llmkb.lab.registry import get_experiment
from llmkb.lab.topics.sampling import analysis as A
from llmkb.lab.topics.sampling import text as T
from llmkb.lab.topics.sampling.analysis_decode import decode_settings, next_logits
from llmkb.lab.topics.sampling.names import GREEDY, GRID, PROMPTS
from llmkb.nn import GPT, GPTConfig

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    m = GPT(GPTConfig.preset("tiny"))
    m.eval()
    return m


PROMPT = [72, 101, 108, 108, 111, 32]


@pytest.mark.parametrize(
    "cfg",
    [
        SamplingConfig(temperature=0.9, top_k=20, top_p=0.9),
        SamplingConfig(temperature=1.3),
        SamplingConfig(temperature=0.0),
        SamplingConfig(temperature=0.7, top_p=0.8, min_p=0.05, repetition_penalty=1.3),
        SamplingConfig(temperature=0.0, repetition_penalty=1.5),
    ],
    ids=["k-p", "hot", "greedy", "penalty", "greedy-penalty"],
)
def test_decode_settings_matches_generate(model, cfg):
    n, length = 3, 10
    dec = decode_settings(model, PROMPT, [cfg], n_samples=n, max_new_tokens=length, seed=7)
    ref = model.generate(
        torch.tensor([PROMPT]).repeat(n, 1), length, cfg, generator=torch.Generator().manual_seed(7)
    )
    assert dec.tokens.shape == (1, n, length) and dec.entropy.shape == (1, n, length)
    assert torch.equal(dec.tokens[0], ref[:, len(PROMPT) :])


def test_decode_settings_records_entropy_of_the_filtered_distribution(model):
    configs = [SamplingConfig(0.0), SamplingConfig(1.0, top_k=5), SamplingConfig(2.0)]
    dec = decode_settings(model, PROMPT, configs, n_samples=2, max_new_tokens=4, seed=0)
    first = next_logits(model, PROMPT)
    for s, cfg in enumerate(configs):
        want = float(entropy(filtered_probs(first, cfg)))
        assert dec.entropy[s, :, 0].tolist() == pytest.approx([want, want], abs=1e-5)
    assert torch.all(dec.entropy[0] == 0)  # greedy: one-hot
    assert torch.all(dec.entropy[1] <= torch.log(torch.tensor(5.0)) + 1e-5)  # at most 5 tokens
    assert torch.all(dec.entropy[2] > dec.entropy[1])  # hot and untruncated vs five tokens
    assert torch.equal(dec.tokens[0, 0], dec.tokens[0, 1])  # greedy samples agree


def test_decode_settings_rejects_bad_input(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        decode_settings(model, PROMPT, [SamplingConfig()], n_samples=1, max_new_tokens=64)
    with pytest.raises(ValueError, match="at least one config"):
        decode_settings(model, PROMPT, [], n_samples=1, max_new_tokens=4)
    with pytest.raises(ValueError):
        decode_settings(model, [], [SamplingConfig()], n_samples=1, max_new_tokens=4)


def test_grid_deduplicates_greedy_and_turns_p1_off():
    grid = A.Grid((0.0, 0.5, 1.0), (None, 5), (0.9, 1.0))
    configs, cells = grid.settings()
    assert len(configs) == 1 + 2 * 2 * 2
    assert {cells[0][i][j] for i in range(2) for j in range(2)} == {0}
    assert configs[0] == SamplingConfig(temperature=0.0)
    assert configs[cells[2][0][1]] == SamplingConfig(temperature=1.0, top_k=None, top_p=None)
    assert configs[cells[1][1][0]] == SamplingConfig(temperature=0.5, top_k=5, top_p=0.9)
    assert len(set(configs)) == len(configs)


def test_nearest_grid_point():
    grid = A.Grid((0.0, 0.5, 0.8, 1.0, 1.3, 2.0), (None, 5, 20, 50), (0.5, 0.8, 0.9, 0.95, 1.0), 256)
    assert grid.nearest(0.9, None, 0.92) == (2, 0, 2)  # tie 0.8 / 1.0 -> lower; 0.92 nearest 0.9
    assert grid.nearest(0.0, 256, 1.0) == (0, 0, 4)  # k = V is "off"
    assert grid.nearest(1.7, 150, 0.1) == (5, 3, 0)  # 150 is nearer 50 than 256
    assert grid.nearest(1.1, 12, 0.85) == (3, 1, 1)  # 12: 5 vs 20 -> 5 (7 < 8); 0.85: float tie -> 0.8
    assert A.nearest_index([1.0, 3.0], 2.0) == 0
    with pytest.raises(ValueError):
        A.nearest_index([], 1.0)


def test_diversity_of_identical_and_disjoint_samples():
    same = A.diversity([["a b c d", "a b c d"]])
    assert same["self_similarity"] == 1.0
    assert same["distinct_1"] == pytest.approx(4 / 8)
    assert same["distinct_2"] == pytest.approx(3 / 6)
    apart = A.diversity([["a b c", "d e f"], ["g h i", "j k l"]])
    assert apart["self_similarity"] == 0.0
    assert apart["distinct_1"] == 1.0 and apart["distinct_2"] == 1.0
    looped = A.diversity([["x y z x y z x y z"]])
    assert looped["rep_3"] == pytest.approx(4 / 7)
    assert looped["self_similarity"] == 0.0  # one sample per prompt: nothing to compare


def test_loop_stats_finds_the_start_and_ignores_short_tails():
    ids = list(b"Some prose first, then: ") + list(b"abcdefgh") * 5
    st = A.loop_stats(ids)
    assert st.looped and st.start == 24 and st.period == 8 and st.repeats == 5.0
    assert not A.loop_stats(list(b"no loop here, only a few trailing spaces    ")).looped
    assert A.loop_stats(list(b"x")) == A.LoopStats(False, -1, 0, 0.0)


def test_seen_before_marks_repeated_ngrams():
    assert A.seen_before([1, 2, 3, 1, 2, 3, 1], 3).tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert A.seen_before([1, 2], 3).tolist() == [0, 0]


def test_words_drop_the_fragment_cut_off_at_the_end():
    assert A.words_of("The value of x, isn't it cal") == ["the", "value", "of", "x", "isn", "t", "it"]
    assert A.words_of("called.") == ["called"]
    assert A.words_of("   ") == [] and A.words_of("abc") == []


def test_valid_word_rate_pools_words_over_texts():
    vocab = A.vocabulary("The value of a Function is returned.\nReturn the value")
    assert vocab == {"the", "value", "of", "a", "function", "is", "returned", "return"}
    rate, n = A.valid_word_rate(["the valeu of a ", "Function xq "], vocab)
    assert (rate, n) == (pytest.approx(4 / 6), 6)
    rate, n = A.valid_word_rate(["   ", "unfinishe"], vocab)  # no whole word: no rate
    assert n == 0 and math.isnan(rate)


def test_correlation_is_pearson_on_finite_pairs_and_nan_when_undefined():
    assert A.correlation([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert A.correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    x, y = [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 3.0, 2.0, float("nan"), 5.0]
    assert A.correlation(x, y) == pytest.approx(float(np.corrcoef([1, 2, 3, 5], [1, 3, 2, 5])[0, 1]))
    assert math.isnan(A.correlation([1, 2, 3], [5, 5, 5]))  # constant: undefined, not 0
    assert math.isnan(A.correlation([1, 2], [1, 2]))


def test_correlation_phrase():
    assert T.correlation_phrase(0.873) == "0.87" and T.correlation_phrase(-0.424) == "−0.42"
    assert T.correlation_phrase(float("nan")).startswith("undefined (one of the two is constant")


def test_loop_verdict_and_phrases():
    assert T.span([3]) == "3" and T.span([12, 3, 7]) == "3–12"
    assert (
        T.loop_verdict([], [], [], 5, 192)
        == "None of the 5 greedy continuations ends in a loop within 192 bytes."
    )
    v = T.loop_verdict([40, 60], [1, 1], [" ", " "], 5, 192)
    assert v.startswith("2 of the 5 greedy continuations end in a loop. The loops start after 40–60 bytes")
    assert "the unit ' ' (1 byte)" in v and "Every loop is a run of whitespace" in v
    v = T.loop_verdict([10], [4], ["ab c"], 2, 64)
    assert v.startswith(
        "1 of the 2 greedy continuations ends in a loop. The loop starts after 10 bytes and repeats"
    )
    assert "the unit 'ab c' (4 bytes)" in v and "whitespace" not in v
    v = T.loop_verdict([0, 0, 0], [1, 1, 1], [" "] * 3, 3, 64)
    assert v.startswith("All 3 greedy continuations end in a loop. The loops start right after the prompt")
    assert T.loops_phrase(2, 2) == "both greedy continuations end in a loop"
    assert T.loops_phrase(5, 5) == "all 5 greedy continuations end in a loop"
    assert T.loops_phrase(0, 5) == "none of the 5 greedy continuations ends in a loop"
    assert T.loops_phrase(1, 5) == "1 of the 5 greedy continuations ends in a loop"
    assert T.loops_phrase(4, 5) == "4 of the 5 greedy continuations end in a loop"


def test_quality_phrases_follow_the_numbers():
    p = T.greedy_words_phrase(0.9, 40, 0.7, 1.0)
    assert p == (
        "Nor is a chain of locally most likely bytes a guarantee of sense: 4 of the 40 words greedy decoding "
        "wrote (10%) are not words of the training corpus, against 30% non-words at T = 1 without filters."
    )
    p = T.greedy_words_phrase(1.0, 12, 0.5, 0.8)
    assert p.startswith("Every one of the 12 words greedy decoding wrote") and "(50% at T = 0.8" in p
    assert T.greedy_words_phrase(float("nan"), 0, 0.5, 1.0).startswith("Greedy decoding wrote no whole word")
    up = T.tradeoff_phrase([0.0, 1.0, 2.0], [0.2, 0.8, 0.95], [0.9, 0.7, 0.3])
    assert up == (
        "from T = 0 to T = 2 (no top-k or top-p), word distinct-2 rises from 0.200 to 0.950 while the share "
        "of words found in the training corpus falls from 90% to 30%"
    )
    assert "stays at 0.500" in T.tradeoff_phrase([0.0, 1.0], [0.5, 0.5], [0.9, 0.95])
    assert "rises from 90% to 95%" in T.tradeoff_phrase([0.0, 1.0], [0.5, 0.5], [0.9, 0.95])
    nan = T.tradeoff_phrase([0.0, 1.3], [0.0, 1.0], [float("nan"), 0.42])
    assert nan.endswith("is undefined (no whole word) at the first and 42% at the last")
    with pytest.raises(ValueError, match="two temperatures"):
        T.tradeoff_phrase([1.0], [0.5], [0.5])
    assert T.hot_phrase(2.0, 0.981, 0.42, 0.97) == (
        "at T = 2 without filters the shared model's text has word distinct-2 0.981, "
        "and 42% of its words are words of the training corpus (greedy: 97%)"
    )
    assert T.hot_phrase(1.3, 1.0, 0.42, float("nan")).endswith("(greedy wrote no whole word)")


# ---------------------------------------------------------------------------------------------------
# the experiments, on a random `shared`-preset model (the real shared model is trained by the build)
# ---------------------------------------------------------------------------------------------------


class _FakeSiteResult:
    def __init__(self, directory: Path) -> None:
        self.dir = directory


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("sampling-lab")
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared", n_layers=1)).save(root / "model")
    out = {}
    for name in (GRID, GREEDY):
        exp = get_experiment(name)
        ctx = RunContext(
            name, "quick", root / name.replace("/", "-"), False, {"shared-model/train": _FakeSiteResult(root)}
        )
        out[name] = exp.fn(exp.config("quick"), ctx)
    return out


def test_grid_experiment_exports_a_consistent_dashboard(results):
    res = results[GRID]
    dash = res["dashboard"]
    cfg = get_experiment(GRID).config("quick")
    n_prompts, grid = cfg["prompts"], dash["grid"]
    assert len(dash["prompts"]) == len(dash["logits"]) == len(dash["continuations"]) == n_prompts
    assert all(len(lg) == dash["vocab_size"] == 256 for lg in dash["logits"])
    shape = (len(grid["temperature"]), len(grid["top_k"]), len(grid["top_p"]))
    cells = dash["cells"]
    assert (len(cells), len(cells[0]), len(cells[0][0])) == shape
    assert max(i for plane in cells for row in plane for i in row) == res["n_settings"] - 1
    assert len(res["rows"]) == res["n_settings"]
    for per_prompt in dash["continuations"]:
        assert len(per_prompt) == res["n_settings"]
        assert all(len(samples) == cfg["samples"] for samples in per_prompt)
    greedy = dash["continuations"][0][cells[0][0][0]]
    assert greedy[0] == greedy[1]  # temperature 0 is deterministic
    assert res["greedy"]["entropy"] == 0.0 and res["greedy"]["self_similarity"] in (0.0, 1.0)
    hot = [r for r in res["rows"] if r["temperature"] > 0 and r["top_k"] == "off" and r["top_p"] == 1.0]
    assert hot and all(r["entropy"] > 0 for r in hot)
    assert res["hot"] == max(hot, key=lambda r: r["temperature"])
    for r in res["rows"]:  # quality: a share of the pooled whole words, or NaN when there is none
        assert (0.0 <= r["valid_words"] <= 1.0) if r["n_words"] else math.isnan(r["valid_words"])
    assert res["vocabulary_size"] > 1000  # the pydoc corpus's words
    assert res["model"]["n_layers"] == 1 and res["model"]["n_params"] > 0  # the stand-in model
    assert res["tradeoff"].startswith(f"from T = 0 to T = {res['hot']['temperature']:g}")
    assert [row[0] for row in res["highlight_table"]["rows"]][0] == "T=0"
    assert res["highlight_table"]["columns"][-1] == "real words"


def test_greedy_experiment_reports_loops_and_rates(results):
    res = results[GREEDY]
    cfg = get_experiment(GREEDY).config("quick")
    assert len(res["greedy"]) == cfg["prompts"] == res["seen"].shape[0]
    assert res["seen"].shape[1] == cfg["greedy_tokens"]
    assert len(res["rep3"]) == len(res["looped"]) == len(cfg["temperatures"])
    for row, start in zip(res["greedy"], res["loop_starts"], strict=True):
        assert row["loop start (byte)"] == start
        assert (start >= 0) == (row["period (bytes)"] > 0)
        assert (row["unit"] != "") == (start >= 0)
    assert ("⟦LOOP:" in res["example"]) == (res["loop_starts"][0] >= 0)
    assert res["verdict"].endswith(".")


def test_prompts_and_settings_get_distinct_seeds():
    """Sharing random draws across prompts made hot samples of different prompts look alike."""
    seeds = {A.prompt_seed(0, i) + s for i in range(len(PROMPTS)) for s in range(200)}
    assert len(seeds) == len(PROMPTS) * 200


@pytest.mark.parametrize("name", [GRID, GREEDY])
def test_figures_draw(results, name):
    assert_figures_draw(name, results[name])
