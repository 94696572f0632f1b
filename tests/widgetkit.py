"""Shared checks of the widget pages on a phone (390×844) and a desktop (1280×900), in light and dark mode.

One browser context per device; the page is opened in one scheme and Material's palette toggle switches it to
the other, so each widget is checked after a first load *and* after a live palette change. What is checked:
the page never scrolls sideways, every text the widget shows in the DOM (SVG text at its on-screen scale) is at
least 11 px, canvas text is drawn at least 11 px at the canvas's displayed scale and the canvas backing store
has devicePixelRatio pixels per CSS pixel (crisp), and colours keep a contrast ratio (WCAG 2) computed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import Watched, open_widget

MIN_PX = 11.0
"""Smallest text size a widget may show, in CSS px at 390 px width."""

DEVICES: dict[str, dict] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "color_scheme": "dark"},
    "desktop": {
        "viewport": {"width": 1280, "height": 900},
        "device_scale_factor": 1,
        "color_scheme": "light",
    },
}
"""Each device opens in one scheme and is toggled to the other (both first loads are covered)."""

SLATE = {"dark": "slate", "light": "default"}


@contextmanager
def device_page(browser, server_url: str, device: str) -> Iterator[Watched]:
    """A page in a fresh context for ``device`` that records console errors and off-site requests."""
    context = browser.new_context(**DEVICES[device])
    page = context.new_page()
    w = Watched(page, "/".join(server_url.split("/", 3)[:3]))
    page.on("console", lambda m: w.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: w.errors.append(f"pageerror: {exc}"))

    def on_request(req) -> None:
        if not req.url.startswith((w.origin, "data:", "blob:", "about:")):
            w.foreign.append(req.url)

    page.on("request", on_request)
    try:
        yield w
    finally:
        context.close()


def drag(page, selector: str, dx: float, dy: float, steps: int = 5) -> None:
    """Press the mouse at the centre of ``selector`` and move it by (``dx``, ``dy``) before releasing."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=steps)
    page.mouse.up()


def schemes(device: str) -> tuple[str, str]:
    """The scheme ``device`` opens in, then the one the toggle switches to."""
    first = DEVICES[device]["color_scheme"]
    return first, "light" if first == "dark" else "dark"


def open_page(page, url: str, widget: str, scheme: str) -> None:
    """Open ``url``, wait for the widget, check the page came up in ``scheme``."""
    open_widget(page, url, widget)
    assert page.evaluate("document.body.dataset.mdColorScheme") == SLATE[scheme]


def toggle_scheme(page, scheme: str) -> None:
    """Switch Material's palette to ``scheme`` with its header toggle, as a reader would."""
    page.locator("form[data-md-component=palette] label:not([hidden])").click()
    page.wait_for_function(f"document.body.dataset.mdColorScheme === '{SLATE[scheme]}'", timeout=5000)


def no_sideways_scroll(page) -> None:
    """The document is no wider than the viewport."""
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw, f"the page scrolls sideways: {sw} px wide in a {iw}-px viewport"


_TEXT_SIZES = """
(root) => {
  const out = [];
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('option, title, style, script')) continue;
    if (!el.getClientRects().length) continue;  // not rendered
    let px = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement) {  // SVG text: its font size times the on-screen scale of its user space
      const m = el.getScreenCTM();
      px *= Math.hypot(m.a, m.b);
    }
    out.push([n.textContent.trim().slice(0, 40), Math.round(px * 100) / 100]);
  }
  return out;
}
"""


def dom_text_sizes(page, widget: str) -> list[tuple[str, float]]:
    """Every rendered text of the widget with its on-screen font size in CSS px."""
    return [tuple(x) for x in page.locator(widget).evaluate(_TEXT_SIZES)]


def check_dom_text(page, widget: str) -> int:
    """Every text of the widget is at least :data:`MIN_PX`; returns how many texts were measured."""
    sizes = dom_text_sizes(page, widget)
    small = [s for s in sizes if s[1] < MIN_PX]
    assert sizes and not small, f"text under {MIN_PX} px: {small[:10]}"
    return len(sizes)


