"""The transformer-block lab (``llmkb/lab/topics/transformer_block/``): task references, operations on a model,
the QK circuit, relabelings, parameter parts, verdicts and phrases, the experiments on tiny configs, and the
figures (drawn from hand-made results)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from llmkb.lab import Result, kit
from llmkb.lab.registry import RunContext, figures_of, get_experiment
from llmkb.lab.shared_model import SHARED_MODEL
from llmkb.lab.topics.transformer_block import analysis as A
from llmkb.lab.topics.transformer_block import analysis_circuits as C
from llmkb.lab.topics.transformer_block import experiments as E
from llmkb.lab.topics.transformer_block import experiments_shared as ES
from llmkb.lab.topics.transformer_block import experiments_surgery as EX
from llmkb.lab.topics.transformer_block import names as N
from llmkb.lab.topics.transformer_block import text as X
from llmkb.nn import GPT, SURGERIES, GPTConfig, Hooks, count_parameters, no_residual, surgery
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult

REVERSE = {"name": "reverse", "length": 4, "n_symbols": 5}
TINY_TRAIN = {"steps": 2, "batch_size": 4, "eval_every": 2, "eval_batches": 1, "log_every": 1}


def _model(**kw: object) -> GPT:
    """A small model with weights pushed far from initialization, so attention is far from uniform."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, d_model=32, n_heads=4, n_layers=2, max_seq_len=16, **kw)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def model() -> GPT:
    task = A.make_task(REVERSE)
    torch.manual_seed(0)
    return GPT(
        kit.model_config({"model": {"d_model": 16, "n_heads": 4, "n_layers": 2}}, **A.sized_for(task))
    ).eval()


def _ctx(tmp_path: Path, name: str, needed: dict[str, Result] | None = None) -> RunContext:
    return RunContext(name, "quick", tmp_path / "out", False, needed or {})


# ------------------------------------------------------------------ tasks and configs


def test_task_references_are_the_uniform_guess() -> None:
    task = A.make_task(REVERSE)
    assert task.name == "reverse" and task.best_loss == 0.0
    assert A.chance_loss(task) == pytest.approx(math.log(5))
    assert A.chance_accuracy(task) == pytest.approx(5.0**-4)
    recall = A.make_task({"name": "recall", "n_pairs": 3, "n_keys": 6, "n_values": 7})
    assert A.chance_loss(recall) == pytest.approx(math.log(7))
    assert A.chance_accuracy(recall) == pytest.approx(1 / 7)
    assert E.references(REVERSE)["task_text"] == "reverse 4 symbols drawn from 5"


def test_configs_follow_the_task_and_the_facts_resolve_derived_sizes() -> None:
    task = A.make_task(REVERSE)
    cfg = kit.model_config({"model": {"d_model": 16, "n_heads": 2}}, **A.sized_for(task), n_layers=3)
    assert (cfg.vocab_size, cfg.max_seq_len, cfg.n_layers) == (6, task.seq_len, 3)
    facts = A.model_facts(cfg)
    assert (facts["head_dim"], facts["ffn_dim"], facts["kv_heads"], facts["bias"]) == (8, 64, 2, True)
    assert facts["positional"] == "learned"


# ------------------------------------------------------------------ operations


def test_every_operation_maps_to_hooks() -> None:
    assert A.operation_hooks("none") == {} and A.operation_hooks("random_qk") == {}
    assert A.operation_hooks("no_residual") == {"residual": no_residual}
    for op in ("swap_qk", "tie_qk", "zero_v", "identity_v", "shuffle_heads"):
        assert op in SURGERIES and A.operation_hooks(op) == surgery(op)
    assert set(N.OPERATIONS) == set(SURGERIES) | {"random_qk", "no_residual"}
    with pytest.raises(ValueError, match="unknown operation"):
        A.operation_hooks("lobotomy")


