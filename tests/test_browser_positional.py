"""The positional-embeddings page in Debian's chromium: the four lab parts are on the page, and the 3-D
widget loads its build-time data, plays (position and frame counter advance, pixels change), follows
the slider, switches encodings and rotates on drag — with no console error and no off-site request; on a phone and a
desktop, in light and dark mode, it fits, reads and follows the palette."""

from __future__ import annotations

import json

import pytest
import widgetkit as wk

pytestmark = pytest.mark.xdist_group("site")

PAGE = "02-positional-embeddings/"
WIDGET = "[data-llmkb-widget=pe3d]"


def _pixels(page) -> str:
    return page.evaluate(f"document.querySelector('{WIDGET} canvas').toDataURL()")


def _remember(page) -> None:
    page.evaluate(f"window.__pe3dBefore = document.querySelector('{WIDGET} canvas').toDataURL()")


def _wait_for_new_pixels(page) -> None:
    page.wait_for_function(
        f"document.querySelector('{WIDGET} canvas').toDataURL() !== window.__pe3dBefore", timeout=5000
    )


def _attr(page, name: str) -> str:
    return page.evaluate(f"document.querySelector('{WIDGET}').dataset.{name}")


def test_page_shows_all_four_parts(built_site, server_url, watched):
    page = watched.page
    resp = page.goto(server_url + PAGE, wait_until="networkidle")
    assert resp is not None and resp.status == 200
    images = page.locator("article img:visible")  # each figure ships a light and a dark image; one shows
    srcs = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
    for part in ("compare/val-loss", "extrapolation/per-position", "ablation/entropy", "ablation/maps"):
        assert any(f"figures/positional-embeddings/{part}" in s for s in srcs), (part, srcs)
    figures = page.locator("article img[src*='figures/positional-embeddings/']:visible")
    assert figures.count() == 4
    for i in range(figures.count()):  # lazy images load once scrolled into view
        figures.nth(i).scroll_into_view_if_needed()
        figures.nth(i).evaluate(
            "(img) => img.complete && img.naturalWidth > 0 ? true : "
            "new Promise((ok, bad) => { img.onload = () => ok(true); img.onerror = bad; })"
        )
        assert figures.nth(i).evaluate("(img) => img.naturalWidth") > 100
    text = page.locator("article").inner_text()
    for heading in ("Five encodings, one model", "Beyond the training length", "3-D", "Ablation"):
        assert heading in text
    assert page.locator("article table").count() >= 4  # compare, extrapolation, ablation x2
    assert page.locator(f"article {WIDGET} canvas").count() == 1
    watched.check()


