"""The reading experience on a desktop (1280 px) and a phone (390 px), light and dark: every page loads (HTTP
200) with no console error and no request to another host, no page scrolls sideways, every image has alt text,
every lab figure shows the file for the reader's palette with its smallest text at least 11 px, and opens full
size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmkb.lab.kit import style
from llmkb.lab.render import svg_facts

pytestmark = pytest.mark.xdist_group("site")

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# everything the test needs from a page, in one round trip
_MEASURE = """() => {
  const root = document.documentElement;
  const figs = Array.from(document.querySelectorAll("figure.llmkb-figure")).map((f) => {
    const shown = Array.from(f.querySelectorAll("a.llmkb-figure-link")).filter((a) => a.offsetParent !== null);
    const img = shown.length ? shown[0].querySelector("img") : null;
    return {
      shown: shown.map((a) => (a.classList.contains("llmkb-figure-dark") ? "dark" : "light")),
      href: shown.length ? new URL(shown[0].href, location.href).pathname : null,
      src: img ? img.getAttribute("src") : null,
      width: img ? img.clientWidth : 0,
      widthIn: img ? Number(img.dataset.widthIn) : 0,
      minPt: img ? Number(img.dataset.minFontPt) : 0,
      frame: f.querySelector(".llmkb-figure-frame").clientWidth,
    };
  });
  const noAlt = Array.from(document.querySelectorAll("article img"))
    .filter((i) => !(i.getAttribute("alt") || "").trim()).map((i) => i.getAttribute("src"));
  return { overflow: root.scrollWidth - window.innerWidth, scheme: document.body.dataset.mdColorScheme,
           figs, noAlt };
}"""


def _pages(built_site) -> list[str]:
    out = []
    for p in sorted(built_site.dir.rglob("index.html")):
        rel = p.parent.relative_to(built_site.dir).as_posix()
        out.append("" if rel == "." else rel + "/")
    return out


def _text_px(fig: dict) -> float:
    """CSS px of a figure's smallest text as shown: pt at 96/72 px per pt, scaled by shown/natural width."""
    return fig["minPt"] * 96 / 72 * fig["width"] / (96 * fig["widthIn"])


def _open_full_size(page, index: int) -> None:
    """Click figure ``index``: the lightbox shows it at least at its natural width; Escape closes it."""
    link = page.locator("figure.llmkb-figure a.llmkb-figure-link:visible").nth(index)
    link.scroll_into_view_if_needed()
    natural = int(link.locator("img").get_attribute("width"))
    link.click()
    big = page.locator(".llmkb-lightbox img")
    big.wait_for(timeout=5000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.llmkb-lightbox img'); return i.complete && i.naturalWidth; }"
    )
    assert big.evaluate("(i) => i.clientWidth") >= natural
    assert big.get_attribute("src") == link.get_attribute("href")
    page.keyboard.press("Escape")
    assert page.locator(".llmkb-lightbox").count() == 0


COMBOS = [("desktop", "light"), ("phone", "light"), ("phone", "dark"), ("desktop", "dark")]

_SHOW = """(scheme) => {
  document.body.setAttribute("data-md-color-scheme", scheme);
  return new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(ok, 50))));
}"""


def _check(built_site, rel: str, m: dict, viewport: str, scheme: str) -> list[str]:
    """What is wrong with one page as measured at one width in one palette."""
    out = []
    if m["overflow"] > 0:
        out.append(f"{rel} [{viewport} {scheme}]: page {m['overflow']} px wider than the screen")
    out += [f"{rel}: image without alt text: {src}" for src in m["noAlt"]]
    for i, fig in enumerate(m["figs"]):
        if fig["shown"] != [scheme]:
            out.append(f"{rel} [{viewport} {scheme}]: figure {i} shows {fig['shown']}")
            continue
        px = _text_px(fig)
        if px < style.MIN_TEXT_PX - 0.05:
            out.append(f"{rel} [{viewport} {scheme}]: figure {fig['src']}: smallest text {px:.1f} px")
        if not (built_site.root / fig["href"].lstrip("/")).is_file():  # Material makes hrefs absolute
            out.append(f"{rel}: figure link {fig['href']} leads nowhere")
        if viewport == "desktop" and fig["frame"] < style.COLUMN_PX:
            out.append(f"{rel}: column {fig['frame']} px, the figure rule assumes {style.COLUMN_PX}")
    return out


WALKERS = 3
"""Browsers walking the pages side by side: a walk is mostly waiting (loads, frames, the lightbox), so three
share the cores that one leaves idle."""


