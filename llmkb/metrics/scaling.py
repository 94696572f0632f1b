"""Scaling laws: fit loss against model size and data, with bootstrap intervals, and the compute-optimal frontier.

Three forms are fitted, each in log space with a Huber loss (Hoffmann et al. 2022, "Training Compute-Optimal
Large Language Models", arXiv 2203.15556, approach 3):

* ``L(N) = E + A / N^alpha`` — loss against parameters at a fixed token budget (Kaplan et al. 2020, "Scaling
  Laws for Neural Language Models", arXiv 2001.08361, fit ``L(N) = (N_c / N)^alpha_N``, i.e. ``E = 0``);
* ``L(D) = E + B / D^beta`` — loss against training tokens at a fixed size;
* ``L(N, D) = E + A / N^alpha + B / D^beta`` — Chinchilla's parametric law.

The objective is ``sum_i Huber_delta(log L_hat_i - log L_i)`` with
``log L_hat = LSE(e, a - alpha log N, b - beta log D)`` (``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)``), minimised
by ``scipy.optimize.least_squares(loss="huber", f_scale=delta)`` from the best points of a grid of starts
(the log-sum-exp keeps every term positive; the exponents are bounded below by 0). Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt",
arXiv 2404.10102) showed how narrow published intervals can be misleading: :func:`bootstrap` refits on
resampled points and :func:`intervals` reports percentile intervals.

With compute ``C = 6 N D`` the law's minimum along ``C`` is (Hoffmann et al., appendix D.2)::

    N_opt(C) = G (C/6)^(beta/(alpha+beta)),  D_opt(C) = (C/6)^(alpha/(alpha+beta)) / G,
    G = (alpha A / (beta B))^(1/(alpha+beta))
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

__all__ = [
    "FORMS",
    "LawFit",
    "bootstrap",
    "compute_optimal",
    "fit_chinchilla",
    "fit_law",
    "intervals",
    "loss_at_compute",
]

FORMS: dict[str, tuple[str, ...]] = {
    "N": ("E", "A", "alpha"),
    "D": ("E", "B", "beta"),
    "ND": ("E", "A", "alpha", "B", "beta"),
}
"""The parameters of each form, in order."""

_HUBER_DELTA = 1e-3  # Hoffmann et al.'s delta


@dataclass(frozen=True)
class LawFit:
    """A fitted law.

    Attributes:
        form: ``"N"``, ``"D"`` or ``"ND"`` (see :data:`FORMS`).
        params: the fitted parameters by name (``E``, ``A``, ``alpha``, ``B``, ``beta``).
        cost: the Huber objective at the optimum.
    """

    form: str
    params: dict[str, float]
    cost: float

    def predict(self, n: ArrayLike | None = None, d: ArrayLike | None = None) -> np.ndarray:
        """The law's loss at ``n`` parameters and/or ``d`` tokens (whichever the form uses)."""
        p = self.params
        out = np.asarray(p["E"], dtype=float)
        if "A" in p:
            out = out + p["A"] / np.asarray(n, dtype=float) ** p["alpha"]
        if "B" in p:
            out = out + p["B"] / np.asarray(d, dtype=float) ** p["beta"]
        return out


ArrayLike = Sequence[float] | np.ndarray


def _lse(x: np.ndarray) -> np.ndarray:
    """``log sum exp`` over the first axis (scipy's is slow for the small arrays of a fit)."""
    m = x.max(axis=0)
    return m + np.log(np.exp(x - m).sum(axis=0))


def _log_pred(theta: np.ndarray, logs: list[np.ndarray]) -> np.ndarray:
    """``LSE(e, a1 - alpha1 log x1, …)`` for ``theta = (e, a1, alpha1, a2, alpha2, …)`` (or a stack of thetas,
    ``(S, P)`` → ``(S, n_points)``)."""
    t = np.asarray(theta)[..., None]  # (…, P, 1)
    terms = [np.broadcast_to(t[..., 0, :], t.shape[:-2] + logs[0].shape)]
    for i, lx in enumerate(logs):
        terms.append(t[..., 1 + 2 * i, :] - t[..., 2 + 2 * i, :] * lx)
    return _lse(np.stack(terms))


