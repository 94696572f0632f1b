"""The mixture-of-experts lab (llmkb/lab/topics/mixture_of_experts/) on tiny configs."""

from __future__ import annotations

import math

import pytest
import torch
from labkit import assert_figures_draw

from llmkb.lab.cache import Result
from llmkb.lab.kit import table_rows
from llmkb.lab.registry import RunContext, get_experiment
from llmkb.lab.topics.mixture_of_experts import analysis as A
from llmkb.lab.topics.mixture_of_experts import names as N
from llmkb.lab.topics.mixture_of_experts import text as X
from llmkb.nn import GPT, GPTConfig


def test_variants_keep_active_or_total_parameters():
    vs = A.variants(48, [2, 8], probe=8)
    assert [v["label"] for v in vs] == ["dense", "2 experts, equal active", "8 experts, equal active",
                                        "2 experts, equal total", "8 experts, equal total", "8 experts, no balancing"]  # fmt: skip
    assert [v["width"] for v in vs] == [48, 48, 48, 24, 6, 48]
    assert [v["alpha"] for v in vs] == [None, 0.01, 0.01, 0.01, 0.01, 0.0]
    with pytest.raises(ValueError, match="split evenly"):
        A.variants(48, [5], probe=8)


def test_token_kinds_mark_letters_digits_space_punctuation_keywords_and_other():
    kinds = A.token_kinds("def x1 = (a) in_x\n\u00e9".encode()).tolist()
    names = [N.TOKEN_KINDS[k] for k in kinds]
    assert names[:4] == ["keyword"] * 3 + ["whitespace"]
    assert names[4:6] == ["letter", "digit"] and names[7] == "punctuation" and names[9] == "punctuation"
    assert names[13:17] == ["letter", "letter", "punctuation", "letter"]  # in_x: an identifier, not "in"
    assert names[17] == "whitespace" and names[18:] == ["other", "other"]  # the two bytes of é


def test_synthetic_text_writes_copy_and_sort_lines():
    lines = A.synthetic_text(4, length=6, seed=0).splitlines()
    assert len(lines) == 4 and lines[0].startswith("copy ") and lines[1].startswith("sort ")
    for line in lines:
        task, rest = line.split(" ")
        prompt, answer = rest.split("|")
        assert answer == (prompt if task == "copy" else "".join(sorted(prompt)))


