"""One shared matplotlib style for every figure of the site, in a light and a dark theme, and the size rule
that keeps a figure's text readable in the page column.

A figure is drawn for the column it lives in. The site shows it at its natural size (``width_in`` inches at
96 CSS px per inch) or shrunk to the column, whichever is smaller, so its smallest text renders at

    px = pt * 96 / 72 * min(1, column_px / (96 * width_in))

CSS pixels. :func:`text_px` computes it and :func:`check_readable` refuses a figure whose smallest text would
be under :data:`MIN_TEXT_PX` at :data:`COLUMN_PX`: make the figure narrower (stack its panels) or its fonts
larger. On a phone the page keeps each figure at least as wide as its text needs (:func:`readable_width_px`)
and lets it scroll sideways in its frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

COLUMN_PX = 688
"""Width of the page's text column in CSS px on a desktop screen (Material at 1280 px; measured by the browser
tests)."""
MIN_TEXT_PX = 11.0
"""Smallest text a reader can read comfortably, in CSS px."""
CSS_PX_PER_IN = 96.0
"""CSS px per inch: a figure's natural size on the page is its size in inches times this."""

STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "savefig.bbox": "tight",
    "svg.fonttype": "none",  # text stays text in SVG figures: searchable, selectable, crisp
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}
"""rcParams applied to every lab figure (both themes)."""

THEMES: dict[str, dict[str, Any]] = {
    "light": {
        "axes.prop_cycle": matplotlib.cycler(
            color=["#3f51b5", "#e8710a", "#12b5cb", "#d01884", "#7cb342", "#9334e6", "#f9ab00", "#5f6368"]
        ),
        "figure.facecolor": "#ffffff",
        "savefig.facecolor": "#ffffff",
        "axes.facecolor": "#ffffff",
        "text.color": "#1f1f1f",
        "axes.labelcolor": "#1f1f1f",
        "axes.edgecolor": "#5f6368",
        "xtick.color": "#3c4043",
        "ytick.color": "#3c4043",
        "grid.color": "#9aa0a6",
        "legend.labelcolor": "#1f1f1f",
    },
    "dark": {
        # Material's "slate" background (hsl(232, 15%, 14%)); the palette lightened to hold contrast on it
        "axes.prop_cycle": matplotlib.cycler(
            color=["#8c9eff", "#ffa94d", "#4dd0e1", "#f06fb0", "#9ccc65", "#c58af9", "#ffd54f", "#bdc1c6"]
        ),
        "figure.facecolor": "#1e2029",
        "savefig.facecolor": "#1e2029",
        "axes.facecolor": "#1e2029",
        "text.color": "#e3e3e8",
        "axes.labelcolor": "#e3e3e8",
        "axes.edgecolor": "#9aa0a6",
        "xtick.color": "#c4c7cf",
        "ytick.color": "#c4c7cf",
        "grid.color": "#80868b",
        "legend.labelcolor": "#e3e3e8",
        "patch.edgecolor": "#e3e3e8",
    },
}
"""Colour overrides per theme: every figure is drawn once per theme and the page shows the one matching the
reader's palette."""


@contextlib.contextmanager
def context(theme: str = "light") -> Iterator[None]:
    """Apply the shared style in ``theme`` ("light" or "dark") within a ``with`` block."""
    import matplotlib.pyplot as plt

    if theme not in THEMES:
        raise ValueError(f"unknown figure theme {theme!r}; use one of {sorted(THEMES)}")
    with plt.rc_context({**STYLE, **THEMES[theme]}):
        yield


def ink() -> str:
    """The foreground colour of the theme being drawn (for reference lines, outlines, annotations)."""
    return str(matplotlib.rcParams["text.color"])


def muted() -> str:
    """A secondary foreground colour of the theme being drawn (for chance/baseline lines)."""
    return str(matplotlib.rcParams["grid.color"])


def paper() -> str:
    """The background colour of the theme being drawn."""
    return str(matplotlib.rcParams["axes.facecolor"])


def text_px(min_font_pt: float, width_in: float, column_px: float = COLUMN_PX) -> float:
    """CSS px of a figure's smallest text when the figure is shown in a column ``column_px`` wide.

    The figure is shown at its natural width (``width_in`` × 96 px) or shrunk to the column if wider:
    ``px = pt · 96/72 · min(1, column_px / (96 · width_in))``.
    """
    natural = CSS_PX_PER_IN * width_in
    return min_font_pt * CSS_PX_PER_IN / 72.0 * min(1.0, column_px / natural)


def readable_width_px(min_font_pt: float, width_in: float) -> int:
    """The narrowest width (CSS px) at which the figure's smallest text is still :data:`MIN_TEXT_PX`."""
    natural = CSS_PX_PER_IN * width_in
    scale = MIN_TEXT_PX / (min_font_pt * CSS_PX_PER_IN / 72.0)
    return int(round(min(natural, natural * scale)))


def check_readable(min_font_pt: float, width_in: float, what: str) -> None:
    """Raise ``ValueError`` if ``what``'s smallest text is under :data:`MIN_TEXT_PX` at the page column.

    Args:
        min_font_pt: the figure's smallest font size (measured from its SVG: :func:`llmkb.lab.render.svg_facts`).
        width_in: the saved figure's width in inches (after the tight bounding box).
        what: the figure's name, for the message.
    """
    px = text_px(min_font_pt, width_in)
    if px < MIN_TEXT_PX - 1e-6:
        fit = min_font_pt * COLUMN_PX / (72.0 * MIN_TEXT_PX)
        raise ValueError(
            f"figure {what}: its smallest text ({min_font_pt:g} pt) renders at {px:.1f} px in the "
            f"{COLUMN_PX}-px column (needs ≥ {MIN_TEXT_PX:g} px); make it at most {fit:.1f} in wide at that "
            "font size, stack its panels, or enlarge its smallest text"
        )
