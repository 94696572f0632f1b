"""How a lab figure appears on a page: both theme variants (CSS shows the one matching the reader's palette),
each a link to the full-size file (``llmkb.js`` opens it in a lightbox), sized so its text stays readable.

The ``<img>`` carries the facts the browser tests check: ``width``/``height`` (natural CSS size),
``data-width-in`` and ``data-min-font-pt`` (from the rendered file, :func:`llmkb.lab.render.svg_facts`); its
``--llmkb-readable`` width keeps the figure from shrinking below readable text on a phone, where its frame
scrolls sideways instead.
"""

from __future__ import annotations

import html
import re

from llmkb.lab.render import RenderedFigure

__all__ = ["LAB_FIGURE", "figure_html"]

LAB_FIGURE = re.compile(r'<img\b[^>]*\bdata-llmkb-figure="(?P<exp>[^"]+)::(?P<name>[^"]+)"[^>]*>')
"""What :func:`llmkb.lab.notebook.show_figure` leaves in a lab notebook's output for the site to replace."""


def _img(r: RenderedFigure, theme: str, url: str, alt: str) -> str:
    w, h = r.natural_px
    return (
        f'<a class="llmkb-figure-link llmkb-figure-{theme}" href="{html.escape(url, quote=True)}" '
        f'title="Open full size"><img src="{html.escape(url, quote=True)}" alt="{alt}" width="{w}" '
        f'height="{h}" loading="lazy" decoding="async" data-width-in="{r.width_in:.4f}" '
        f'data-min-font-pt="{r.min_font_pt:g}" style="--llmkb-readable: {r.readable_px}px"></a>'
    )


def figure_html(
    r: RenderedFigure, light_url: str, dark_url: str, caption: str, *, css_class: str = "", note: str = ""
) -> str:
    """The ``<figure>`` for a rendered figure.

    Args:
        r: the rendered figure.
        light_url: URL of its light-theme file relative to the page.
        dark_url: URL of its dark-theme file relative to the page.
        caption: plain-text caption, also the images' alt text.
        css_class: extra classes of the ``<figure>`` (e.g. the preview's quick-profile mark).
        note: HTML appended to the caption (already escaped).
    """
    alt = html.escape(caption, quote=True)
    cls = " ".join(["llmkb-figure", css_class]).strip()
    return (
        f'<figure class="{cls}"><div class="llmkb-figure-frame">'
        + _img(r, "light", light_url, alt)
        + _img(r, "dark", dark_url, alt)
        + f"</div><figcaption>{html.escape(caption)}{note}</figcaption></figure>"
    )
