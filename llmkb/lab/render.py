"""Render a registered figure for the site: once per theme (light, dark), as SVG where the figure is light
enough and PNG where it is not, with the size facts the page needs to show it readably.

Both files and a small JSON record of the facts are cached next to the experiment's result, keyed by the
figure's code and the style, so a warm build renders nothing. The record is written last: a render that dies
half-way leaves no record and is redone.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llmkb.lab import cache
from llmkb.lab.kit import style
from llmkb.lab.registry import Figure, code_of

__all__ = ["SVG_MAX_BYTES", "RenderedFigure", "render_figure", "svg_facts"]

SVG_MAX_BYTES = 350_000
"""A figure whose SVG is larger than this (many markers, a dense mesh) ships as PNG instead."""

_SIZE = re.compile(r'<svg[^>]*\swidth="([\d.]+)pt"\s+height="([\d.]+)pt"')
_TEXT = re.compile(r"<text\b[^>]*>.*?</text>", re.S)
_FONT = re.compile(r"font-size:\s*([\d.]+)px")


@dataclass(frozen=True)
class RenderedFigure:
    """A figure rendered for the site.

    Attributes:
        light: the file drawn in the light theme.
        dark: the file drawn in the dark theme.
        fmt: ``"svg"`` or ``"png"``.
        width_in: the saved figure's width in inches (after the tight bounding box).
        height_in: its height in inches.
        min_font_pt: its smallest text in points (a super/subscript counts as the text it belongs to).
    """

    light: Path
    dark: Path
    fmt: str
    width_in: float
    height_in: float
    min_font_pt: float

    @property
    def natural_px(self) -> tuple[int, int]:
        """Width and height in CSS px at the figure's natural size."""
        return round(self.width_in * style.CSS_PX_PER_IN), round(self.height_in * style.CSS_PX_PER_IN)

    @property
    def readable_px(self) -> int:
        """The narrowest width in CSS px at which its smallest text is still readable."""
        return style.readable_width_px(self.min_font_pt, self.width_in)


def svg_facts(svg: str) -> tuple[float, float, float]:
    """Width and height (inches) and smallest text size (pt) of an SVG saved by matplotlib.

    matplotlib writes SVG in points (``width="…pt"``, user units of 1 pt) and, with ``svg.fonttype`` "none",
    each text as a ``<text>`` whose ``font-size`` is in those units; mathtext splits a text into ``<tspan>``
    pieces, of which the largest is the text's own size.
    """
    m = _SIZE.search(svg)
    if m is None:
        raise ValueError("not a matplotlib SVG: no width/height in points")
    sizes = [max(float(s) for s in _FONT.findall(t)) for t in _TEXT.findall(svg) if _FONT.search(t)]
    if not sizes:
        sizes = [float(style.STYLE["font.size"])]  # type: ignore[arg-type]
    return float(m[1]) / 72.0, float(m[2]) / 72.0, min(sizes)


def _tag(fig: Figure) -> str:
    return cache.make_key(
        {
            "code": code_of(fig.fn),
            "style": cache.code_hash(style.__name__),
            "render": cache.code_hash(__name__),
        }
    )[:10]


def _write(data: bytes, out: Path) -> None:
    """Write ``out`` atomically (another process may be rendering the same figure right now)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=out.suffix, dir=out.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)


def render_figure(fig: Figure, result: cache.Result) -> RenderedFigure:
    """Render ``fig`` for ``result`` in both themes (cached next to the result) and return what was made.

    Raises:
        ValueError: the figure's smallest text would be unreadable in the page column
            (:func:`llmkb.lab.kit.style.check_readable`).
    """
    import matplotlib.pyplot as plt

    out = result.dir / "figures"
    record = out / f"{fig.name}-{_tag(fig)}.json"
    if record.is_file():
        facts = json.loads(record.read_text(encoding="utf-8"))
        r = RenderedFigure(**{**facts, "light": out / facts["light"], "dark": out / facts["dark"]})
        if r.light.is_file() and r.dark.is_file():
            style.check_readable(r.min_font_pt, r.width_in, f"{result.name}/{fig.name}")  # a cached one too
            return r
    out.mkdir(parents=True, exist_ok=True)
    facts: dict = {}
    for theme in ("light", "dark"):
        with style.context(theme):
            mpl_fig = fig.fn(result)
            try:
                svg = io.BytesIO()
                mpl_fig.savefig(svg, format="svg", metadata={"Date": None})
                if theme == "light":
                    w, h, pt = svg_facts(svg.getvalue().decode("utf-8"))
                    style.check_readable(pt, w, f"{result.name}/{fig.name}")
                    fmt = "svg" if svg.tell() <= SVG_MAX_BYTES else "png"
                    facts = {"fmt": fmt, "width_in": w, "height_in": h, "min_font_pt": pt}
                data = svg
                if facts["fmt"] == "png":
                    data = io.BytesIO()
                    mpl_fig.savefig(data, format="png", metadata={"Software": None})
            finally:
                plt.close(mpl_fig)
        name = f"{record.stem}-{theme}.{facts['fmt']}"
        _write(data.getvalue(), out / name)
        facts[theme] = name
    _write(json.dumps(facts, indent=1).encode("utf-8"), record)
    return RenderedFigure(**{**facts, "light": out / facts["light"], "dark": out / facts["dark"]})
