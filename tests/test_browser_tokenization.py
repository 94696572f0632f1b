"""The tokenization page in Debian's chromium: the live widget encodes hostile and Unicode text in the
browser with exactly the ids of the Python tokenizer the build trained (loaded from the cached
`tokenization/bpe` result), shows it as escaped coloured chunks, reacts to typing, examples and the
special-token switch; the static render_html sample is escaped; the figures load — with no console
error and no off-site request; on a phone and a desktop, in light and dark mode, the widget fits and reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import widgetkit as wk
from conftest import open_widget

from llmkb.lab.topics.tokenization.names import EOT, SAMPLE
from llmkb.tokenize import BPETokenizer, export_vocab_json

pytestmark = pytest.mark.xdist_group("site")

PAGE = "01-tokenization/"
WIDGET = "[data-llmkb-widget=tokenizer]"

STRINGS: list[str] = [
    "",
    "Hello, world!",
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)"> & &amp; &lt;',
    "it's \"quoted\" and 'single' — “curly” ‘quotes’",
    "family 👨\u200d👩\u200d👧\u200d👦 and 👩🏽\u200d💻 and 🏳️\u200d🌈",
    "thumbs 👍🏽👍🏿 flags 🇫🇷🇯🇵 keycap 1️⃣",
    "東京都の天気は晴れです。漢字とかな",
    "한국어 텍스트와 中文 混合",
    "e\u0301 a\u0300\u0301 n\u0303 Z\u0351\u0352\u0353",  # combining marks
    "cafe\u0301 vs caf\u00e9",
    " " * 300 + "end",
    "a" + " " * 40 + "\n" + " " * 17,
    "\t\tindented\n\n\n\ttab\r\nwindows\rline",
    "12345678901234567890 3.14159 1,000,000 0x1F 1e-9",
    "Grüße aus Zürich · Привет мир · Ωμέγα · مرحبا بالعالم · नमस्ते",
    f"first doc{EOT}second doc{EOT}",
    "<|endoftext|",  # almost a special token
    "\u202eRTL override\u202c and \u200bzero width\ufeff BOM \u00a0nbsp \u3000ideographic",
    "def f(x: int) -> int:\n    return x ** 2  # square\n",
    "'S 'LL 'Ve 'ſ won't WE'RE",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝟙𝟚𝟛 and ancient 𐎀𐎁",
    "\x00\x01\x1b[2J control \x7f",
]


@pytest.fixture(scope="module")
def python_tok(built_site) -> BPETokenizer:
    """The tokenizer the build trained (quick profile), loaded from the cached `tokenization/bpe` result."""
    from llmkb import lab

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMKB_CACHE", str(built_site.cache))
        res = lab.run("tokenization/bpe", "quick")
    return BPETokenizer.load(res.dir / "tokenizer")


@pytest.fixture
def tok_page(watched, server_url) -> Iterator[tuple[Any, list[str]]]:
    """The page with the widget ready, and the list of any dialogs (alerts) it opened."""
    page = watched.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_widget(page, server_url + PAGE, WIDGET)
    assert page.get_attribute(WIDGET, "data-state") == "ready"
    yield page, dialogs


_ENCODE_ALL = """
(texts) => {
  const el = document.querySelector('[data-llmkb-widget=tokenizer]');
  const input = el.querySelector('textarea');
  return texts.map((t) => {
    input.value = t;
    input.dispatchEvent(new Event('input', {bubbles: true}));
    const spans = Array.from(el.querySelectorAll('.t-chunks .t-tok'));
    return {
      value: input.value,
      ids: JSON.parse(el.dataset.ids),
      count: Number(el.dataset.count),
      spanIds: spans.map((s) => Number(s.dataset.id)),
      partial: spans.some((s) => s.classList.contains('t-partial')),
      shown: spans.map((s) => s.textContent).join(''),
      injected: el.querySelectorAll('script, img, b').length,
    };
  });
}
"""


def test_widget_ids_equal_python_for_hostile_and_unicode_text(tok_page, python_tok, watched):
    page, dialogs = tok_page
    vocab = page.evaluate(
        f"fetch(document.querySelector('{WIDGET}').dataset.src).then((r) => r.json()).then((d) => d.vocab)"
    )
    assert vocab == export_vocab_json(python_tok)  # the widget runs the tokenizer Python loads
    assert len(STRINGS) >= 20
    got = page.evaluate(_ENCODE_ALL, STRINGS)
    for text, js in zip(STRINGS, got, strict=True):
        # a textarea stores line breaks as \n (HTML spec: "\r\n" and "\r" are normalized)
        assert js["value"] == text.replace("\r\n", "\n").replace("\r", "\n"), repr(text)
        text = js["value"]
        want = python_tok.encode(text, allowed_special="all")
        assert js["ids"] == want, repr(text)
        assert js["spanIds"] == want and js["count"] == len(want), repr(text)
        assert js["injected"] == 0, repr(text)
        if not js["partial"]:  # chunks of whole characters spell the text exactly
            assert js["shown"] == text, repr(text)
    assert got[0]["ids"] == [] and any(r["partial"] for r in got)
    assert python_tok.special_tokens[EOT] in got[STRINGS.index(f"first doc{EOT}second doc{EOT}")]["ids"]

    # the widget's encoder object on the raw strings (carriage returns included)
    raw = page.evaluate(
        "([vocab, texts]) => { const enc = window.llmkbTokenizer.createEncoder(vocab);"
        " return texts.map((t) => enc.encode(t, true)); }",
        [vocab, STRINGS],
    )
    assert raw == [python_tok.encode(t, allowed_special="all") for t in STRINGS]

    # special tokens as plain text: the ids of encode_ordinary
    page.locator(f"{WIDGET} input.t-special-toggle").uncheck()
    plain = [s for s in STRINGS if EOT in s] + ["<|endoftext|>", "x<|endoftext|>y"]
    for text, js in zip(plain, page.evaluate(_ENCODE_ALL, plain), strict=True):
        assert js["ids"] == python_tok.encode_ordinary(text), repr(text)
        assert python_tok.special_tokens[EOT] not in js["ids"]
    assert dialogs == []
    watched.check()


def test_typing_examples_and_readout(tok_page, python_tok, watched):
    page, dialogs = tok_page
    widget = page.locator(WIDGET)
    box = widget.locator("textarea")
    box.fill("")
    assert widget.get_attribute("data-ids") == "[]"
    typed = "Tokens: naïve 東京 <b>x</b> & 2024\n"
    box.press_sequentially(typed)
    assert box.input_value() == typed
    ids = python_tok.encode(typed)
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.count === '{len(ids)}'", timeout=5000)
    assert page.evaluate(f"JSON.parse(document.querySelector('{WIDGET}').dataset.ids)") == ids
    assert widget.locator(".t-ids").inner_text() == "[" + ", ".join(map(str, ids)) + "]"
    stats = widget.locator(".t-stats").inner_text()
    assert f"{len(ids)} tokens" in stats and f"{len(typed.encode())} UTF-8 bytes" in stats
    assert widget.locator(".t-chunks b").count() == 0

    # hovering a token names its id and bytes
    first = widget.locator(".t-chunks .t-tok").first
    first.hover()
    assert widget.locator(".t-info").inner_text().startswith(f"id {ids[0]} ")

    # example buttons load their text
    widget.locator("button[data-example=emoji]").click()
    text = box.input_value()
    assert "\u200d" in text
    assert page.evaluate(f"JSON.parse(document.querySelector('{WIDGET}').dataset.ids)") == python_tok.encode(
        text, allowed_special="all"
    )
    assert dialogs == []
    watched.check()


def test_static_rendering_and_figures(tok_page, python_tok, watched):
    page, _ = tok_page
    static = page.locator("article .llmkb-static-tokens")
    assert static.count() == 1
    assert static.locator("script").count() == 0
    ids = [int(x) for x in static.locator(".llmkb-tok").evaluate_all("(s) => s.map((e) => e.dataset.id)")]
    assert ids == python_tok.encode(SAMPLE, allowed_special="all")
    assert "<script>alert(1)</script>" in static.inner_text()
    images = page.locator("article img:visible")  # each figure ships a light and a dark image; one shows
    for i in range(images.count()):  # lazy images load once scrolled into view
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        "Array.from(document.querySelectorAll('article img')).every((i) => i.complete || !i.getClientRects().length)",
        timeout=10000,
    )
    srcs = page.evaluate(
        "Array.from(document.querySelectorAll('article img')).filter((i) => i.getClientRects().length).map((i) =>"
        " [i.getAttribute('src'),"
        " i.complete && i.naturalWidth > 0])"
    )
    for part in ("vocab-sweep/bytes-per-token", "embeddings/cosine", "embeddings/pca"):
        hits = [ok for src, ok in srcs if f"figures/tokenization/{part}" in (src or "")]
        assert hits == [True], (part, srcs)
    assert page.locator("article table").count() >= 6
    assert page.locator("article details.question").count() >= 6
    watched.check()


_TOKEN_COLOURS = """(root) => Array.from(root.querySelectorAll('.t-chunks .t-tok'), (t) => {
    const s = getComputedStyle(t); return [s.color, s.backgroundColor]; })"""


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_widget_fits_and_reads_on_phone_and_desktop_light_and_dark(built_site, server_url, browser, device):
    boxes = {}
    with wk.device_page(browser, server_url, device) as w:
        page = w.page
        first, second = wk.schemes(device)
        wk.open_page(page, server_url + PAGE, WIDGET, first)
        widget = page.locator(WIDGET)
        examples = widget.locator("button[data-example]").evaluate_all(
            "(bs) => bs.map((b) => b.dataset.example)"
        )
        assert len(examples) >= 2
        for scheme in (first, second):
            if scheme != first:
                wk.toggle_scheme(page, scheme)
            for name in examples:
                widget.locator(f"button[data-example={name}]").click()
                wk.no_sideways_scroll(page)
            widget.locator("textarea").fill("a_long_identifier_without_a_break_" * 6 + " 👩🏽\u200d💻 " + EOT)
            wk.no_sideways_scroll(page)
            wk.check_dom_text(page, WIDGET)
            bg = wk.page_background(page)
            chips = widget.evaluate(_TOKEN_COLOURS)
            assert chips and all(wk.contrast(fg, back) >= 4.5 for fg, back in chips), chips
            box = widget.locator("textarea").evaluate(
                "(t) => [getComputedStyle(t).color, getComputedStyle(t).backgroundColor]"
            )
            assert wk.contrast(box[0], wk.over(wk.parse_color(box[1]), wk.parse_color(bg))) >= 4.5, box
            boxes[scheme] = box
        assert boxes["light"] != boxes["dark"]  # the text box follows the palette
        w.check()
