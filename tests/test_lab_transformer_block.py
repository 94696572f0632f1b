"""The transformer-block lab's helpers: task references, operations on a trained model, verdicts, timing,
and the figures (drawn from hand-made results, so no training happens here)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from llmkb.lab import Result
from llmkb.lab.registry import figures_of, get_experiment
from llmkb.lab.topics import transformer_block as TB
from llmkb.nn import GPT, SURGERIES, Hooks, no_residual, surgery
from llmkb.train.config import TrainConfig
from llmkb.train.loop import TrainResult

matplotlib.use("Agg")

REVERSE = {"name": "reverse", "length": 4, "n_symbols": 5}


@pytest.fixture(scope="module")
def model() -> GPT:
    task = TB.make_task(REVERSE)
    torch.manual_seed(0)
    return GPT(TB.model_config(task, {"d_model": 16, "n_heads": 4, "n_layers": 2})).eval()


def test_task_references_are_the_uniform_guess() -> None:
    task = TB.make_task(REVERSE)
    assert task.name == "reverse" and task.best_loss == 0.0
    assert TB.chance_loss(task) == pytest.approx(math.log(5))
    assert TB.chance_accuracy(task) == pytest.approx(5.0**-4)
    recall = TB.make_task({"name": "recall", "n_pairs": 3, "n_keys": 6, "n_values": 7})
    assert TB.chance_loss(recall) == pytest.approx(math.log(7)) and TB.chance_accuracy(
        recall
    ) == pytest.approx(1 / 7)


def test_model_and_train_configs_follow_the_task_and_overrides() -> None:
    task = TB.make_task(REVERSE)
    cfg = TB.model_config(task, {"d_model": 16, "n_heads": 2}, n_layers=3, norm_position="post")
    assert (cfg.vocab_size, cfg.max_seq_len, cfg.n_layers, cfg.norm_position) == (6, task.seq_len, 3, "post")
    tc = TB.train_config({"train": {"steps": 7, "lr": 1e-2, "warmup_steps": 3}}, warmup_steps=0)
    assert isinstance(tc, TrainConfig) and (tc.steps, tc.warmup_steps, tc.lr) == (7, 0, 1e-2)


def test_every_operation_maps_to_hooks() -> None:
    assert TB.operation_hooks("none") == {} and TB.operation_hooks("random_qk") == {}
    assert TB.operation_hooks("no_residual") == {"residual": no_residual}
    for op in ("swap_qk", "tie_qk", "zero_v", "identity_v", "shuffle_heads"):
        assert op in SURGERIES and TB.operation_hooks(op) == surgery(op)
    assert set(TB.OPERATIONS) >= {"swap_qk", "tie_qk", "random_qk", "zero_v", "identity_v", "no_residual"}
    with pytest.raises(ValueError, match="unknown operation"):
        TB.operation_hooks("lobotomy")


def test_operate_changes_the_output_and_leaves_the_model_alone(model: GPT) -> None:
    idx = torch.randint(0, 6, (2, 8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        plain = model(idx).logits
        with TB.operate(model, "none") as same:
            assert same is model and torch.equal(same(idx).logits, plain)
        for op in TB.OPERATIONS:
            with TB.operate(model, op) as operated:
                assert not torch.allclose(operated(idx).logits, plain, atol=1e-5), op
            assert torch.equal(model(idx).logits, plain), op  # the hooks are gone again
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in model.parameters())


def test_swap_qk_on_a_trained_model_equals_swapping_the_weights(model: GPT) -> None:
    twin = GPT(model.config).eval()
    state = dict(model.state_dict())
    for i in range(model.config.n_layers):
        for part in ("weight", "bias"):
            q, k = f"blocks.{i}.attn.q_proj.{part}", f"blocks.{i}.attn.k_proj.{part}"
            state[q], state[k] = state[k], state[q]
    twin.load_state_dict(state)
    idx = torch.randint(0, 6, (2, 8))
    with torch.no_grad(), TB.operate(model, "swap_qk") as operated:
        torch.testing.assert_close(operated(idx).logits, twin(idx).logits)


def test_random_qk_redraws_only_queries_and_keys(model: GPT) -> None:
    with TB.operate(model, "random_qk", seed=3) as out, TB.operate(model, "random_qk", seed=3) as again:
        assert out is not model
        for name, p in out.named_parameters():
            orig = dict(model.named_parameters())[name]
            if ".q_proj." in name or ".k_proj." in name:
                assert torch.equal(p, dict(again.named_parameters())[name])  # seeded
                assert not p.requires_grad  # freeze_qk
                if name.endswith("bias"):
                    assert torch.all(p == 0)
                else:
                    assert not torch.equal(p, orig), name
                    assert 0.01 < float(p.std()) < 0.03
            else:
                assert torch.equal(p, orig), name


def test_train_operated_trains_under_the_operation(model: GPT) -> None:
    task = TB.make_task(REVERSE)
    tc = TrainConfig(steps=2, batch_size=4, eval_every=2, eval_batches=1, log_every=1)
    cfg = model.config
    base, base_metrics = TB.train_operated(cfg, "none", tc, task, eval_batches=1)
    frozen, _ = TB.train_operated(cfg, "random_qk", tc, task, eval_batches=1)
    cut, cut_metrics = TB.train_operated(cfg, "zero_v", tc, task, eval_batches=1)
    assert cut.model._hooks == Hooks()  # the hooks were lifted after training
    torch.manual_seed(tc.seed)  # the untrained initialization, as `train` draws it
    init = dict(GPT(cfg).named_parameters())
    for name, p in frozen.model.named_parameters():
        if ".q_proj." in name or ".k_proj." in name:
            assert not p.requires_grad and torch.equal(p, init[name]), name
        else:
            assert p.requires_grad and not torch.equal(p, init[name]), name
    assert cut_metrics != base_metrics  # evaluated under zero_v, which the fresh model also trained with
    with cut.model.hooks(**surgery("zero_v")):
        assert TB.evaluate(cut.model, task, batches=1) == cut_metrics


def test_zero_v_makes_positions_independent(model: GPT) -> None:
    """With zero values, changing an earlier token cannot change a later position's logits."""
    idx = torch.randint(0, 6, (1, 8))
    other = idx.clone()
    other[0, 0] = (idx[0, 0] + 1) % 6
    with torch.no_grad():
        with TB.operate(model, "zero_v") as cut:
            torch.testing.assert_close(cut(idx).logits[0, 1:], cut(other).logits[0, 1:])
        assert not torch.allclose(model(idx).logits[0, 1:], model(other).logits[0, 1:])


