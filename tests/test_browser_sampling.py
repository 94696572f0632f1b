"""The sampling dashboard in Debian's chromium: moving the sliders redraws the chart, and the entropy, the
survivor count and the bars equal what llmkb.infer.sampling computes on the same exported logits; the
continuation shown is the one Python sampled at the nearest grid point; on a phone and a desktop, in light and dark
mode, it fits, its chart labels read at their on-screen size and follow the palette."""

from __future__ import annotations

import pytest
import torch
import widgetkit as wk
from conftest import open_widget, widget_data

from llmkb.infer.sampling import SamplingConfig, entropy, filtered_probs, surviving_count
from llmkb.lab.kit import byte_labels
from llmkb.lab.topics.sampling.analysis import Grid

pytestmark = pytest.mark.xdist_group("site")

PAGE = "05-sampling/"
WIDGET = "[data-llmkb-widget='sampling']"

# (temperature, top-k, top-p) as slider strings; top-k 256 is "off"
SETTINGS = [
    ("0.7", "256", "0.9"),
    ("1.3", "20", "1"),
    ("0", "256", "1"),
    ("1", "5", "0.5"),
    ("2", "50", "0.95"),
    ("0.05", "256", "1"),
    ("1.5", "3", "0.3"),
]


def _open(page, server_url: str) -> None:
    open_widget(page, server_url + PAGE, WIDGET)


def _data(built_site, page) -> dict:
    return widget_data(built_site, page, PAGE, WIDGET)


def _slide(page, elem_id: str, value: str) -> str:
    """Set a range input like a user would (value + input event); return the value the browser kept."""
    return page.eval_on_selector(
        f"#{elem_id}",
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); return el.value; }",
        value,
    )


def _config(t: str, k: str, p: str, vocab: int) -> SamplingConfig:
    kk = int(k)
    return SamplingConfig(
        temperature=float(t), top_k=None if kk >= vocab else kk, top_p=None if float(p) >= 1 else float(p)
    )


def _shown(page, elem_id: str) -> float:
    return float(page.get_attribute(f"#{elem_id}", "data-value"))


def test_sliders_match_python(built_site, server_url, watched):
    page = watched.page
    _open(page, server_url)
    data = _data(built_site, page)
    vocab = data["vocab_size"]
    grid = Grid(
        tuple(data["grid"]["temperature"]), tuple(data["grid"]["top_k"]), tuple(data["grid"]["top_p"]), vocab
    )
    prompts = list(range(len(data["prompts"])))[:2]
    checked = 0
    for pi in prompts:
        page.select_option("#sampling-prompt", str(pi))
        logits = torch.tensor(data["logits"][pi], dtype=torch.float64)
        for t, k, p in SETTINGS:
            t = _slide(page, "sampling-temperature", t)
            k = _slide(page, "sampling-top-k", k)
            p = _slide(page, "sampling-top-p", p)
            assert page.get_attribute("#sampling-chart", "data-rendered") == f"{t}|{k}|{p}|{pi}"  # redrawn
            probs = filtered_probs(logits, _config(t, k, p, vocab))
            want_h, want_n = float(entropy(probs)), int(surviving_count(probs))
            assert _shown(page, "sampling-entropy") == pytest.approx(want_h, abs=1e-3)
            assert _shown(page, "sampling-entropy") == pytest.approx(want_h, abs=1e-9)  # float64 both sides
            assert int(_shown(page, "sampling-survivors")) == want_n
            assert page.inner_text("#sampling-survivors").startswith(f"{want_n} /")
            # the chart: one bar per top-20 byte, its probability as data-p
            bars = page.eval_on_selector_all(
                "#sampling-chart rect.s-bar", "els => els.map(e => [+e.dataset.byte, +e.dataset.p])"
            )
            order = torch.sort(logits, descending=True, stable=True).indices[: len(bars)].tolist()
            assert len(bars) == 20 and [b for b, _ in bars] == order
            for b, shown in bars:
                assert shown == pytest.approx(float(probs[b]), abs=1e-9)
            # the continuation comes from the nearest grid point
            it, ik, ip = grid.nearest(float(t), None if int(k) >= vocab else int(k), float(p))
            setting = data["cells"][it][ik][ip]
            assert page.get_attribute("#sampling-grid-point", "data-setting") == str(setting)
            text = page.text_content("#sampling-continuation")
            assert text == data["prompts"][pi] + data["continuations"][pi][setting][0]
            checked += 1
    assert checked >= 3
    watched.check()


