"""Axis helpers shared by the figures of every topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["nice_log_yticks", "percent_yaxis", "plain_log_ticks"]


def plain_log_ticks(ax: Any, xs: Sequence[float] | None = None) -> None:
    """Plain-number labels on log axes, no minor labels; major x ticks at ``xs`` when given."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(NullFormatter())
    if xs is not None:
        ax.set_xticks(list(xs), [f"{v:g}" for v in xs])


def nice_log_yticks(ax: Any, powers_of_two: bool = False) -> None:
    """Labelled ticks at 1-2-5 steps (or powers of two) inside the current limits of a log y axis."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    lo, hi = ax.get_ylim()
    if powers_of_two:
        ticks = [float(v) for v in 2.0 ** np.arange(-10, 21)]
    else:
        ticks = [m * 10.0**e for e in range(-6, 10) for m in (1, 2, 5)]
    ax.set_yticks([v for v in ticks if lo <= v <= hi])
    ax.set_ylim(lo, hi)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def percent_yaxis(ax: Any, label: str = "accuracy (%)") -> None:
    """A 0-100 % y axis labelled ``label``, with 3 points of room so markers and error bars at 0 and 100 show whole."""
    ax.set_ylabel(label)
    ax.set_ylim(-3, 103)