def _jac(theta: np.ndarray, logs: list[np.ndarray]) -> np.ndarray:
    """d log L_hat / d theta, ``(n_points, P)``: each term's softmax weight (times ``-log x`` for an exponent)."""
    terms = [np.full(logs[0].shape, theta[0])] + [
        theta[1 + 2 * i] - theta[2 + 2 * i] * lx for i, lx in enumerate(logs)
    ]
    stacked = np.stack(terms)
    w = np.exp(stacked - _lse(stacked))  # (terms, n)
    cols = [w[0]]
    for i, lx in enumerate(logs):
        cols += [w[1 + i], -w[1 + i] * lx]
    return np.stack(cols, axis=1)


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _grid(n_terms: int) -> np.ndarray:
    """Starting points: ``e`` in {-1, 0, 1}, each ``a`` in {0, 5, 10, 15, 20}, each exponent in {0.1, 0.4, 1}."""
    axes = [(-1.0, 0.0, 1.0)] + [(0.0, 5.0, 10.0, 15.0, 20.0), (0.1, 0.4, 1.0)] * n_terms
    return np.array(list(itertools.product(*axes)))


def _fit(
    logs: list[np.ndarray],
    loss: np.ndarray,
    delta: float,
    starts: np.ndarray | None,
    keep: int,
    max_nfev: int | None,
) -> np.ndarray:
    ll = np.log(loss)
    grid = _grid(len(logs)) if starts is None else np.atleast_2d(starts)
    costs = _huber(_log_pred(grid, logs) - ll, delta).sum(axis=-1)
    best, best_cost = grid[0], np.inf
    lower = np.array([-np.inf] + [-np.inf, 0.0] * len(logs))  # exponents >= 0: a law that falls with scale
    for i in np.argsort(costs)[:keep]:
        sol = least_squares(
            lambda t: _log_pred(t, logs) - ll,
            np.maximum(grid[i], lower + 1e-9),
            bounds=(lower, np.inf),
            jac=lambda t: _jac(t, logs),
            loss="huber",
            f_scale=delta,
            max_nfev=max_nfev,
        )
        c = _huber(sol.fun, delta).sum()
        if c < best_cost:
            best, best_cost = sol.x, c
    return np.append(best, best_cost)


def _to_fit(form: str, theta: np.ndarray) -> LawFit:
    e, rest, cost = theta[0], theta[1:-1], float(theta[-1])
    names = FORMS[form][1:]
    params = {"E": float(np.exp(e))}
    for i in range(0, len(rest), 2):
        params[names[i]] = float(np.exp(rest[i]))
        params[names[i + 1]] = float(rest[i + 1])
    return LawFit(form, params, cost)


def _from_fit(fit: LawFit) -> np.ndarray:
    p = fit.params
    theta = [np.log(p["E"])]
    for coef, exp in (("A", "alpha"), ("B", "beta")):
        if coef in p:
            theta += [np.log(p[coef]), p[exp]]
    return np.array(theta)


def fit_law(
    x: ArrayLike,
    loss: ArrayLike,
    *,
    form: str = "N",
    delta: float = _HUBER_DELTA,
    start: LawFit | None = None,
    max_nfev: int | None = None,
) -> LawFit:
    """Fit ``L(x) = E + A / x^alpha`` (``form="N"``) or ``E + B / x^beta`` (``form="D"``), Huber on log-loss.

    Args:
        x: parameters (``N``) or tokens (``D``), one per measured loss.
        loss: measured losses (nats), all positive.
        form: ``"N"`` or ``"D"``: only the names of the fitted parameters differ.
        delta: the Huber threshold on log-loss residuals (1e-3, Hoffmann et al.).
        start: start from this fit instead of the grid (bootstrap refits).
        max_nfev: cap on the optimiser's function evaluations per start (``None``: scipy's default).

    Raises:
        ValueError: fewer than 3 points, a form other than N/D, or a non-positive value.
    """
    if form not in ("N", "D"):
        raise ValueError(f"form must be 'N' or 'D' for a one-variable law, got {form!r}")
    xs, ls = _check([x], loss, 3)
    theta = _fit(
        [np.log(xs[0])], ls, delta, None if start is None else _from_fit(start), 1 if start else 3, max_nfev
    )
    return _to_fit(form, theta)


