"""The KV-cache step-through widget in Debian's chromium: every scenario loads, stepping updates the counts, and
the counts and running hit rate shown equal what the exported trace grid says; on a phone and a desktop, in light
and dark mode, it fits, its labels read, its hit cells keep their contrast and the demo continuation is text."""

from __future__ import annotations

import json

import pytest
import widgetkit as wk
from conftest import open_widget, widget_data

from llmkb.infer.kvtrace import EVICTED, HIT, MISS

pytestmark = pytest.mark.xdist_group("site")

PAGE = "06-kv-cache/"
WIDGET = "[data-llmkb-widget='kvcache']"


def _open(page, server_url: str) -> None:
    open_widget(page, server_url + PAGE, WIDGET)


def _data(built_site, page) -> dict:
    return widget_data(built_site, page, PAGE, WIDGET)


def _stats(page) -> dict:
    return page.eval_on_selector("#kvcache-stats", "el => Object.assign({text: el.textContent}, el.dataset)")


def _slide(page, value: int) -> None:
    page.eval_on_selector(
        "#kvcache-step",
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def _expected(mode: dict, step: int) -> tuple[int, int, int, float]:
    row = mode["grid"][step]
    hits = sum(r.count(HIT) for r in mode["grid"][: step + 1])
    misses = sum(r.count(MISS) for r in mode["grid"][: step + 1])
    return row.count(HIT), row.count(MISS), row.count(EVICTED), hits / (hits + misses)


def test_widget_counts_match_the_exported_traces(built_site, server_url, watched):
    page = watched.page
    _open(page, server_url)
    data = _data(built_site, page)
    names = [m["name"] for m in data["modes"]]
    assert names == ["no-cache", "cache", "window", "prefix"]
    assert (
        page.eval_on_selector_all(f"{WIDGET} .kv-modes button", "bs => bs.map(b => b.dataset.mode)") == names
    )
    assert _stats(page)["mode"] == "cache"  # the default scenario
    for mode in data["modes"]:
        page.click(f"{WIDGET} button[data-mode='{mode['name']}']")
        last = len(mode["grid"]) - 1
        for step in sorted({0, 1 if last else 0, last // 2, last}):
            _slide(page, step)
            s = _stats(page)
            hit, miss, evicted, rate = _expected(mode, step)
            assert (s["mode"], int(s["step"])) == (mode["name"], step)
            assert (int(s["hits"]), int(s["misses"]), int(s["evicted"])) == (hit, miss, evicted)
            assert float(s["rate"]) == pytest.approx(rate, abs=1e-6)
            assert mode["labels"][step] in s["text"]
        assert page.eval_on_selector(f"{WIDGET} canvas", "c => c.width > 0 && c.height > 0")
    watched.check()


def test_widget_buttons_step_and_clamp(built_site, server_url, watched):
    page = watched.page
    _open(page, server_url)
    page.click(f"{WIDGET} button[data-mode='window']")
    page.click(f"{WIDGET} button[aria-label='previous call']")
    assert int(_stats(page)["step"]) == 0  # clamped at the prefill
    page.click(f"{WIDGET} button[aria-label='next call']")
    page.click(f"{WIDGET} button[aria-label='next call']")
    s = _stats(page)
    assert int(s["step"]) == 2 and int(s["misses"]) == 1  # a decode call computes one position
    page.click(f"{WIDGET} button[data-mode='no-cache']")
    assert int(_stats(page)["step"]) == 0 and int(_stats(page)["hits"]) == 0
    watched.check()


SCROLL_W = f'document.querySelector("{WIDGET} .kv-scroll").clientWidth'
_STYLE = """(els) => els.map((e) => { const s = getComputedStyle(e); const r = e.getBoundingClientRect();
    return [e.parentElement.className, s.fontSize, s.borderTopColor, s.backgroundColor, s.color, r.top, r.height]; })"""


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_widget_fits_reads_and_follows_the_palette(built_site, server_url, browser, device):
    canvas = f"{WIDGET} canvas"
    palettes = {}
    with wk.device_page(browser, server_url, device) as w:
        page = w.page
        first, second = wk.schemes(device)
        wk.open_page(page, server_url + PAGE, WIDGET, first)
        data = _data(built_site, page)
        # the recorded demo continues its prompt with text: most generated positions on the axis are not blank
        cache = next(m for m in data["modes"] if m["name"] == "cache")
        prompt = cache["grid"][0].count(MISS)  # the prefill computes the prompt's positions
        shown = cache["chars"][0][prompt:]
        assert shown and sum(c not in ("␣", "⏎", "⇥") for c in shown) >= len(shown) / 2, shown
        # ◀ play ▶ are one control group: same parent, look and line
        looks = page.eval_on_selector_all(f"{WIDGET} .kv-buttons button", _STYLE)
        assert len(looks) == 3 and page.get_attribute(f"{WIDGET} .kv-buttons", "role") == "group"
        assert all(x[:5] == looks[0][:5] for x in looks), looks
        assert all(abs(x[5] - looks[0][5]) < 1 and abs(x[6] - looks[0][6]) < 1 for x in looks), looks
        for scheme in (first, second):
            if scheme != first:
                wk.toggle_scheme(page, scheme)
                page.wait_for_function(f'document.querySelector("{canvas}").dataset.scheme === "{scheme}"')
            page.click(f"{WIDGET} button[data-mode='cache']")
            assert page.get_attribute(canvas, "data-scheme") == scheme
            bg = wk.page_background(page)
            wk.check_canvas(page, canvas)
            wk.check_dom_text(page, WIDGET)
            wk.no_sideways_scroll(page)
            assert wk.contrast(page.get_attribute(canvas, "data-label-color"), bg) >= 3
            # hit cells keep 3:1 against the page, in later (dimmed) calls and in calls already made
            cell = float(page.get_attribute(canvas, "data-cell"))
            later = wk.canvas_pixel(page, canvas, 0.5, 2 * cell + 0.5)  # call 2 is still to come at call 0
            assert cache["grid"][2][0] == HIT and wk.contrast(later, bg) >= 3, (scheme, later, bg)
            last = len(cache["grid"]) - 1
            _slide(page, last)
            made = wk.canvas_pixel(page, canvas, cell / 2, (last - 1) * cell + cell / 2)
            assert cache["grid"][last - 1][0] == HIT and wk.contrast(made, bg) >= 3, (scheme, made, bg)
            palettes[scheme] = json.loads(page.get_attribute(canvas, "data-colors"))
            hit = wk.parse_color(palettes[scheme][HIT])
            assert all(abs(a - b) <= 1 for a, b in zip(later[:3], hit[:3], strict=True)), (
                later,
                hit,
            )  # the frame
        assert palettes["light"] == data["colors"] and palettes["dark"] == data["colors_dark"]
        assert palettes["light"][HIT] != palettes["dark"][HIT]

        # a narrower window: the grid is repainted for its column, crisp, and the page still fits
        before = page.evaluate(SCROLL_W)
        page.set_viewport_size({"width": 360, "height": 800})
        page.wait_for_function(f"{SCROLL_W} < {before}", timeout=5000)
        wk.check_canvas(page, canvas)
        wk.no_sideways_scroll(page)
        w.check()
