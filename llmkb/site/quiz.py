"""The "Test yourself" quiz: every topic page's Q&A, collected from the rendered pages into ``quiz.json``.

A topic page writes its questions as collapsible admonitions (``??? question "…"``), which Material renders as
``<details class="question"><summary>question</summary>answer…</details>``. The plugin hands each topic page's
final HTML (math already rendered) to :func:`harvest`; :func:`quiz_data` bundles the pages in topic order, and
``docs/assets/widgets/quiz.js`` asks the questions on the quiz page. Nothing is typed twice: a question edited on
its page is the question the quiz asks after the next build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["QUIZ_FILE", "harvest", "quiz_data"]

QUIZ_FILE = "quiz.json"
"""Where the build writes the quiz's questions, relative to the site root."""

_QUESTION = re.compile(
    r'<details class="question"[^>]*>\s*<summary>(?P<q>.*?)</summary>(?P<a>.*?)</details>', re.DOTALL
)
_LOCAL_ANCHOR = re.compile(r'href="#')


def harvest(html_text: str, page_dir: str) -> list[dict[str, str]]:
    """The questions of one rendered page, in page order.

    Args:
        html_text: the page's content HTML.
        page_dir: the page's URL relative to the site root, ending with ``/`` (``"05-sampling/"``): links
            to the page's own anchors are rewritten to point at that page, so that they still lead there
            when the answer is shown on the quiz page (itself one folder below the root, like every topic).

    Returns:
        ``[{"q": question HTML, "a": answer HTML}, …]``.
    """
    out = []
    for m in _QUESTION.finditer(html_text):
        answer = _LOCAL_ANCHOR.sub(f'href="../{page_dir}#', m["a"].strip())
        out.append({"q": m["q"].strip(), "a": answer})
    return out


def quiz_data(pages: Iterable[tuple[str, str, list[dict[str, str]]]]) -> dict[str, Any]:
    """The content of ``quiz.json``.

    Args:
        pages: ``(topic id, title, questions)`` per topic page, in reading order.

    Returns:
        ``{"topics": [{"id", "title", "items": [{"q", "a"}, …]}, …]}`` — topics without questions left out.
    """
    return {"topics": [{"id": tid, "title": title, "items": items} for tid, title, items in pages if items]}