def test_evaluate_is_deterministic_and_matches_the_task_metrics(model: GPT) -> None:
    task = TB.make_task(REVERSE)
    model.train()
    a = TB.evaluate(model, task, batches=2, batch_size=8, seed=5)
    assert model.training  # mode restored
    model.eval()
    assert TB.evaluate(model, task, batches=2, batch_size=8, seed=5) == a
    g = torch.Generator().manual_seed(5)
    batches = [task.make_batch(8, g) for _ in range(2)]
    with torch.no_grad():
        losses = [float(task.loss(model(x).logits, y)) for x, y in batches]
    assert a["loss"] == pytest.approx(sum(losses) / 2)
    assert 0.0 <= a["accuracy"] <= a["token_accuracy"] <= 1.0


def test_kept_fraction_and_verdicts() -> None:
    chance = {"loss": 2.0, "accuracy": 0.01}
    base = {"loss": 0.0, "accuracy": 1.0}
    assert TB.kept_fraction(1.0, 0.0, 2.0) == pytest.approx(0.5)
    assert math.isnan(TB.kept_fraction(1.0, 2.0, 2.0))
    assert TB.verdict({"loss": 0.05, "accuracy": 0.99}, base, chance) == (
        "matches the baseline (keeps 98% of the gain over chance)"
    )
    assert TB.verdict({"loss": 1.95, "accuracy": 0.01}, base, chance).startswith("fails")
    assert TB.verdict({"loss": 0.5, "accuracy": 0.015}, base, chance).startswith("fails")  # accuracy ~ chance
    assert (
        TB.verdict({"loss": 1.0, "accuracy": 0.4}, base, chance)
        == "degraded (keeps 50% of the gain over chance)"
    )
    assert TB.verdict({"loss": 3.0, "accuracy": 0.0}, base, chance).startswith("worse than chance")
    assert TB.verdict({"loss": 2.01, "accuracy": 0.0}, base, chance) == (
        "fails: accuracy 0%, at chance level (keeps none of the gain over chance)"
    )  # within the margin of chance
    weak = {"loss": 1.0, "accuracy": 0.0}  # a baseline whose accuracy is itself at chance
    assert TB.verdict({"loss": 0.2, "accuracy": 0.0}, weak, chance).startswith(
        "beats the baseline (keeps 180%"
    )
    assert TB.verdict({"loss": 1.02, "accuracy": 0.0}, weak, chance).startswith("matches the baseline")


