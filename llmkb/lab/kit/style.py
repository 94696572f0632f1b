"""One shared matplotlib style for every figure of the site."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")

STYLE: dict[str, object] = {
    "figure.figsize": (7.0, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 140,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "axes.prop_cycle": matplotlib.cycler(
        color=["#3f51b5", "#e8710a", "#12b5cb", "#d01884", "#7cb342", "#9334e6", "#f9ab00", "#5f6368"]
    ),
    "image.cmap": "viridis",
}
"""rcParams applied to every lab figure."""


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Apply the shared style within a ``with`` block."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        yield