def test_operate_changes_the_output_and_leaves_the_model_alone(model: GPT) -> None:
    idx = torch.randint(0, 6, (2, 8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        plain = model(idx).logits
        with A.operate(model, "none") as same:
            assert same is model and torch.equal(same(idx).logits, plain)
        for op in N.OPERATIONS:
            with A.operate(model, op) as operated:
                assert not torch.allclose(operated(idx).logits, plain, atol=1e-5), op
            assert torch.equal(model(idx).logits, plain), op  # the hooks are gone again
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in model.parameters())


def test_random_qk_redraws_only_queries_and_keys(model: GPT) -> None:
    with A.operate(model, "random_qk", seed=3) as out, A.operate(model, "random_qk", seed=3) as again:
        assert out is not model
        orig, twin = dict(model.named_parameters()), dict(again.named_parameters())
        for name, p in out.named_parameters():
            if ".q_proj." in name or ".k_proj." in name:
                assert torch.equal(p, twin[name]) and not p.requires_grad  # seeded, frozen
                if name.endswith("bias"):
                    assert torch.all(p == 0)
                else:
                    assert not torch.equal(p, orig[name]) and 0.01 < float(p.std()) < 0.03, name
            else:
                assert torch.equal(p, orig[name]), name


def test_train_operated_trains_under_the_operation(model: GPT) -> None:
    task = A.make_task(REVERSE)
    tc = TrainConfig(**TINY_TRAIN)
    _, base_metrics = A.train_operated(model.config, "none", tc, task, eval_batches=1)
    frozen, _ = A.train_operated(model.config, "random_qk", tc, task, eval_batches=1)
    cut, cut_metrics = A.train_operated(model.config, "zero_v", tc, task, eval_batches=1)
    assert cut.model._hooks == Hooks()  # the hooks were lifted after training
    torch.manual_seed(tc.seed)  # the untrained initialization, as `train` draws it
    init = dict(GPT(model.config).named_parameters())
    for name, p in frozen.model.named_parameters():
        frozen_qk = ".q_proj." in name or ".k_proj." in name
        assert p.requires_grad != frozen_qk and torch.equal(p, init[name]) == frozen_qk, name
    assert cut_metrics != base_metrics
    with cut.model.hooks(**surgery("zero_v")):
        assert A.evaluate(cut.model, task, batches=1) == cut_metrics


def test_evaluate_is_deterministic_and_matches_the_task_metrics(model: GPT) -> None:
    task = A.make_task(REVERSE)
    model.train()
    a = A.evaluate(model, task, batches=2, batch_size=8, seed=5)
    assert model.training  # mode restored
    model.eval()
    assert A.evaluate(model, task, batches=2, batch_size=8, seed=5) == a
    g = torch.Generator().manual_seed(5)
    batches = [task.make_batch(8, g) for _ in range(2)]
    with torch.no_grad():
        losses = [float(task.loss(model(x).logits, y)) for x, y in batches]
    assert a["loss"] == pytest.approx(sum(losses) / 2)
    assert 0.0 <= a["accuracy"] <= a["token_accuracy"] <= 1.0


def _fake_train_result(tokens_per_s: list[float], grad_norms: list[float]) -> TrainResult:
    history = [
        {"step": i + 1, "train_loss": 1.0, "grad_norm": g, "tokens_per_s": t, "val_loss": None}
        for i, (t, g) in enumerate(zip(tokens_per_s, grad_norms, strict=True))
    ]
    return TrainResult(
        model=None, history=history, wall_time=1.0, step=len(history), stopped_early=False,
        train_config=TrainConfig(steps=len(history)),
    )  # type: ignore[arg-type]  # fmt: skip


def test_ms_per_step_is_the_median_window_and_the_max_grad_norm_the_largest() -> None:
    res = _fake_train_result([1000.0, 2000.0, 4000.0], [0.5, 3.0, 1.0])  # median 2000 tokens/s
    assert A.ms_per_step(res, batch_size=4, seq_len=5) == pytest.approx(10.0)  # 20 tokens per step
    assert A.max_grad_norm(res) == 3.0


# ------------------------------------------------------------------ circuits


def test_rotation_matrices_are_rotations_that_compose() -> None:
    rope = _model(positional="rope", bias=False)
    r = {p: C.rotation_matrix(rope, p) for p in (0, 2, 3, 5)}
    torch.testing.assert_close(r[0], torch.eye(8))
    torch.testing.assert_close(r[3] @ r[3].T, torch.eye(8), atol=1e-6, rtol=0)
    torch.testing.assert_close(r[2] @ r[3], r[5], atol=1e-6, rtol=0)
    assert not torch.allclose(r[3], torch.eye(8))
    torch.testing.assert_close(C.rotation_matrix(_model(), 3), torch.eye(8))  # learned positions: no rotation


@pytest.mark.parametrize(
    ("kw", "keys"),
    [
        ({}, {"exact", "without_query_bias"}),
        ({"positional": "rope", "bias": False}, {"exact", "without_rotation"}),
        ({"positional": "rope", "bias": False, "n_kv_heads": 2}, {"exact", "without_rotation"}),
        ({"positional": "none", "bias": False}, {"exact"}),
    ],
)
def test_the_circuit_form_reproduces_the_attention_weights(kw: dict[str, object], keys: set[str]) -> None:
    errors = C.circuit_errors(_model(**kw), torch.randint(0, 20, (1, 12)))
    assert set(errors) == keys
    assert errors["exact"] < N.EXACT
    assert all(errors[k] > 100 * N.EXACT for k in keys - {"exact"})  # each left-out term matters


def test_the_circuit_form_misses_when_rope_rotates_a_key_bias() -> None:
    """With RoPE, b_K is rotated by the key's position, so it no longer cancels: the condition is real."""
    model = _model(positional="rope", bias=True)
    assert C.circuit_errors(model, torch.randint(0, 20, (1, 12)))["exact"] > 100 * N.EXACT
    with pytest.raises(ValueError, match="ALiBi"):
        C.circuit_weights(_model(positional="alibi"), 0, torch.randn(4, 32))


def test_key_bias_never_changes_the_weights_without_rotation() -> None:
    model = _model()
    idx = torch.randint(0, 20, (1, 12))
    _, before = C.attention_inputs(model, idx)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.k_proj.bias.add_(5.0)
    _, after = C.attention_inputs(model, idx)
    for w0, w1 in zip(before, after, strict=True):
        torch.testing.assert_close(w0, w1, atol=1e-5, rtol=0)


@pytest.mark.parametrize("op", ["swap_qk", "shuffle_heads"])
def test_relabelings_equal_the_operations(op: str) -> None:
    model = _model()
    twin = C.relabeled(model, op)
    idx = torch.randint(0, 20, (2, 12))
    with torch.no_grad():
        with A.operate(model, op) as operated:
            torch.testing.assert_close(operated(idx).logits, twin(idx).logits, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(model(idx).logits, twin(idx).logits, atol=1e-3)
    with pytest.raises(ValueError, match="not a relabeling"):
        C.relabeled(model, "zero_v")


def test_zero_v_makes_positions_independent() -> None:
    model = _model()
    idx = torch.randint(0, 20, (2, 8))
    with A.operate(model, "zero_v") as cut:
        assert C.first_token_influence(cut, idx) == 0.0
    assert C.first_token_influence(model, idx) > 1e-3


def test_uniform_gap() -> None:
    T = 5
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    assert C.uniform_gap([uniform.expand(2, 3, T, T)]) == pytest.approx(0.0, abs=1e-7)
    assert C.uniform_gap([torch.eye(T).expand(1, 1, T, T)]) == pytest.approx(1 - 1 / T)


def test_parameter_parts_agree_with_the_formula_and_count_parameters() -> None:
    shared = GPTConfig.preset("shared")
    parts = C.parameter_parts(shared)
    assert parts == C.llama_parameter_formula(shared)
    assert sum(parts.values()) == count_parameters(shared) == GPT(shared).num_parameters()
    gqa = GPTConfig.preset("shared", n_kv_heads=2, n_layers=1)
    assert C.parameter_parts(gqa) == C.llama_parameter_formula(gqa)
    gpt2 = GPTConfig.preset("gpt2-style")
    parts = C.parameter_parts(gpt2)
    assert parts["positional table"] == gpt2.max_seq_len * gpt2.d_model and parts["LM head"] == 0
    assert sum(parts.values()) == count_parameters(gpt2)
    assert C.parameter_parts(GPTConfig.preset("llama-style"))["LM head"] == 256 * 128
    with pytest.raises(ValueError, match="not a Llama-style config"):
        C.llama_parameter_formula(gpt2)


# ------------------------------------------------------------------ text


def test_kept_fraction_and_verdicts() -> None:
    chance = {"loss": 2.0, "accuracy": 0.01}
    base = {"loss": 0.0, "accuracy": 1.0}
    assert A.kept_fraction(1.0, 0.0, 2.0) == pytest.approx(0.5)
    assert math.isnan(A.kept_fraction(1.0, 2.0, 2.0))
    assert X.verdict({"loss": 0.05, "accuracy": 0.99}, base, chance) == (
        "matches the baseline (keeps 98% of the gain over chance)"
    )
    assert X.verdict({"loss": 1.95, "accuracy": 0.01}, base, chance).startswith("fails")
    assert X.verdict({"loss": 0.5, "accuracy": 0.015}, base, chance).startswith("fails")  # accuracy ~ chance
    assert (
        X.verdict({"loss": 1.0, "accuracy": 0.4}, base, chance)
        == "degraded (keeps 50% of the gain over chance)"
    )
    assert X.verdict({"loss": 3.0, "accuracy": 0.0}, base, chance).startswith("worse than chance")
    assert X.verdict({"loss": 2.01, "accuracy": 0.0}, base, chance) == (
        "fails: accuracy 0%, at chance level (keeps none of the gain over chance)"
    )  # within the margin of chance
    weak = {"loss": 1.0, "accuracy": 0.0}  # a baseline whose accuracy is itself at chance
    assert X.verdict({"loss": 0.2, "accuracy": 0.0}, weak, chance).startswith(
        "beats the baseline (keeps 180%"
    )
    assert X.verdict({"loss": 1.02, "accuracy": 0.0}, weak, chance).startswith("matches the baseline")


def test_phrases() -> None:
    assert X.describe_task({"name": "sort", "length": 10, "n_symbols": 16}) == "sort 10 symbols drawn from 16"
    assert X.describe_task({"name": "recall", "n_pairs": 3}) == "recall (n_pairs=3)"
    assert X.compare_phrase(1.05, 1.0).startswith("about the same")
    assert X.compare_phrase(0.5, 1.0) == "50% lower (better)"
    assert X.compare_phrase(2.0, 1.0) == "100% higher (worse)"
    assert X.compare_phrase(2.0, 1.0, lower_is_better=False) == "100% higher (better)"
    assert X.number_range([1, 2, 3, 4, 5, 6]) == "1 to 6"
    assert X.number_range([1, 2]) == "1 and 2" and X.number_range([1, 2, 4]) == "1, 2 and 4"
    details = {
        "a": {"after_verdict": "fails: x", "trained_verdict": "matches the baseline"},
        "b": {"after_verdict": "worse than chance", "trained_verdict": "beats the baseline"},
        "c": {"after_verdict": "degraded", "trained_verdict": "degraded"},
    }
    assert X.surgery_summary(details) == (
        "applied after training, 2 of the 3 operations leave the model no better than chance; "
        "switched on from the start of training, 2 of the 3 operations match or beat the baseline (a and b)."
    )
    details["c"] = {"after_verdict": "worse than chance", "trained_verdict": "matches the baseline"}
    assert X.surgery_summary(details).startswith("applied after training, all 3 operations leave the model")
    one = {"a": {"after_verdict": "degraded", "trained_verdict": "beats the baseline"}}
    assert X.surgery_summary(one).endswith("the only operation matches or beats the baseline (a).")


def test_verdict_pairs_say_each_verdict_once() -> None:
    base, chance = {"loss": 0.01, "accuracy": 1.0}, {"loss": 2.0, "accuracy": 0.1}
    bad, worse = {"loss": 6.42, "accuracy": 0.1}, {"loss": 4.16, "accuracy": 0.1}
    assert X.verdict_pair(("a", bad), ("b", worse), base, chance) == (
        "both worse than chance (losses 6.42 and 4.16 > ln V = 2.00)"
    )
    good = {"loss": 0.01, "accuracy": 1.0}
    assert X.verdict_pair(("a", good), ("b", good), base, chance) == (
        "both match the baseline (each keeps 100% of the gain over chance)"
    )
    half = {"loss": 1.005, "accuracy": 0.6}
    s = X.verdict_pair(("a", good), ("b", half), base, chance)
    assert s == "a matches the baseline and b is degraded, keeping 100% and 50% of the gain over chance"
    s = X.verdict_pair(("a", bad), ("b", half), base, chance)
    assert (
        s
        == "a is worse than chance (loss 6.42 > ln V = 2.00) and b degraded (keeps 50% of the gain over chance)"
    )
    for first, second in ((good, half), (bad, worse), (half, half)):  # never the same phrase twice
        s = X.verdict_pair(("a", first), ("b", second), base, chance)
        assert s.count("gain over chance") <= 1 and s.count("ln V") <= 1


def test_circuit_case_follows_the_config() -> None:
    assert "W_Qᵀ W_K plus the key-side vector W_Kᵀ b_Q" in X.circuit_case(True, "learned")
    assert "a learned table" in X.circuit_case(True, "learned")
    assert X.circuit_case(False, "sinusoidal").endswith("no biases: only W_Qᵀ W_K")
    assert "W_Qᵀ R(n−m) W_K" in X.circuit_case(False, "rope")
    assert "no longer cancel" in X.circuit_case(True, "rope")
    assert X.circuit_case(False, "alibi").startswith("ALiBi")


# ------------------------------------------------------------------ experiments on tiny configs


def test_depth_sweep_checks_the_block_formula(tmp_path: Path) -> None:
    cfg = {"task": REVERSE, "model": {"d_model": 16, "n_heads": 2}, "train": TINY_TRAIN, "depths": [1, 2, 3]}
    cfg["eval_batches"] = 1
    out = E.depth_sweep(cfg, _ctx(tmp_path, N.DEPTH))
    assert out["params_per_block"] == 12 * 16**2 + 13 * 16 and out["depths_text"] == "1 to 3"
    assert [r["blocks"] for r in kit.table_rows(out["table"])] == [1, 2, 3] and out["deepest"] == 3
    cfg["model"] = {**cfg["model"], "activation": "swiglu"}
    with pytest.raises(AssertionError, match="12 d"):
        E.depth_sweep(cfg, _ctx(tmp_path, N.DEPTH))


def test_surgery_returns_its_checks(tmp_path: Path) -> None:
    cfg = {**get_experiment(N.SURGERY).config("quick"), "task": REVERSE, "train": TINY_TRAIN}
    out = EX.surgery(cfg, _ctx(tmp_path, N.SURGERY))
    checks = out["checks"]
    assert checks["circuit"]["exact"] < N.EXACT and "b_K cancels" in checks["circuit"]["case"]
    assert checks["zero_v"]["influence"] == 0.0 < checks["zero_v"]["baseline_influence"]
    assert checks["swap_qk_relabel_gap"] < N.EXACT and 0 < checks["random_qk"]["uniform_gap_init"] < 0.5
    assert [r[0] for r in out["verdicts"]["rows"]] == list(N.OPERATIONS)
    ops = out["operations"]
    for when, key in (("trained", "trained_with"), ("after", "after_training")):
        pair = (("swap_qk", ops["swap_qk"][key]), ("shuffle_heads", ops["shuffle_heads"][key]))
        chance = {"loss": out["chance_loss"], "accuracy": out["chance_accuracy"]}
        assert out["pairs"][f"relabel_{when}"] == X.verdict_pair(*pair, out["baseline"], chance)
    assert out["model"]["n_layers"] == cfg["model"]["n_layers"] and out["model"]["bias"] is True


def test_shared_block_counts_and_checks_the_shared_preset(tmp_path: Path) -> None:
    torch.manual_seed(0)
    GPT(GPTConfig.preset("shared")).save(tmp_path / "shared" / "model")
    needed = {SHARED_MODEL: Result(SHARED_MODEL, "quick", "k", tmp_path / "shared", {}, ran=False)}
    out = ES.shared_block(
        get_experiment(N.SHARED_BLOCK).config("quick"), _ctx(tmp_path, N.SHARED_BLOCK, needed)
    )
    shared = GPTConfig.preset("shared")
    assert out["total"] == count_parameters(shared) and out["model"]["ffn_dim"] == shared.ffn_dim
    assert sum(r[2] for r in out["table"]["rows"]) == out["total"]
    assert out["per_block"] == 4 * 128**2 + 3 * 128 * shared.ffn_dim + 2 * 128
    assert out["circuit"]["exact"] < N.EXACT < out["circuit"]["without_rotation"]
    GPT(GPTConfig.preset("shared", n_layers=1)).save(tmp_path / "other" / "model")
    other = {SHARED_MODEL: Result(SHARED_MODEL, "quick", "k", tmp_path / "other", {}, ran=False)}
    with pytest.raises(AssertionError, match="not the 'shared' preset"):
        ES.shared_block({"preset": "shared", "text": "ab"}, _ctx(tmp_path, N.SHARED_BLOCK, other))


# ------------------------------------------------------------------ registry and figures


def _curves(n: int = 30) -> dict[str, np.ndarray]:
    steps = np.arange(1, n + 1)
    return {
        "steps": steps,
        "train_loss": np.exp(-steps / 10),
        "val_steps": steps[::10],
        "val_loss": np.ones(3),
    }


def test_experiments_are_registered_with_figures_that_draw(tmp_path: Path) -> None:
    for name in (N.DEPTH, N.SURGERY, N.NORM, N.SHARED_BLOCK):
        exp = get_experiment(name)
        assert exp.topic == "transformer-block" and set(exp.profiles) >= {"quick", "full"}
    assert get_experiment(N.DEPTH).config("full")["depths"] == [1, 2, 3, 4, 5, 6]
    assert get_experiment(N.SURGERY).config("full")["operations"] == list(N.OPERATIONS)
    assert get_experiment(N.NORM).needs == (N.DEPTH,)
    assert get_experiment(N.SHARED_BLOCK).needs == (SHARED_MODEL,)
    refs = {"chance_loss": 2.0, "best_loss": 0.0, "chance_accuracy": 0.01}
    table = [{"blocks": d, "parameters": 1000 * d, "ms/step": 2.0 * d} for d in (1, 2)]
    bad = {"accuracy": 0.0, "token_accuracy": 0.1, "loss": 3.0}
    ops = {"zero_v": {"after_training": bad, "trained_with": bad}, "swap_qk": {"after_training": bad}}
    data = {
        N.DEPTH: {**refs, "runs": {"1": _curves(), "2": _curves()}, "rows": table},
        N.SURGERY: {
            **refs,
            "operations": ops,
            "rows": [{"operation": "swap_qk"}, {"operation": "zero_v"}],
            "baseline": {"accuracy": 1.0, "token_accuracy": 1.0, "loss": 0.0},
        },
        N.NORM: {
            **refs,
            "curves": {N.REFERENCE_VARIANT: _curves(), "post-norm, no warm-up": _curves(5)},
            "rows": [{"variant": "post-norm, no warm-up"}, {"variant": N.REFERENCE_VARIANT}],
        },
    }
    import matplotlib.pyplot as plt

    drawn = 0
    for name, d in data.items():
        res = Result(name, "quick", "k", tmp_path, d, ran=False)
        for fig in figures_of(name):
            out = fig.fn(res)
            assert out.axes and any(ax.lines or ax.patches for ax in out.axes), fig.name
            plt.close(out)
            drawn += 1
    assert drawn == 4
