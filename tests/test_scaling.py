"""Scaling laws: the fitter recovers known laws, the frontier is the law's minimum, FLOPs match 6ND, memory grows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from llmkb.bench.memory import breakdown, measure_steps
from llmkb.metrics.scaling import (
    LawFit,
    bootstrap,
    compute_optimal,
    fit_chinchilla,
    fit_law,
    intervals,
    loss_at_compute,
)
from llmkb.nn import GPTConfig, count_parameters
from llmkb.train.sweep import SweepRun, run_sweep, step_flops, train_point

TRUE = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}  # Chinchilla's published fit
LLAMA = {"positional": "rope", "norm": "rmsnorm", "bias": False, "vocab_size": 256, "max_seq_len": 32}


def _grid(noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e5, 1e8, 6), 4)
    d = np.tile(np.geomspace(1e6, 1e9, 4), 6)
    law = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
    return n, d, law * np.exp(rng.normal(0, noise, n.shape))


def test_chinchilla_fit_recovers_known_parameters_from_noisy_data() -> None:
    n, d, loss = _grid(noise=0.003)
    fit = fit_chinchilla(n, d, loss)
    assert fit.params["alpha"] == pytest.approx(TRUE["alpha"], abs=0.03)
    assert fit.params["beta"] == pytest.approx(TRUE["beta"], abs=0.03)
    assert fit.params["E"] == pytest.approx(TRUE["E"], rel=0.1)
    boots = bootstrap(lambda i: fit_chinchilla(n[i], d[i], loss[i], start=fit), len(loss), 20, seed=1)
    ci = intervals(boots, level=0.9)
    assert ci["alpha"][0] < fit.params["alpha"] < ci["alpha"][1]
    assert ci["beta"][1] - ci["beta"][0] < 0.1


def test_huber_fit_shrugs_off_an_outlier_that_pulls_least_squares() -> None:
    n, d, loss = _grid(noise=0.0)
    loss[5] *= 1.5  # one diverged run
    fit = fit_chinchilla(n, d, loss)
    squares = fit_chinchilla(n, d, loss, delta=10.0)  # Huber with a huge delta is plain least squares
    assert fit.params["alpha"] == pytest.approx(TRUE["alpha"], abs=0.01)
    assert abs(squares.params["alpha"] - TRUE["alpha"]) > 3 * abs(fit.params["alpha"] - TRUE["alpha"])


def test_one_variable_laws_recover_their_exponent() -> None:
    n = np.geomspace(1e4, 1e7, 8)
    fit = fit_law(n, 2.0 + 50.0 / n**0.3, form="N")
    assert fit.params == pytest.approx({"E": 2.0, "A": 50.0, "alpha": 0.3}, rel=1e-3)
    fit_d = fit_law(n, 1.5 + 20.0 / n**0.5, form="D")
    assert fit_d.params == pytest.approx({"E": 1.5, "B": 20.0, "beta": 0.5}, rel=1e-3)
    assert fit_d.predict(d=n) == pytest.approx(1.5 + 20.0 / n**0.5, rel=1e-6)
    with pytest.raises(ValueError, match="at least 3"):
        fit_law([1.0, 2.0], [3.0, 2.0])


def test_frontier_is_the_minimum_of_the_law_along_constant_compute() -> None:
    fit = LawFit("ND", dict(TRUE), 0.0)
    for compute in (1e18, 5.76e23):
        n_opt, d_opt = compute_optimal(fit, compute)
        assert 6 * n_opt * d_opt == pytest.approx(compute, rel=1e-9)
        best = minimize_scalar(lambda ln, c=compute: float(fit.predict(np.exp(ln), c / (6 * np.exp(ln)))),
                               bounds=(np.log(1e3), np.log(1e15)), method="bounded", options={"xatol": 1e-9})  # fmt: skip
        assert n_opt == pytest.approx(np.exp(best.x), rel=1e-3)
        assert loss_at_compute(fit, compute) == pytest.approx(best.fun, rel=1e-9)
    # Chinchilla's own law puts Gopher's budget (5.76e23 FLOPs) near 40 B parameters (their Table 3 range)
    assert 2e10 < compute_optimal(fit, 5.76e23)[0] < 8e10


def test_counted_flops_agree_with_6nd_for_a_dense_model() -> None:
    """Counted matmul FLOPs of a step are 6 N_m D within 2 %, N_m counting every multiplied matrix (the tied head
    too); the naive kernel adds the attention matmuls, 12 L T d per token (full T x T, as counted)."""
    cfg = GPTConfig.from_dict({**LLAMA, "d_model": 32, "n_layers": 2, "n_heads": 2, "attention": "sdpa"})
    b, t = 4, 32
    n_matmul = count_parameters(cfg, exclude_embeddings=True) + cfg.vocab_size * cfg.d_model
    counted = step_flops(cfg, b, t)
    assert counted == pytest.approx(6 * n_matmul * b * t, rel=0.02)
    naive = GPTConfig.from_dict({**LLAMA, "d_model": 32, "n_layers": 2, "n_heads": 2, "attention": "naive"})
    attn = 12 * naive.n_layers * t * naive.d_model * b * t
    assert step_flops(naive, b, t) == pytest.approx(6 * n_matmul * b * t + attn, rel=0.02)


def test_memory_recorder_reports_more_for_a_bigger_model() -> None:
    specs = [{"model": {**LLAMA, "d_model": d, "n_layers": 2, "n_heads": 4}, "batch_size": 4, "seq_len": 32}
             for d in (16, 128)]  # fmt: skip
    small, big = measure_steps(specs)
    assert big > small > 0
    parts = breakdown(GPTConfig.from_dict(specs[1]["model"]), 4, 32)
    assert parts["optimizer"] == 2 * parts["weights"] == 2 * parts["gradients"]
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert big > parts["weights"] + parts["gradients"] + parts["optimizer"]


def test_sweep_reads_budgets_from_one_constant_run_and_resumes(tmp_path) -> None:
    ids = torch.randint(0, 256, (4000,))
    data = (ids[:3500], ids[3500:])
    windows = torch.stack([ids[3500 + i * 40 : 3500 + i * 40 + 33] for i in range(4)])
    train = {"steps": 4, "batch_size": 2, "seq_len": 32, "lr": 1e-2, "min_lr": 1e-2, "warmup_steps": 1,
             "eval_every": 0, "log_every": 1}  # fmt: skip
    runs = [
        SweepRun(f"d{d}", {**LLAMA, "d_model": d, "n_layers": 1, "n_heads": 2}, train, (2, 4))
        for d in (8, 16)
    ]
    calls: list[str] = []

    def measure(run: SweepRun) -> dict:
        calls.append(run.name)
        return train_point(run, data, windows)

    first = run_sweep(runs, measure, tmp_path, progress=False)
    assert calls == ["d8", "d16"] and [r["tokens"] for r in first] == [[128, 256]] * 2
    (tmp_path / f"d16-{runs[1].key()}.json").unlink()  # as if killed before the last run finished
    again = run_sweep(runs, measure, tmp_path, progress=False)
    assert calls == ["d8", "d16", "d16"] and json.dumps(again[0]) == json.dumps(first[0])
    # the loss read at step 2 of the 4-step run is the 2-step run's loss (constant schedule)
    short = train_point(SweepRun("d8", runs[0].model, {**train, "steps": 2}, (2,)), data, windows)
    assert short["loss"][0] == pytest.approx(first[0]["loss"][0], abs=1e-6)
    with pytest.raises(ValueError, match="constant schedule"):
        train_point(SweepRun("x", runs[0].model, {**train, "min_lr": 1e-3}, (2, 4)), data, windows)