def fit_chinchilla(
    n: ArrayLike,
    d: ArrayLike,
    loss: ArrayLike,
    *,
    delta: float = _HUBER_DELTA,
    start: LawFit | None = None,
    max_nfev: int | None = None,
) -> LawFit:
    """Fit ``L(N, D) = E + A / N^alpha + B / D^beta`` with a Huber loss on log-loss (Hoffmann et al., approach 3).

    Args:
        n: parameters of each run.
        d: training tokens of each run.
        loss: measured losses (nats).
        delta: the Huber threshold on log-loss residuals.
        start: start from this fit instead of the grid (bootstrap refits).
        max_nfev: cap on the optimiser's function evaluations per start (``None``: scipy's default).

    Raises:
        ValueError: fewer than 5 points, or a non-positive value.
    """
    (ns, ds), ls = _check([n, d], loss, 5)
    theta = _fit(
        [np.log(ns), np.log(ds)],
        ls,
        delta,
        None if start is None else _from_fit(start),
        1 if start else 3,
        max_nfev,
    )
    return _to_fit("ND", theta)


def _check(xs: list[ArrayLike], loss: ArrayLike, minimum: int) -> tuple[list[np.ndarray], np.ndarray]:
    arrays = [np.asarray(x, dtype=float) for x in xs]
    ls = np.asarray(loss, dtype=float)
    if len(ls) < minimum or any(a.shape != ls.shape for a in arrays):
        raise ValueError(
            f"need at least {minimum} points, one value of each variable per loss; got {len(ls)}"
        )
    if (ls <= 0).any() or any((a <= 0).any() for a in arrays):
        raise ValueError("sizes, token counts and losses must all be positive")
    return arrays, ls


def bootstrap(
    refit: Callable[[np.ndarray], LawFit], n_points: int, n_boot: int, seed: int = 0
) -> list[LawFit]:
    """Refit on ``n_boot`` resamples (with replacement) of the ``n_points`` data points.

    Args:
        refit: fits the law on the points with the given indices (e.g.
            ``lambda i: fit_chinchilla(n[i], d[i], loss[i], start=full_fit)``).
        n_points: number of data points.
        n_boot: number of resamples.
        seed: seed of the resampling.

    Returns:
        One fit per resample.
    """
    rng = np.random.default_rng(seed)
    return [refit(rng.integers(0, n_points, n_points)) for _ in range(n_boot)]


def intervals(fits: Sequence[LawFit], level: float = 0.9) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each parameter over bootstrap fits: ``{name: (low, high)}`` at ``level``."""
    if not fits:
        raise ValueError("no bootstrap fits")
    lo, hi = 50 * (1 - level), 50 * (1 + level)
    return {
        k: (float(np.percentile(v, lo)), float(np.percentile(v, hi)))
        for k in fits[0].params
        for v in [[f.params[k] for f in fits]]
    }


def compute_optimal(fit: LawFit, compute: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N_opt, D_opt)`` minimising the Chinchilla law under ``6 N D = C`` (module docstring).

    Raises:
        ValueError: ``fit`` is not an ``"ND"`` fit.
    """
    if fit.form != "ND":
        raise ValueError(f"the compute-optimal frontier needs an L(N, D) fit, got form {fit.form!r}")
    p = fit.params
    a, b = p["alpha"], p["beta"]
    if min(a, b) <= 0:
        raise ValueError(
            f"the fit has a zero exponent (alpha={a:.3g}, beta={b:.3g}): no compute-optimal size"
        )
    g = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    c6 = np.asarray(compute, dtype=float) / 6
    return g * c6 ** (b / (a + b)), c6 ** (a / (a + b)) / g


def loss_at_compute(fit: LawFit, compute: float | np.ndarray) -> np.ndarray:
    """The law's loss at the compute-optimal point of each ``C``: ``L(N_opt(C), D_opt(C))``."""
    n, d = compute_optimal(fit, compute)
    return fit.predict(n, d)
