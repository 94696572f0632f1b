"""Shared fixtures: the real site built once (quick profile), a local server for it, and Debian's
chromium driven by Playwright (never a downloaded browser).

Tests that use these fixtures should carry ``pytestmark = pytest.mark.xdist_group("site")`` so that,
under ``pytest -n 2 --dist loadgroup``, they share one worker and the site is built only once.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Make ``--dist loadgroup`` group again: pytest-xdist 3.8 tags a grouped test by setting
    ``item._nodeid``, which pytest 9 no longer reads, so the "site" tests were spread over both workers and
    each built the whole site. Tag the node id pytest 9 does read (a no-op where xdist's tag took)."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = coerce_node_id(item.nodeid + suffix)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread in every test (as ``make test`` sets OMP_NUM_THREADS=1): the tests' models
    are tiny, dominated by per-op overhead, and two pytest workers already share the two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def site_subpath() -> str:
    """The sub-path GitHub Pages serves the site under, from mkdocs.yml's default site_url."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_constructor("!ENV", lambda loader, node: loader.construct_sequence(node)[-1])
    cfg = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)  # noqa: S506 - safe loader subclass
    url = os.environ.get("LLMKB_SITE_URL") or cfg["site_url"]
    return urlparse(url).path.strip("/")


@dataclass
class SiteBuild:
    """The result of building the real site once."""

    root: Path  # served directory; the site lives at root / subpath
    subpath: str
    output: str
    returncode: int
    cache: Path

    @property
    def dir(self) -> Path:
        return self.root / self.subpath


def build_site(
    dest: Path, cache: Path, profile: str = "quick", site_url: str | None = None
) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the real project into ``dest`` (optionally for another ``site_url``)."""
    env = {**os.environ, "LLMKB_PROFILE": profile, "LLMKB_CACHE": str(cache), "NO_MKDOCS_2_WARNING": "1"}
    if site_url:
        env["LLMKB_SITE_URL"] = site_url
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="session")
def _httpd(tmp_path_factory) -> Iterator[http.server.ThreadingHTTPServer]:
    """A local HTTP server bound (not yet serving) to a free port on 127.0.0.1, serving a temp folder.

    The port is known before the site is built, so the site can be built for exactly this address:
    Material's instant navigation only intercepts links whose URL is in the site's sitemap.xml, which
    is written from ``site_url``.
    """
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.llmkb_root = root  # type: ignore[attr-defined]
    try:
        yield httpd
    finally:
        httpd.server_close()


@pytest.fixture(scope="session")
def site_build(_httpd) -> SiteBuild:
    """The real site, built once per session in the quick profile (the lab cache is the project's), for
    the address of the local test server.

    While developing, ``LLMKB_TEST_SITE=/tmp/x/llmkb`` points the browser tests at a site built beforehand
    (``mkdocs build -d /tmp/x/llmkb``) instead of building it again (instant navigation then falls back
    to full page loads, because that site's sitemap names another address).
    """
    sub = site_subpath()
    cache = Path(os.environ.get("LLMKB_CACHE", ROOT / ".cache" / "llmkb"))
    prebuilt = os.environ.get("LLMKB_TEST_SITE")
    if prebuilt:
        p = Path(prebuilt).resolve()
        assert p.name == sub, f"LLMKB_TEST_SITE must end with the sub-path /{sub}"
        _httpd.RequestHandlerClass = functools.partial(_QuietHandler, directory=str(p.parent))
        return SiteBuild(p.parent, sub, "(prebuilt)", 0, cache)
    root: Path = _httpd.llmkb_root
    url = f"http://127.0.0.1:{_httpd.server_address[1]}/{sub}/"
    proc = build_site(root / sub, cache, site_url=url)
    return SiteBuild(root, sub, proc.stdout + proc.stderr, proc.returncode, cache)


@pytest.fixture(scope="session")
def built_site(site_build: SiteBuild) -> SiteBuild:
    """Like ``site_build`` but fails at once when the build failed."""
    assert site_build.returncode == 0, site_build.output[-5000:]
    return site_build


@pytest.fixture(scope="session")
def server_url(built_site: SiteBuild, _httpd) -> Iterator[str]:
    """Base URL of the built site served on 127.0.0.1, under its GitHub Pages sub-path (ends with /)."""
    thread = threading.Thread(target=_httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{_httpd.server_address[1]}/{built_site.subpath}/"
    finally:
        _httpd.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, via Playwright."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium missing: run `make chromium` (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watched:
    """A browser page plus every console error, page error and off-site request it produced."""

    page: object
    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.foreign, f"requests to other hosts: {self.foreign}"


def watch(browser, server_url: str) -> tuple[object, Watched]:
    """A new browser context and a page in it that records console errors and any request not to the local
    server (close the context when done)."""
    context = browser.new_context()
    page = context.new_page()
    origin = server_url.split("/", 3)[:3]
    w = Watched(page, "/".join(origin))

    def on_console(msg) -> None:
        if msg.type == "error":
            w.errors.append(msg.text)

    def on_request(req) -> None:
        url = req.url
        if not (url.startswith(w.origin) or url.startswith(("data:", "blob:", "about:"))):
            w.foreign.append(url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: w.errors.append(f"pageerror: {exc}"))
    page.on("request", on_request)
    return context, w


@pytest.fixture
def watched(browser, server_url: str) -> Iterator[Watched]:
    """A fresh page that records console errors and any request not to the local server."""
    context, w = watch(browser, server_url)
    try:
        yield w
    finally:
        context.close()


def open_widget(page, url: str, widget: str) -> None:
    """Load ``url`` (HTTP 200) and wait until the in-page widget matching the CSS selector ``widget`` says it
    is ready (``data-ready="1"``, the contract in llmkb.js)."""
    resp = page.goto(url, wait_until="load")
    assert resp is not None and resp.status == 200, url
    page.wait_for_selector(f"{widget}[data-ready='1']", timeout=15000)


def widget_data(built_site: SiteBuild, page, page_path: str, widget: str) -> dict:
    """The build-time JSON a widget loaded: its ``data-src`` must be a relative URL on this site."""
    import json
    import posixpath

    src = page.get_attribute(widget, "data-src")
    assert src and not src.startswith(("http:", "https:", "/")), src
    path = built_site.dir / posixpath.normpath(posixpath.join(page_path, src))
    return json.loads(path.read_text(encoding="utf-8"))