def _walk(built_site, server_url: str, pages: list[str]) -> tuple[list[str], list[str], list[str], int]:
    """One browser of its own (Playwright's sync API is one instance per thread) walking ``pages``: returns the
    problems, console errors, requests to other hosts and the number of figures seen."""
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    errors: list[str] = []
    foreign: list[str] = []  # requests to any other host: the site serves everything itself
    origin = "/".join(server_url.split("/", 3)[:3])
    n_figs = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=VIEWPORTS["desktop"], color_scheme="light").new_page()
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on(
                "request",
                lambda req: (
                    None
                    if req.url.startswith((origin, "data:", "blob:", "about:"))
                    else foreign.append(req.url)
                ),
            )
            for rel in pages:
                page.set_viewport_size(VIEWPORTS["desktop"])
                resp = page.goto(server_url + rel, wait_until="load")
                assert resp is not None and resp.status == 200, rel
                assert page.locator("article").count() >= 1, rel
                assert page.evaluate("document.body.dataset.mdColorScheme") == "default", rel
                # a page without figures (the API reference: long, figure-less) is the same in both palettes
                has_figs = page.locator("figure.llmkb-figure").count() > 0
                for viewport, scheme in COMBOS if has_figs else COMBOS[:2]:
                    page.set_viewport_size(VIEWPORTS[viewport])
                    page.evaluate(_SHOW, "slate" if scheme == "dark" else "default")
                    m = page.evaluate(_MEASURE)
                    problems += _check(built_site, rel, m, viewport, scheme)
                    n_figs += len(m["figs"])
                    if m["figs"] and (viewport, scheme) in (("desktop", "light"), ("phone", "dark")):
                        _open_full_size(
                            page, len(m["figs"]) - 1
                        )  # every figure is a link to its file (above)
        finally:
            browser.close()
    return problems, errors, foreign, n_figs


def _share(built_site, pages: list[str], n: int) -> list[list[str]]:
    """``pages`` dealt to ``n`` walkers, heaviest first (by HTML size) to whoever has the least so far."""
    loads = [0] * n
    out: list[list[str]] = [[] for _ in range(n)]
    size = {rel: (built_site.dir / rel / "index.html").stat().st_size for rel in pages}
    for rel in sorted(pages, key=lambda r: -size[r]):
        i = loads.index(min(loads))
        out[i].append(rel)
        loads[i] += size[rel] + 200_000  # a page costs its bytes plus a fixed load
    return out


def test_every_page_fits_and_its_figures_read(built_site, server_url):
    """Each page is loaded once (desktop, light) and then looked at on a phone and in the dark palette by
    resizing the window and switching Material's palette attribute, as a reader turning a phone or the
    palette toggle does (the widget tests load each width and palette afresh). The pages are shared by
    ``WALKERS`` browsers walking side by side."""
    from concurrent.futures import ThreadPoolExecutor

    pages = _pages(built_site)
    with ThreadPoolExecutor(WALKERS) as pool:
        walks = list(
            pool.map(lambda chunk: _walk(built_site, server_url, chunk), _share(built_site, pages, WALKERS))
        )
    problems = [p for w in walks for p in w[0]]
    errors = [e for w in walks for e in w[1]]
    foreign = [f for w in walks for f in w[2]]
    n_figs = sum(w[3] for w in walks)
    assert not problems, "\n".join(problems)
    assert not errors, f"console errors: {errors}"
    assert not foreign, f"requests to other hosts: {foreign}"
    assert n_figs >= 4 * 20  # each lab figure, counted once per width and palette


def test_figure_facts_on_the_page_are_the_files_own(built_site):
    """The size facts a figure's ``<img>`` carries (which the browser test checks) are those of the figure
    file itself: its SVG's width and smallest text, read again here."""
    img = re.compile(r'<img src="([^"]+\.svg)"[^>]*data-width-in="([\d.]+)" data-min-font-pt="([\d.]+)"')
    seen = 0
    for html_path in built_site.dir.glob("[0-9][0-9]-*/**/index.html"):
        for src, width_in, min_pt in img.findall(html_path.read_text(encoding="utf-8")):
            w, _, pt = svg_facts(Path(html_path.parent, src).resolve().read_text(encoding="utf-8"))
            assert abs(w - float(width_in)) < 1e-3 and pt == float(min_pt), src
            assert style.text_px(pt, w) >= style.MIN_TEXT_PX, src
            seen += 1
    assert seen >= 20