def test_share_matrix_and_load_entropy():
    m = A.share_matrix(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 0, 0, 2]), 3, 4)
    assert (
        m[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0])
        and m[1].sum() == 0
        and m[2].tolist() == [0, 0, 1, 0]
    )
    assert A.load_entropy([1, 1, 1, 1]) == pytest.approx(math.log(4)) and A.load_entropy([5, 0, 0]) == 0.0
    assert A.effective_experts([2, 2, 0, 0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive total"):
        A.load_entropy([0, 0])


def test_capacity_drops_count_the_overflow_of_each_batch():
    choices = torch.tensor([0, 0, 0, 1, 0, 1, 1, 1])  # batches of 4: [0, 0, 0, 1], [0, 1, 1, 1]
    assert A.capacity_drops(choices, 2, 1.0, 4) == pytest.approx(2 / 8)  # C = 2: one over in each batch
    assert A.capacity_drops(choices, 2, 1.0, 8) == 0.0  # one batch of 8: 4 and 4, C = 4
    assert A.capacity_drops(choices, 2, 2.0, 4) == 0.0


def test_expert_choices_are_each_layers_first_choice_and_leave_the_model_alone():
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", activation="moe", moe={"n_experts": 4, "top_k": 2})
    model = GPT(cfg).train()
    windows = torch.randint(0, 256, (3, 10))
    before = model(windows).logits
    choices = A.expert_choices(model, windows, chunk=2)
    assert model.training and torch.equal(model(windows).logits, before)
    assert len(choices) == cfg.n_layers and all(c.shape == (30,) for c in choices)
    inputs = []
    handle = model.blocks[0].ffn.register_forward_hook(lambda m, a, o: inputs.append(a[0]))
    model.eval()(windows)
    handle.remove()
    want = model.blocks[0].ffn.router(inputs[0].reshape(-1, cfg.d_model)).argmax(-1)
    assert torch.equal(choices[0], want)


def test_phrases_follow_the_numbers():
    rows = [{"experts": 0, "budget": "dense", "alpha": None, "mean": 2.0, "sd": 0.01, "n": 3},
            {"experts": 2, "budget": "equal active", "alpha": 0.01, "mean": 1.9, "sd": 0.01, "n": 3},
            {"experts": 8, "budget": "equal active", "alpha": 0.01, "mean": 2.01, "sd": 0.02, "n": 3},
            {"experts": 8, "budget": "equal active", "alpha": 0.0, "mean": 2.5, "sd": 0.02, "n": 3}]  # fmt: skip
    assert X.budget_phrase(rows, "equal active") == (
        "2 experts end 0.100 nats below dense (beyond the seed spread); "
        "8 experts end 0.010 nats above dense (within the seed spread)"
    )
    assert X.budget_phrase([{**r, "n": 1} for r in rows], "equal active").endswith("one seed, so no ranking")
    on, off = {"mean": 2.0, "sd": 0.05, "n": 3}, {"mean": 1.0, "sd": 0.1, "n": 3}
    assert X.entropy_phrase(on, off, 8).endswith(": balancing spreads the load")
    assert X.entropy_phrase(on, {**off, "sd": 0.6}, 8).endswith("within the seed spread")
    assert "2.00 nats (96% of ln 8), without it 1.00 nats (48%)" in X.entropy_phrase(on, off, 8)
    assert X.specialist_phrase([[[0.9, 0.1], [0.2, 0.8]]], ["prose", "code"]) == (
        "90% of the prose bytes go to expert 0 and 80% of the code bytes go to expert 1"
    )
    assert X.sharpness([[0.5, 0.5], [0, 0], [1.0, 0.0]]) == 0.75
    assert X.kind_vs_dataset_phrase([[1.0, 0.0]], [[0.5, 0.5]]).endswith(
        "split kinds of byte more sharply than datasets"
    )
    pts = [{"experts": e, "method": m, "flops_per_token": f, "us_per_token": t}
           for e, m, f, t in [(2, "sparse top-2", 100, 5.0), (2, "dense simulation", 100, 1.0),
                              (8, "sparse top-2", 110, 2.0), (8, "dense simulation", 400, 3.0)]]  # fmt: skip
    assert X.flat_phrase(pts) == (
        "from 2 to 8 experts, sparse top-2 goes from 100 to 110 FLOPs per token (×1.10) while the dense "
        "simulation goes from 100 to 400 (×4.0)"
    )
    assert (
        X.overhead_phrase(pts)
        == "sparse top-2 is faster than the dense simulation at 8 experts and slower at 2"
    )
    assert X.short_run_phrase(0.9, 2.0, 8) == (
        "the balancing loss has not evened the load out, and the router's probabilities have hardly left uniform, "
        "yet its top-1 choice lands on one expert for most tokens"
    )
    assert X.short_run_phrase(0.2, 1.0, 8) == (
        "the balancing loss has brought the load close to even, and the router's probabilities have moved well "
        "away from uniform"
    )
    ratios = {"64": {"time_sparse_over_simulation": 0.34, "sparse_over_simulation": 0.032}}
    assert X.time_vs_flops_phrase(ratios, 64) == (
        "at 64 experts sparse top-2 takes 34% of the dense simulation's time for 3.2% of its FLOPs"
    )


# ---------------------------------------------------------------------------------------------------
# the experiments, on configs smaller than their quick profiles
# ---------------------------------------------------------------------------------------------------


def _run(name: str, cfg: dict, root, needed: dict | None = None) -> dict:
    ctx = RunContext(name, "quick", root / name.replace("/", "-"), False, needed or {})
    return get_experiment(name).fn(cfg, ctx)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("moe-lab")
    t_cfg = get_experiment(N.TRAIN).config("quick")
    t_cfg = {**t_cfg, "model": {**t_cfg["model"], "d_model": 16, "n_layers": 1, "n_heads": 2}, "experts": [8],
             "seeds": [0, 1], "n_windows": 2,
             "train": {**t_cfg["train"], "steps": 2, "seq_len": 16, "batch_size": 2, "eval_every": 1, "log_every": 1}}  # fmt: skip
    out = {N.TRAIN: _run(N.TRAIN, t_cfg, root)}
    trained = Result(N.TRAIN, "quick", "test", root / "mixture-of-experts-train", out[N.TRAIN], ran=True)
    out[N.ROUTING] = _run(N.ROUTING, {"n_windows": 2, "stdlib_chars": 20_000}, root, {N.TRAIN: trained})
    out[N.FLOPS] = _run(N.FLOPS, {"d_model": 16, "tokens": 8, "experts": [2, 8], "repeats": 1}, root)
    return out


def test_train_runs_every_variant_and_seed(results):
    res = results[N.TRAIN]
    rows = res["rows"]
    assert len(rows) == 4 and all(r["n"] == 2 and len(r["losses"]) == 2 for r in rows)
    dense, active8, total8 = rows[0], rows[1], rows[2]
    assert dense["ffn_total"] == dense["ffn_active"] == 3 * 16 * 48
    assert active8["ffn_total"] == 8 * 3 * 16 * 48 + 8 * 16 and active8["ffn_active"] == 3 * 16 * 48 + 8 * 16
    assert total8["ffn_total"] == 8 * 3 * 16 * 6 + 8 * 16
    assert (
        active8["log_steps"] == [1, 2]
        and len(active8["router_entropy"]) == 2
        and dense["router_entropy"] == []
    )
    assert all(1 / 8 <= b <= 1 for b in active8["busiest"]) and dense["busiest"] == []
    assert [r["model"] for r in table_rows(res["table"])][0] == "dense"
    assert set(res["balance"]) >= {"entropy_on", "entropy_off", "busiest_on", "busiest_off", "loss_gap"}


def test_routing_covers_datasets_kinds_and_both_models(results):
    res = results[N.ROUTING]
    for name in ("balanced", "unbalanced"):
        part = res[name]
        assert len(part["by_dataset"]) == 1 and len(part["by_dataset"][0]) == 3
        for row in part["by_dataset"][0]:
            assert sum(row) == pytest.approx(1.0) and len(row) == N.PROBE_EXPERTS
        assert len(part["by_kind"][0]) == len(N.TOKEN_KINDS)
        assert (
            len(part["entropies"]) == 2 and 0 <= part["entropy"]["mean"] <= math.log(N.PROBE_EXPERTS) + 1e-9
        )
        assert 0 <= part["drops"]["mean"] < 1 and part["drops"]["n"] == 2
    assert res["tokens_per_dataset"] == [2 * 16] * 3 and sum(res["kind_counts"]) == 3 * 2 * 16
    assert res["verdict"].startswith("with the balancing loss the load entropy is")


def test_flops_are_counted_not_computed_and_match_the_layer(results):
    res = results[N.FLOPS]
    at = {(p["experts"], p["method"]): p["flops"] for p in res["points"]}
    d, f, n = 16, res["width"], 8
    dense = 2 * n * 3 * d * f
    for e in (2, 8):
        router = 2 * n * d * e
        assert at[(e, "dense FFN")] == dense
        assert at[(e, "sparse top-1")] == dense + router
        assert at[(e, "sparse top-2")] == 2 * dense + router
        assert at[(e, "dense simulation")] == e * dense + router
    assert res["ratios"]["8"]["sparse_over_simulation"] == pytest.approx(
        (2 * dense + 2 * n * d * 8) / (8 * dense + 2 * n * d * 8)
    )


@pytest.mark.parametrize("name", [N.TRAIN, N.ROUTING, N.FLOPS])
def test_figures_draw(results, name, tmp_path):
    assert_figures_draw(name, Result(name, "quick", "test", tmp_path, results[name], ran=True))


def test_experiments_are_registered_with_both_profiles():
    for name in (N.TRAIN, N.ROUTING, N.FLOPS):
        assert set(get_experiment(name).profiles) == {"quick", "full"}, name
    assert list(get_experiment(N.ROUTING).needs) == [N.TRAIN]
    full = get_experiment(N.FLOPS).config("full")
    assert {8, 64} <= set(full["experts"]) and {8, 64} <= set(
        get_experiment(N.FLOPS).config("quick")["experts"]
    )


def test_mixtral_counts_are_the_published_ones():
    """Mistral's announcement of Mixtral 8x7B: 46.7 B parameters in all, 12.9 B used per token; our count from
    its shape must agree, and so must the built layer's own parameter count at a reduced width."""
    total, active = A.total_and_active(N.MIXTRAL_8X7B)
    assert round(total / 1e9, 1) == 46.7 and round(active / 1e9, 1) == 12.9
    small = {**N.MIXTRAL_8X7B, "vocab_size": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
             "d_ff": 48, "max_seq_len": 16}  # fmt: skip
    model = GPT(GPTConfig.from_dict(small))
    expert = sum(p.numel() for p in model.blocks[0].ffn.experts[0].parameters())
    assert A.total_and_active(small) == (model.num_parameters(), model.num_parameters() - 2 * 6 * expert)
