"""The built site in Debian's chromium (every page loading cleanly, at two widths and in both palettes, is
tests/test_browser_layout.py): search finds a known page; the knowledge graph shows its nodes, highlights neighbours
on hover, and a click navigates."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("site")


@pytest.fixture(scope="module")
def search(browser, server_url):
    """One page of the home page whose search index is loaded once (Material's worker builds it from the
    whole site's text: seconds); each call clears the box, types a query and returns the result locator."""
    from conftest import watch

    context, w = watch(browser, server_url)
    page = w.page
    page.goto(server_url, wait_until="networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    # the search worker loads the index in the background ("Initializing search"); on a busy machine that
    # can take a while, so wait for it instead of racing it
    page.wait_for_function(
        "() => { const m = document.querySelector('.md-search-result__meta');"
        " return m && m.textContent.trim() !== '' && !/Initializing/i.test(m.textContent); }",
        timeout=60000,
    )
    box = page.locator("input.md-search__input")

    def run(query: str):
        box.fill("")
        box.press("Backspace")  # a key event: Material clears the list for the empty query
        page.locator(".md-search-result__item").first.wait_for(state="detached", timeout=15000)
        # typed key by key: Material runs the query on key events (fill() only fires "input")
        box.press_sequentially(query, delay=20)
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=30000)
        # results are redrawn for every prefix typed ("r", "ro", …): wait until the list stops changing
        last, stable = None, 0
        for _ in range(100):
            now = page.locator(".md-search-result").inner_text()
            stable = stable + 1 if now == last else 0
            if stable >= 5:
                break
            last = now
            page.wait_for_timeout(100)
        return results

    run.page = w.page  # type: ignore[attr-defined]
    run.watched = w  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        context.close()


def test_search_finds_a_known_page(search):
    search("learning path")
    assert "Learning path" in search.page.locator(".md-search-result").inner_text()
    search.watched.check()


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("rotary", "02-positional-embeddings"),
        ("kv cache", "06-kv-cache"),
        ("temperature", "05-sampling"),
        ("bpe", "01-tokenization"),
        ("residual", "04-transformer-block"),
        ("mask", "03-attention"),
        ("window", "07-long-context"),
        ("grouped query", "09-grouped-query-attention"),
        ("mixture of experts", "08-mixture-of-experts"),
        ("normalization", "10-norms-and-activations"),
        ("pretraining", "11-pretraining-objectives"),
        ("chinchilla", "13-scaling-laws"),
        ("rlhf", "12-finetuning"),
        ("lora", "12-finetuning"),
        ("playground", "playground"),
        ("vllm", "15-inference-stacks"),
        ("seq2seq", "17-seq2seq"),
        ("quantization", "14-quantization"),
        ("deduplication", "16-synthetic-data"),
        ("minhash", "16-synthetic-data"),
        ("memgpt", "19-memory"),
        ("scratchpad", "18-reasoning"),
    ],
)
def test_search_ranks_the_topic_page_first_for_its_terms(search, query, topic):
    """A topic's own page, not its lab notebook or the API reference, is the first result for its terms
    (one page for every query: the index is loaded once)."""
    results = search(query)
    href = results.first.locator("a").first.get_attribute("href") or ""
    assert f"{topic}/" in href and "/lab/" not in href and "reference/" not in href, (query, href)
    search.watched.check()


def test_graph_nodes_hover_and_click_navigate(built_site, server_url, watched):
    import json

    page = watched.page
    page.goto(server_url + "graph/", wait_until="networkidle")
    nodes = page.locator("svg.llmkb-graph g.llmkb-node")
    expected = json.loads((built_site.dir / "graph.json").read_text())["nodes"]
    assert nodes.count() == len(expected) >= 1
    first = nodes.first
    first.hover()
    assert "llmkb-hovering" in (page.locator("svg.llmkb-graph").get_attribute("class") or "")
    target = first.get_attribute("data-id")
    first.click()
    page.wait_for_url(f"**/{target}/", timeout=15000)
    assert page.locator("article h1").first.inner_text().strip() != ""
    watched.check()


def test_instant_navigation_keeps_the_document_and_reinitialises_the_graph(server_url, watched):
    """Following an internal link swaps the page in place (Material's instant navigation: no full load,
    so a marker set on ``window`` survives), and the graph's script initialises on the page it swapped
    in (llmkb.js subscribes to Material's ``document$``, which fires after every instant navigation)."""
    page = watched.page
    page.goto(server_url, wait_until="networkidle")
    page.evaluate("window.__llmkbMarker = 'kept'")
    page.locator("article a[href$='graph/']").first.click()
    page.wait_for_url("**/graph/", timeout=15000)
    page.locator("svg.llmkb-graph g.llmkb-node").first.wait_for(timeout=15000)
    assert page.evaluate("window.__llmkbMarker") == "kept", "the link caused a full page load"
    page.locator("svg.llmkb-graph g.llmkb-node").first.hover()
    assert "llmkb-hovering" in (page.locator("svg.llmkb-graph").last.get_attribute("class") or "")
    # and back again: the home page's content is swapped in, still without a reload
    page.go_back()
    page.wait_for_url(server_url, timeout=15000)
    page.locator("article").first.wait_for(timeout=15000)
    assert page.evaluate("window.__llmkbMarker") == "kept"
    watched.check()


@pytest.mark.parametrize(
    ("page_path", "name"),
    [
        ("01-tokenization/", "tokenizer"),
        ("02-positional-embeddings/", "pe3d"),
        ("05-sampling/", "sampling"),
        ("06-kv-cache/", "kvcache"),
        ("quiz/", "quiz"),
    ],
)
def test_every_widget_is_ready_and_styled(server_url, watched, page_path, name):
    """Each widget says it is ready and has injected its own stylesheet (a widget that forgot to would
    render as unstyled controls and bars)."""
    from conftest import open_widget

    page = watched.page
    open_widget(page, server_url + page_path, f"[data-llmkb-widget='{name}']")
    assert page.evaluate(f"!!document.getElementById('llmkb-{name}-style')"), f"{name}: no stylesheet"
    watched.check()