CANVAS_FITS = """(sel) => { const c = document.querySelector(sel);
    return Math.abs(c.width - c.getBoundingClientRect().width * window.devicePixelRatio) <= 1; }"""
"""A ``wait_for_function`` predicate: the canvas's backing store matches its displayed width."""


def check_canvas(page, canvas: str, font_holder: str | None = None) -> dict:
    """The canvas is crisp (devicePixelRatio backing pixels per CSS px) and its text, whose CSS size the widget
    exposes as ``data-font-px`` (on ``font_holder``, default the canvas), shows at least :data:`MIN_PX`."""
    c = page.evaluate(
        """([sel, holder]) => { const c = document.querySelector(sel); const r = c.getBoundingClientRect();
             return {w: r.width, h: r.height, bw: c.width, bh: c.height, dpr: window.devicePixelRatio,
                     font: Number(document.querySelector(holder).dataset.fontPx)}; }""",
        [canvas, font_holder or canvas],
    )
    assert c["w"] > 0 and c["font"] > 0, c
    assert abs(c["bw"] - c["w"] * c["dpr"]) <= 1 and abs(c["bh"] - c["h"] * c["dpr"]) <= 1, c  # crisp
    shown = c["font"] * c["w"] / (c["bw"] / c["dpr"])
    assert shown >= MIN_PX, f"canvas text shows at {shown:.1f} px: {c}"
    return c


# ------------------------------------------------------------------ colour


def parse_color(text: str) -> tuple[float, float, float, float]:
    """``(r, g, b, a)`` of a CSS ``rgb()``/``rgba()``/``#rrggbb`` string (r, g, b in 0..255, a in 0..1)."""
    text = text.strip()
    if text.startswith("#") and len(text) == 7:
        return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16), 1.0)
    nums = [float(x) for x in re.findall(r"[\d.]+", text)]
    if not text.startswith("rgb") or len(nums) not in (3, 4):
        raise ValueError(f"not an rgb colour: {text!r}")
    return (nums[0], nums[1], nums[2], nums[3] if len(nums) == 4 else 1.0)


def over(fg: tuple, bg: tuple) -> tuple[float, float, float, float]:
    """``fg`` composited over an opaque ``bg``."""
    a = fg[3]
    return (*(fg[i] * a + bg[i] * (1 - a) for i in range(3)), 1.0)


def luminance(c: tuple) -> float:
    """WCAG relative luminance of an opaque colour."""

    def lin(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast(fg: str | tuple, bg: str | tuple) -> float:
    """WCAG contrast ratio of ``fg`` (composited over ``bg`` if translucent) against an opaque ``bg``."""
    b = parse_color(bg) if isinstance(bg, str) else bg
    f = over(parse_color(fg) if isinstance(fg, str) else fg, b)
    hi, lo = sorted((luminance(f), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def page_background(page) -> str:
    """The page's background colour (Material's ``--md-default-bg-color``), resolved to ``rgb(...)``."""
    return page.evaluate(
        """() => { const d = document.createElement('div'); d.style.color = 'var(--md-default-bg-color)';
                   document.body.appendChild(d); const c = getComputedStyle(d).color; d.remove(); return c; }"""
    )


def canvas_pixel(page, canvas: str, x: float, y: float) -> tuple[int, int, int, float]:
    """The canvas pixel at CSS position ``(x, y)`` of the canvas, as ``(r, g, b, a)``."""
    r, g, b, a = page.evaluate(
        """([sel, x, y]) => { const c = document.querySelector(sel); const s = c.width / c.getBoundingClientRect().width;
             return Array.from(c.getContext('2d').getImageData(Math.floor(x * s), Math.floor(y * s), 1, 1).data); }""",
        [canvas, x, y],
    )
    return (r, g, b, a / 255)
