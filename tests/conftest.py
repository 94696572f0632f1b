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


def build_site(dest: Path, cache: Path, profile: str = "quick") -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the real project into ``dest``."""
    env = {**os.environ, "LLMKB_PROFILE": profile, "LLMKB_CACHE": str(cache), "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def site_build(tmp_path_factory) -> SiteBuild:
    """The real site, built once per session in the quick profile (the lab cache is the project's).

    While developing, ``LLMKB_TEST_SITE=/tmp/x/llmkb`` points the browser tests at a site built beforehand
    (``mkdocs build -d /tmp/x/llmkb``) instead of building it again.
    """
    sub = site_subpath()
    cache = Path(os.environ.get("LLMKB_CACHE", ROOT / ".cache" / "llmkb"))
    prebuilt = os.environ.get("LLMKB_TEST_SITE")
    if prebuilt:
        p = Path(prebuilt).resolve()
        assert p.name == sub, f"LLMKB_TEST_SITE must end with the sub-path /{sub}"
        return SiteBuild(p.parent, sub, "(prebuilt)", 0, cache)
    root = tmp_path_factory.mktemp("served")
    proc = build_site(root / sub, cache)
    return SiteBuild(root, sub, proc.stdout + proc.stderr, proc.returncode, cache)


@pytest.fixture(scope="session")
def built_site(site_build: SiteBuild) -> SiteBuild:
    """Like ``site_build`` but fails at once when the build failed."""
    assert site_build.returncode == 0, site_build.output[-5000:]
    return site_build


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="session")
def server_url(built_site: SiteBuild) -> Iterator[str]:
    """Base URL of the built site served on 127.0.0.1, under its GitHub Pages sub-path (ends with /)."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{built_site.subpath}/"
    finally:
        httpd.shutdown()


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


@pytest.fixture
def watched(browser, server_url: str) -> Iterator[Watched]:
    """A fresh page that records console errors and any request not to the local server."""
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
    try:
        yield w
    finally:
        context.close()
