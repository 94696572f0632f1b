"""The positional-embeddings page in Debian's chromium: the four lab parts are on the page, and the 3-D
widget loads its build-time data, plays (position and frame counter advance, pixels change), follows
the slider, switches encodings and rotates on drag — with no console error and no off-site request."""

from __future__ import annotations

import pytest

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
    images = page.locator("article img")
    srcs = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
    for part in ("compare/val-loss", "extrapolation/per-position", "ablation/entropy", "ablation/maps"):
        assert any(f"figures/positional-embeddings/{part}" in s for s in srcs), (part, srcs)
    figures = page.locator("article img[src*='figures/positional-embeddings/']")
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
    box = widget.locator("canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 30, steps=5)
    page.mouse.up()
    _wait_for_new_pixels(page)
    watched.check()
