"""The preview that ``make serve`` shows while the full labs are not all cached.

``make serve`` builds with ``LLMKB_PROFILE=full LLMKB_FALLBACK=quick``: each experiment whose full result is
cached is shown from it, every other one from the quick profile (seconds to run), marked on the page, while
:mod:`llmkb.site.runner` computes the full results in the background. ``make site`` sets no fallback, so
the published site is full-profile only. This module resolves the profile of each experiment and writes the
page banners; :mod:`llmkb.site.placeholders` marks the quick values themselves. A lab notebook that reads a
missing full result is shown without executing it (rather than running full experiments in its kernel).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from llmkb.site.placeholders import QUICK_CLASS

FALLBACKS = ("", "quick")
"""Allowed values of ``$LLMKB_FALLBACK`` (``""``: none, what ``make site`` uses)."""

BANNER_TITLE = "Preview: some results on this page come from the quick profile"
BANNER_TEXT = (
    "Their full-profile results are not cached yet. Values, tables and figures from the quick profile are "
    "marked with a dashed line; while `make serve` runs, the full labs run in the background and the page "
    "reloads as their results land. The published site (`make site`) shows full-profile results only."
)
NOTEBOOK_TITLE = "Preview: this notebook is shown without its outputs"
NOTEBOOK_TEXT = (
    "It reads lab results whose full-profile run is not cached yet. While `make serve` runs, the full labs run "
    "in the background; the notebook is executed and the page reloads once they have landed. The published "
    "site (`make site`) always shows it executed."
)

_LAB_RUN = re.compile(r"""\blab\.run\(\s*(['"])(?P<name>[^'"]+)\1""")


def resolve(names: Iterable[str], profile: str, fallback: str, cached: set[str]) -> dict[str, str]:
    """The profile each experiment is shown from.

    Args:
        names: the experiments.
        profile: the build's profile.
        fallback: ``"quick"`` in a preview build, ``""`` otherwise (then every experiment uses ``profile``).
        cached: the experiments whose ``profile`` results (needs included) are cached.

    Returns:
        ``{name: profile}``: ``profile`` when cached or without a fallback, else the fallback.
    """
    if fallback and fallback != profile:
        return {n: profile if n in cached else fallback for n in names}
    return {n: profile for n in names}


def banner_markdown() -> str:
    """The admonition a topic page with quick-profile results starts with (Markdown)."""
    return f'!!! warning "{BANNER_TITLE}"\n    {BANNER_TEXT}\n'


def notebook_banner_html() -> str:
    """The admonition a lab notebook page shown unexecuted starts with (HTML: mkdocs-jupyter renders it)."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", NOTEBOOK_TEXT)
    return (
        f'<div class="admonition warning {QUICK_CLASS}-banner"><p class="admonition-title">{NOTEBOOK_TITLE}</p>'
        f"<p>{text}</p></div>\n"
    )


def after_h1(markdown: str, block: str) -> str:
    """``markdown`` with ``block`` inserted right after its first H1 (or at the top)."""
    m = re.search(r"^# .*$", markdown, re.M)
    if m is None:
        return block + "\n" + markdown
    return markdown[: m.end()] + "\n\n" + block + markdown[m.end() :]


def notebook_experiments(path: Path) -> set[str]:
    """The experiments a lab notebook reads with ``lab.run("<name>")``."""
    return {m["name"] for m in _LAB_RUN.finditer(path.read_text(encoding="utf-8"))}
