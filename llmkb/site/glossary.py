"""The glossary: terms defined once in ``docs/glossary.yaml``, shown as tooltips on every page and listed on one page.

Each entry is ``{term, means, topic}``: the exact, case-sensitive word (``GQA``, ``KV cache``), its meaning in
one line, and the topic page that explains it. The plugin appends the entries to every page's Markdown as
abbreviation definitions (``*[GQA]: …``), so Markdown's ``abbr`` extension wraps each whole-word occurrence
outside code and math in ``<abbr title="…">``; ``docs/glossary.md`` shows :func:`table_markdown` where it says
``<!-- llmkb:glossary -->``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["GLOSSARY_FILE", "MARKER", "Entry", "abbreviations", "load", "table_markdown"]

GLOSSARY_FILE = "glossary.yaml"
"""The glossary's file in the docs folder (a site without one has no glossary)."""
MARKER = "<!-- llmkb:glossary -->"


@dataclass(frozen=True)
class Entry:
    """One glossary term."""

    term: str
    means: str
    topic: str


def load(path: Path) -> list[Entry]:
    """The entries of a glossary file, sorted case-insensitively by term (none if there is no file).

    Raises:
        ValueError: an entry lacks a field, has an unknown one, spans lines, or repeats a term.
    """
    if not path.is_file():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out: list[Entry] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"term", "means", "topic"}:
            raise ValueError(f"{path.name}: entry {i + 1} must have exactly term, means and topic")
        if any("\n" in str(v) or not str(v).strip() for v in item.values()):
            raise ValueError(
                f"{path.name}: entry {i + 1} ({item.get('term')}): each field is one non-empty line"
            )
        out.append(Entry(str(item["term"]), str(item["means"]), str(item["topic"])))
    terms = [e.term for e in out]
    if len(set(terms)) != len(terms):
        raise ValueError(
            f"{path.name}: a term is defined twice: {sorted({t for t in terms if terms.count(t) > 1})}"
        )
    return sorted(out, key=lambda e: e.term.lower())


def abbreviations(entries: list[Entry]) -> str:
    """Markdown abbreviation definitions of ``entries``, to append to a page."""
    return "\n\n" + "\n".join(f"*[{e.term}]: {e.means}" for e in entries) + "\n"


def table_markdown(entries: list[Entry], href: Callable[[str], str], title: Callable[[str], str]) -> str:
    """The glossary page's table: term, meaning, and a link to the topic that explains it.

    Args:
        entries: the glossary.
        href: a topic id's relative link from the glossary page.
        title: a topic id's title.
    """
    rows = ["| Term | Meaning | Explained in |", "|---|---|---|"]
    rows += [f"| **{e.term}** | {e.means} | [{title(e.topic)}]({href(e.topic)}) |" for e in entries]
    return "\n".join(rows) + "\n"
