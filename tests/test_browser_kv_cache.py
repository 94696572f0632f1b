"""The KV-cache step-through widget in Debian's chromium: every scenario loads, stepping updates the counts, and
the counts and running hit rate shown equal what the exported trace grid says."""

from __future__ import annotations

import pytest
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