def test_javascript_filters_equal_llmkb_generate(built_site, server_url, watched):
    """The widget's filter code, called directly for a sweep of settings on every exported prompt plus
    synthetic rows: a very peaked one (probabilities underflow to 0 at low temperature) and two with
    exact ties (tie-breaking by index in top-k, greedy and top-p)."""
    page = watched.page
    _open(page, server_url)
    data = _data(built_site, page)
    vocab = data["vocab_size"]
    first = data["logits"][0]
    rows = [
        *data["logits"],
        [x * 8.0 for x in first],  # peaked
        [float(round(x)) for x in first],  # many ties
        [0.0] * (vocab - 4) + [2.0, 2.0, 1.0, 2.0],  # tied maxima at the end of the vocabulary
    ]
    temps = ["0", "0.05", "0.3", "0.8", "1", "1.25", "2"]
    ks = ["1", "2", "7", "40", "255", "256"]
    ps = ["0.01", "0.4", "0.9", "0.99", "1"]
    cases = [(t, k, p) for t in temps for k in ks for p in ps]
    js = page.evaluate(
        """([rows, cases, V]) => rows.map(l => cases.map(([t, k, p]) => {
            const kk = parseInt(k, 10);
            const probs = window.llmkbSampling.filteredProbs(l, parseFloat(t), kk >= V ? null : kk, parseFloat(p));
            return [window.llmkbSampling.entropy(probs), window.llmkbSampling.survivors(probs), probs];
        }))""",
        [rows, cases, vocab],
    )
    for ri, row in enumerate(rows):
        logits = torch.tensor(row, dtype=torch.float64)
        for (t, k, p), (h, n, probs_js) in zip(cases, js[ri], strict=True):
            probs = filtered_probs(logits, _config(t, k, p, vocab))
            where = (ri, t, k, p)
            assert n == int(surviving_count(probs)), where
            assert h == pytest.approx(float(entropy(probs)), abs=1e-9), where
            shown = torch.tensor(probs_js, dtype=torch.float64)
            assert torch.equal(shown > 0, probs > 0), where  # the same tokens survive
            assert torch.allclose(shown, probs, rtol=0, atol=1e-12), where
    # the bar labels: the lab kit's glyph for every byte
    labels = page.evaluate("() => Array.from({length: 256}, (_, b) => window.llmkbSampling.byteLabel(b))")
    assert labels == byte_labels(range(256))
    watched.check()


def test_prompt_select_and_another_sample(built_site, server_url, watched):
    page = watched.page
    _open(page, server_url)
    data = _data(built_site, page)
    last = len(data["prompts"]) - 1
    page.select_option("#sampling-prompt", str(last))
    assert page.get_attribute("#sampling-chart", "data-rendered").endswith(f"|{last}")
    _slide(page, "sampling-temperature", "1")
    setting = int(page.get_attribute("#sampling-grid-point", "data-setting"))
    samples = data["continuations"][last][setting]
    for i in range(len(samples) + 1):
        assert page.get_attribute("#sampling-grid-point", "data-sample") == str(i % len(samples))
        assert (
            page.text_content("#sampling-continuation") == data["prompts"][last] + samples[i % len(samples)]
        )
        page.click("#sampling-next-sample")
    # labels are text, never markup: no element came from the data
    assert page.locator(f"{WIDGET} script").count() == 0
    watched.check()


def test_dashboard_starts_after_instant_navigation(server_url, watched):
    """Material swaps the page without a reload; the widget must still initialise."""
    page = watched.page
    page.goto(server_url + PAGE + "lab/", wait_until="networkidle")  # start on this topic's lab page
    page.evaluate("window.__llmkbMarker = 5")
    page.wait_for_function("typeof location$ !== 'undefined' && typeof document$ !== 'undefined'")
    # What Material does on an intercepted link click: push the URL, then emit it on location$, which
    # fetches the page and swaps the content in the same document.
    page.evaluate(
        """() => { const u = new URL('../', location.href);
                   history.pushState(null, '', u); location$.next(u); }"""
    )
    page.wait_for_url("**/05-sampling/", timeout=15000)
    page.wait_for_selector(f"{WIDGET}[data-ready='1']", timeout=15000)
    assert page.evaluate("window.__llmkbMarker") == 5  # same document
    _slide(page, "sampling-temperature", "0")
    assert int(_shown(page, "sampling-survivors")) == 1
    assert _shown(page, "sampling-entropy") == 0.0
    watched.check()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_dashboard_fits_reads_and_follows_the_palette(built_site, server_url, browser, device):
    labels, bars = {}, {}
    with wk.device_page(browser, server_url, device) as w:
        page = w.page
        first, second = wk.schemes(device)
        wk.open_page(page, server_url + PAGE, WIDGET, first)
        data = _data(built_site, page)
        for scheme in (first, second):
            if scheme != first:
                wk.toggle_scheme(page, scheme)
            for pi in range(len(data["prompts"])):  # every prompt: the select holds the longest one
                page.select_option("#sampling-prompt", str(pi))
                wk.no_sideways_scroll(page)
            wk.check_dom_text(page, WIDGET)
            chart = page.locator("#sampling-chart")
            box = chart.bounding_box()
            assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
            assert chart.locator("text.s-label").count() == 20
            bg = wk.page_background(page)
            labels[scheme] = page.eval_on_selector(
                "#sampling-chart text.s-label", "e => getComputedStyle(e).fill"
            )
            bars[scheme] = page.eval_on_selector(
                "#sampling-chart rect.s-bar", "e => getComputedStyle(e).fill"
            )
            assert wk.contrast(labels[scheme], bg) >= 3 and wk.contrast(bars[scheme], bg) >= 3, (
                scheme,
                labels,
                bars,
            )
        assert labels["light"] != labels["dark"] and bars["light"] != bars["dark"]
        # a chart narrower than the viewBox it had is redrawn at its new width (text stays at its size)
        page.set_viewport_size({"width": 360, "height": 800})
        page.wait_for_function(
            "() => { const c = document.querySelector('#sampling-chart');"
            " return Math.abs(c.viewBox.baseVal.width - c.getBoundingClientRect().width) < 1; }",
            timeout=5000,
        )
        wk.check_dom_text(page, WIDGET)
        wk.no_sideways_scroll(page)
        w.check()