def test_as_table_keeps_the_column_order() -> None:
    rows = [{"b": 1, "a": 2}, {"b": 3, "a": 4}]
    assert TB.as_table(rows) == {"columns": ["b", "a"], "rows": [[1, 2], [3, 4]]}
    assert TB.as_table([]) == {"columns": [], "rows": []}


def test_describe_task() -> None:
    assert (
        TB.describe_task({"name": "sort", "length": 10, "n_symbols": 16}) == "sort 10 symbols drawn from 16"
    )
    assert TB.describe_task({"name": "recall", "n_pairs": 3}) == "recall (n_pairs=3)"


def test_compare_phrase() -> None:
    assert TB.compare_phrase(1.05, 1.0).startswith("about the same")
    assert TB.compare_phrase(0.5, 1.0) == "50% lower (better)"
    assert TB.compare_phrase(2.0, 1.0) == "100% higher (worse)"
    assert TB.compare_phrase(2.0, 1.0, lower_is_better=False) == "100% higher (better)"


def _fake_train_result(tokens_per_s: list[float]) -> TrainResult:
    history = [
        {"step": i + 1, "train_loss": 1.0, "grad_norm": 1.0, "tokens_per_s": t, "val_loss": None}
        for i, t in enumerate(tokens_per_s)
    ]
    return TrainResult(
        model=None,
        history=history,
        wall_time=1.0,
        step=len(history),
        stopped_early=False,
        train_config=TrainConfig(steps=len(history)),
    )  # type: ignore[arg-type]


def test_ms_per_step_is_the_median_window() -> None:
    res = _fake_train_result([1000.0, 2000.0, 4000.0])  # median 2000 tokens/s
    assert TB.ms_per_step(res, batch_size=4, seq_len=5) == pytest.approx(10.0)  # 20 tokens per step


def _curves(n: int = 30) -> dict[str, np.ndarray]:
    steps = np.arange(1, n + 1)
    return {
        "steps": steps,
        "train_loss": np.exp(-steps / 10),
        "val_steps": steps[::10],
        "val_loss": np.ones(3),
    }


def test_experiments_are_registered_with_figures_that_draw(tmp_path: Path) -> None:
    for name in ("transformer-block/depth", "transformer-block/surgery", "transformer-block/norm"):
        exp = get_experiment(name)
        assert exp.topic == "transformer-block" and set(exp.profiles) >= {"quick", "full"}
    full = get_experiment("transformer-block/depth").config("full")
    assert full["depths"] == [1, 2, 3, 4, 5, 6]
    assert get_experiment("transformer-block/surgery").config("full")["operations"] == list(TB.OPERATIONS)
    assert get_experiment("transformer-block/norm").needs == ("transformer-block/depth",)
    refs = {"chance_loss": 2.0, "best_loss": 0.0, "chance_accuracy": 0.01}
    table = [{"blocks": d, "parameters": 1000 * d, "ms/step": 2.0 * d} for d in (1, 2)]
    bad = {"accuracy": 0.0, "token_accuracy": 0.1, "loss": 3.0}
    ops = {"zero_v": {"after_training": bad, "trained_with": bad}, "swap_qk": {"after_training": bad}}
    data = {
        "transformer-block/depth": {**refs, "runs": {"1": _curves(), "2": _curves()}, "rows": table},
        "transformer-block/surgery": {
            **refs,
            "operations": ops,
            "rows": [{"operation": "swap_qk"}, {"operation": "zero_v"}],
            "baseline": {"accuracy": 1.0, "token_accuracy": 1.0, "loss": 0.0},
        },
        "transformer-block/norm": {
            **refs,
            "curves": {"pre-norm, warm-up": _curves(), "post-norm, no warm-up": _curves(5)},
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