def test_widget_plays_scrubs_switches_and_rotates(built_site, server_url, watched):
    page = watched.page
    page.goto(server_url + PAGE, wait_until="networkidle")
    widget = page.locator(WIDGET)
    widget.scroll_into_view_if_needed()
    page.wait_for_function(f"Number(document.querySelector('{WIDGET}').dataset.frame) > 0", timeout=15000)
    assert _attr(page, "mode") == "rope"
    assert _attr(page, "position") == "0"
    first = _pixels(page)

    # play: the position and the frame counter advance, the picture changes
    frames = int(_attr(page, "frame"))
    widget.locator("button.p-play").click()
    page.wait_for_function(f"Number(document.querySelector('{WIDGET}').dataset.position) >= 2", timeout=15000)
    assert int(_attr(page, "frame")) > frames + 2
    assert _pixels(page) != first
    widget.locator("button.p-play").click()  # pause
    assert widget.locator("button.p-play").get_attribute("aria-pressed") == "false"

    # the slider sets the position
    slider = widget.locator("input[type=range]")
    slider.evaluate("(s) => { s.value = '7'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.position === '7'", timeout=5000)
    assert "position 7" in widget.locator(".p-read").inner_text()

    # other encodings draw something else
    _remember(page)
    widget.locator("button[data-mode=sinusoidal]").click()
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.mode === 'sinusoidal'", timeout=5000)
    _wait_for_new_pixels(page)
    widget.locator("button[data-mode=learned]").click()
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.mode === 'learned'", timeout=5000)

    # dragging rotates the view
    _remember(page)
    wk.drag(page, f"{WIDGET} canvas", 80, 30)
    _wait_for_new_pixels(page)
    watched.check()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_widget_fits_reads_and_follows_the_palette(built_site, server_url, browser, device):
    """On a phone and a desktop, light and dark: no sideways scroll, text ≥ 11 px (DOM and canvas, crisp at
    devicePixelRatio), the 3-D scene inside its plot and above the sequence strip in every mode, a strip whose
    cells stay readable, θ labels in a colour with ≥ 3:1 contrast that changes with the palette, and θ labels that
    move with a drag."""
    canvas = f"{WIDGET} canvas"
    label_colors = {}
    with wk.device_page(browser, server_url, device) as w:
        page = w.page
        first, second = wk.schemes(device)
        wk.open_page(page, server_url + PAGE, WIDGET, first)
        page.locator(WIDGET).scroll_into_view_if_needed()
        for scheme in (first, second):
            if scheme != first:
                frame = int(_attr(page, "frame"))
                wk.toggle_scheme(page, scheme)
                # the widget redraws by itself with the new palette
                page.wait_for_function(
                    f"document.querySelector('{WIDGET}').dataset.scheme === '{scheme}'"
                    f" && Number(document.querySelector('{WIDGET}').dataset.frame) > {frame}",
                    timeout=5000,
                )
            for mode in ("sinusoidal", "learned", "rope"):
                page.locator(f"{WIDGET} button[data-mode={mode}]").click()
                page.wait_for_function(
                    f"document.querySelector('{WIDGET}').dataset.mode === '{mode}'"
                    f" && document.querySelector('{WIDGET}').dataset.scheme === '{scheme}'",
                    timeout=5000,
                )
                d = page.evaluate(f"Object.assign({{}}, document.querySelector('{WIDGET}').dataset)")
                plot, bounds = json.loads(d["plot"]), json.loads(d["bounds"])
                top, cell, lo, hi = json.loads(d["strip"])
                box = page.locator(canvas).bounding_box()
                assert box is not None
                assert 0 <= plot[0] and plot[2] <= box["width"] and 0 <= plot[1] and plot[3] <= top, (
                    plot,
                    top,
                )
                assert plot[0] <= bounds[0] and bounds[2] <= plot[2], (mode, bounds, plot)  # inside the plot
                assert plot[1] <= bounds[1] and bounds[3] <= plot[3], (mode, bounds, plot)  # above the strip
                assert cell >= 11 and lo <= int(d["position"]) <= hi, d["strip"]  # never squashed
            wk.check_canvas(page, canvas, WIDGET)
            wk.check_dom_text(page, WIDGET)
            wk.no_sideways_scroll(page)
            label_colors[scheme] = _attr(page, "labelColor")
            assert wk.contrast(label_colors[scheme], wk.page_background(page)) >= 3, (scheme, label_colors)
        assert label_colors["light"] != label_colors["dark"]

        # the θ labels hang off points of the rotating scene: a drag moves them, and they stay in the canvas
        before = json.loads(_attr(page, "labels"))
        assert len(before) == 8
        wk.drag(page, canvas, 120, 40, steps=6)
        page.wait_for_function(
            f"document.querySelector('{WIDGET}').dataset.labels !== {json.dumps(json.dumps(before))}",
            timeout=5000,
        )
        after = json.loads(_attr(page, "labels"))
        moved = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(after, before, strict=True)]
        assert min(moved) >= 5, moved  # every label followed the rotation
        assert all(0 <= p[0] <= box["width"] and 0 <= p[1] <= box["height"] for p in after), after

        # a narrower window: the canvas follows its column and stays crisp
        page.set_viewport_size({"width": 360, "height": 800})
        page.wait_for_function(wk.CANVAS_FITS, arg=canvas, timeout=5000)
        wk.check_canvas(page, canvas, WIDGET)
        wk.no_sideways_scroll(page)
        w.check()
