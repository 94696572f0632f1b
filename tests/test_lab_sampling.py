"""The sampling lab's helpers (grid decoding, settings grid, diversity and loop statistics) and its two
experiments run on a small random model standing in for the shared model."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
import torch

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs
from llmkb.lab import RunContext
from llmkb.lab.registry import figures_of, get_experiment
from llmkb.lab.topics import sampling as S
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
    dec = S.decode_settings(model, PROMPT, [cfg], n_samples=n, max_new_tokens=length, seed=7)
    ref = model.generate(
        torch.tensor([PROMPT]).repeat(n, 1), length, cfg, generator=torch.Generator().manual_seed(7)
    )
    assert dec.tokens.shape == (1, n, length) and dec.entropy.shape == (1, n, length)
    assert torch.equal(dec.tokens[0], ref[:, len(PROMPT) :])


def test_decode_settings_records_entropy_of_the_filtered_distribution(model):
    configs = [SamplingConfig(0.0), SamplingConfig(1.0, top_k=5), SamplingConfig(2.0)]
    dec = S.decode_settings(model, PROMPT, configs, n_samples=2, max_new_tokens=4, seed=0)
    first = S.next_logits(model, PROMPT)
    for s, cfg in enumerate(configs):
        want = float(entropy(filtered_probs(first, cfg)))
        assert dec.entropy[s, :, 0].tolist() == pytest.approx([want, want], abs=1e-5)
    assert torch.all(dec.entropy[0] == 0)  # greedy: one-hot
    assert torch.all(dec.entropy[1] <= torch.log(torch.tensor(5.0)) + 1e-5)  # at most 5 tokens
    assert torch.all(dec.entropy[2] > dec.entropy[1])  # hot and untruncated vs five tokens
    assert torch.equal(dec.tokens[0, 0], dec.tokens[0, 1])  # greedy samples agree


def test_decode_settings_rejects_bad_input(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        S.decode_settings(model, PROMPT, [SamplingConfig()], n_samples=1, max_new_tokens=64)
    with pytest.raises(ValueError, match="at least one config"):
        S.decode_settings(model, PROMPT, [], n_samples=1, max_new_tokens=4)
    with pytest.raises(ValueError):
        S.decode_settings(model, [], [SamplingConfig()], n_samples=1, max_new_tokens=4)


def test_grid_deduplicates_greedy_and_turns_p1_off():
    grid = S.Grid((0.0, 0.5, 1.0), (None, 5), (0.9, 1.0))
    configs, cells = grid.settings()
    assert len(configs) == 1 + 2 * 2 * 2
    assert {cells[0][i][j] for i in range(2) for j in range(2)} == {0}
    assert configs[0] == SamplingConfig(temperature=0.0)
    assert configs[cells[2][0][1]] == SamplingConfig(temperature=1.0, top_k=None, top_p=None)
    assert configs[cells[1][1][0]] == SamplingConfig(temperature=0.5, top_k=5, top_p=0.9)
    assert len(set(configs)) == len(configs)


def test_nearest_grid_point():
    grid = S.Grid((0.0, 0.5, 0.8, 1.0, 1.3, 2.0), (None, 5, 20, 50), (0.5, 0.8, 0.9, 0.95, 1.0), 256)
    assert grid.nearest(0.9, None, 0.92) == (2, 0, 2)  # tie 0.8 / 1.0 -> lower; 0.92 nearest 0.9
    assert grid.nearest(0.0, 256, 1.0) == (0, 0, 4)  # k = V is "off"
    assert grid.nearest(1.7, 150, 0.1) == (5, 3, 0)  # 150 is nearer 50 than 256
    assert grid.nearest(1.1, 12, 0.85) == (3, 1, 1)  # 12: 5 vs 20 -> 5 (7 < 8); 0.85: float tie -> 0.8
    assert S.nearest_index([1.0, 3.0], 2.0) == 0
    with pytest.raises(ValueError):
        S.nearest_index([], 1.0)


def test_byte_labels_are_single_safe_glyphs():
    assert S.byte_label(ord("a")) == "a"
    assert S.byte_label(ord(" ")) == "␣"
    assert S.byte_label(10) == "⏎"
    assert S.byte_label(9) == "⇥"
    assert S.byte_label(0) == "x00"
    assert S.byte_label(0xE2) == "xe2"
    assert S.byte_label(0x7F) == "x7f"
    assert S.byte_label(ord("<")) == "<"  # escaping is the renderer's job (textContent / matplotlib)


def test_diversity_of_identical_and_disjoint_samples():
    same = S.diversity([["a b c d", "a b c d"]])
    assert same["self_similarity"] == 1.0
    assert same["distinct_1"] == pytest.approx(4 / 8)
    assert same["distinct_2"] == pytest.approx(3 / 6)
    apart = S.diversity([["a b c", "d e f"], ["g h i", "j k l"]])
    assert apart["self_similarity"] == 0.0
    assert apart["distinct_1"] == 1.0 and apart["distinct_2"] == 1.0
    looped = S.diversity([["x y z x y z x y z"]])
    assert looped["rep_3"] == pytest.approx(4 / 7)
    assert looped["self_similarity"] == 0.0  # one sample per prompt: nothing to compare


def test_loop_stats_finds_the_start_and_ignores_short_tails():
    ids = list(b"Some prose first, then: ") + list(b"abcdefgh") * 5
    st = S.loop_stats(ids)
    assert st.looped and st.start == 24 and st.period == 8 and st.repeats == 5.0
    assert not S.loop_stats(list(b"no loop here, only a few trailing spaces    ")).looped
    assert S.loop_stats(list(b"x")) == S.LoopStats(False, -1, 0, 0.0)


def test_seen_before_marks_repeated_ngrams():
    assert S.seen_before([1, 2, 3, 1, 2, 3, 1], 3).tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert S.seen_before([1, 2], 3).tolist() == [0, 0]


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
    for name in ("sampling/grid", "sampling/greedy"):
        exp = get_experiment(name)
        ctx = RunContext(
            name, "quick", root / name.replace("/", "-"), False, {"shared-model/train": _FakeSiteResult(root)}
        )
        out[name] = exp.fn(exp.config("quick"), ctx)
    return out


def test_grid_experiment_exports_a_consistent_dashboard(results):
    res = results["sampling/grid"]
    dash = res["dashboard"]
    cfg = get_experiment("sampling/grid").config("quick")
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


def test_greedy_experiment_reports_loops_and_rates(results):
    res = results["sampling/greedy"]
    cfg = get_experiment("sampling/greedy").config("quick")
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
    seeds = {S._prompt_seed(0, i) + s for i in range(len(S.PROMPTS)) for s in range(200)}
    assert len(seeds) == len(S.PROMPTS) * 200


@pytest.mark.parametrize("name", ["sampling/grid", "sampling/greedy"])
def test_figures_draw(results, name):
    import matplotlib.pyplot as plt

    figs = figures_of(name)
    assert figs
    for f in figs:
        fig = f.fn(results[name])
        assert fig.axes
        plt.close(fig)
