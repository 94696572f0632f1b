"""Pure functions of the scaling-laws lab: the sweep's runs, its points, the envelope, fits with intervals."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import llmkb
from llmkb.lab.topics.scaling_laws.names import HEAD_DIM
from llmkb.metrics.scaling import LawFit, bootstrap, fit_chinchilla, fit_law, intervals
from llmkb.nn import GPTConfig, count_parameters
from llmkb.train.sweep import SweepRun, budget_runs, width_model

CODE = ("nn", "train", "data", "bench/memory.py", "bench/attention.py")
"""The library code a sweep run depends on (its stored runs are keyed by a hash of these sources)."""


def model_dict(base: dict[str, Any], width: int, layers: int) -> dict[str, Any]:
    """``GPTConfig`` fields of a model of ``width`` and ``layers`` on ``base``, heads of width ``HEAD_DIM``."""
    return width_model(base, width, layers, HEAD_DIM)


def non_embedding(base: dict[str, Any], width: int, layers: int) -> int:
    """Non-embedding parameters (Kaplan et al.'s N) of that model."""
    return count_parameters(GPTConfig.from_dict(model_dict(base, width, layers)), exclude_embeddings=True)


def sweep_runs(cfg: dict[str, Any]) -> list[SweepRun]:
    """One constant-schedule run per width, its loss read at every budget of ``cfg["budgets"]`` (steps)."""
    return budget_runs(cfg["model"], cfg["train"], cfg["widths"], cfg["layers"], cfg["budgets"], HEAD_DIM)


def fingerprint(parts: Sequence[str] = CODE) -> str:
    """A hash of the sources of ``parts`` (folders or files under the llmkb package)."""
    root = Path(llmkb.__file__).parent
    h = hashlib.sha256()
    for part in parts:
        path = root / part
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def points(records: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Every (run, budget) as arrays: ``n`` (non-embedding), ``d`` (tokens), ``loss``, ``compute`` (6ND),
    ``counted`` (FlopCounterMode FLOPs up to that budget), ``size`` (index of the run)."""
    rows = [(i, r["non_embedding"], t, loss, r["step_flops"] * s)
            for i, r in enumerate(records) for t, loss, s in zip(r["tokens"], r["loss"], r["steps"], strict=True)]  # fmt: skip
    i, n, d, loss, counted = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    return {"size": i.astype(int), "n": n, "d": d, "loss": loss, "compute": 6 * n * d, "counted": counted}


def envelope(compute: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the lower envelope: the points no cheaper point beats, in order of compute."""
    order = np.argsort(compute, kind="stable")
    keep, best = [], np.inf
    for i in order:
        if loss[i] < best:
            keep.append(int(i))
            best = loss[i]
    return np.array(keep, dtype=int)


def _with_ci(fit: LawFit, boots: list[LawFit], level: float) -> dict[str, Any]:
    return {"params": fit.params, "ci": intervals(boots, level) if boots else {}, "level": level}


def fit_all(
    p: dict[str, np.ndarray], n_boot: int, level: float = 0.9, seed: int = 0, max_nfev: int | None = None
) -> dict[str, Any]:
    """L(N) at the largest budget, L(D) at the largest size, L(N, D) on every point, each with bootstrap
    percentile intervals (``n_boot`` resamples of its points); ``max_nfev`` caps each optimisation."""
    at_d = p["d"] == p["d"].max()
    at_n = p["n"] == p["n"].max()
    n, ln = p["n"][at_d], p["loss"][at_d]
    d, ld = p["d"][at_n], p["loss"][at_n]
    fn, fd = fit_law(n, ln, form="N", max_nfev=max_nfev), fit_law(d, ld, form="D", max_nfev=max_nfev)
    fnd = fit_chinchilla(p["n"], p["d"], p["loss"], max_nfev=max_nfev)
    return {
        "N": _with_ci(
            fn,
            bootstrap(
                lambda i: fit_law(n[i], ln[i], form="N", start=fn, max_nfev=max_nfev), len(n), n_boot, seed
            ),
            level,
        ),
        "D": _with_ci(
            fd,
            bootstrap(
                lambda i: fit_law(d[i], ld[i], form="D", start=fd, max_nfev=max_nfev), len(d), n_boot, seed
            ),
            level,
        ),
        "ND": _with_ci(
            fnd,
            bootstrap(
                lambda i: fit_chinchilla(p["n"][i], p["d"][i], p["loss"][i], start=fnd, max_nfev=max_nfev),
                len(p["n"]),
                n_boot,
                seed,
            ),
            level,
        ),  # fmt: skip
    }


def law(fit: dict[str, Any], form: str) -> LawFit:
    """The :class:`~llmkb.metrics.scaling.LawFit` of a stored fit."""
    return LawFit(form, dict(fit["params"]), 0.0)


def nearest_width(base: dict[str, Any], layers: int, n_target: float, widths: Sequence[int]) -> int:
    """The width among ``widths`` whose non-embedding count is nearest ``n_target`` on a log scale."""
    return min(widths, key=lambda w: abs(np.log(non_embedding(base, w, layers) / n_target)))
