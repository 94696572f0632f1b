"""The reading map: books and courses mapped to the topics here that cover the same ground.

``docs/reading-map.yaml`` is a list of ``{title, authors, year, publisher, topics, covers, beyond}``: what the
resource teaches (``covers``, in our words), the topic pages that cover the same ground (``topics``: topic ids,
checked against the pages), and what it teaches that no topic here does yet (``beyond``). ``docs/reading-map.md``
shows :func:`table_markdown` where it says ``<!-- llmkb:reading-map -->``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["READING_FILE", "MARKER", "Resource", "load", "check_topics", "table_markdown"]

READING_FILE = "reading-map.yaml"
MARKER = "<!-- llmkb:reading-map -->"
_FIELDS = ("title", "authors", "year", "publisher", "topics", "covers", "beyond")


@dataclass(frozen=True)
class Resource:
    """A book or course and where its ground is covered here."""

    title: str
    authors: str
    year: int
    publisher: str
    topics: tuple[str, ...]
    covers: str
    beyond: str


def load(path: Path) -> list[Resource]:
    """The resources of the reading-map file, in file order (none if there is no file).

    Raises:
        ValueError: an entry lacks a field or has an unknown one, or a text field is empty or spans lines.
    """
    if not path.is_file():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out: list[Resource] = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict) or set(item) != set(_FIELDS):
            raise ValueError(f"{path.name}: entry {i} must have exactly {', '.join(_FIELDS)}")
        texts = {k: str(item[k]).strip() for k in _FIELDS if k not in ("year", "topics")}
        if any(not v or "\n" in v for v in texts.values()):
            raise ValueError(
                f"{path.name}: entry {i} ({item.get('title')}): each text field is one non-empty line"
            )
        if not isinstance(item["year"], int) or not isinstance(item["topics"], list):
            raise ValueError(f"{path.name}: entry {i}: year is a number and topics a list of topic ids")
        out.append(Resource(year=item["year"], topics=tuple(str(t) for t in item["topics"]), **texts))
    return out


def check_topics(resources: Iterable[Resource], known: Iterable[str]) -> None:
    """Raise when a resource names a topic id that is not a page.

    Raises:
        ValueError: naming the resource and the unknown ids.
    """
    known = set(known)
    for r in resources:
        bad = sorted(set(r.topics) - known)
        if bad:
            raise ValueError(f"reading map: {r.title!r} names topics that do not exist: {', '.join(bad)}")


def table_markdown(resources: list[Resource], href: Callable[[str], str], title: Callable[[str], str]) -> str:
    """The reading map as one section per resource: what it covers, where here, what it adds.

    Args:
        resources: the reading map.
        href: a topic id's relative link from the reading-map page.
        title: a topic id's title.
    """
    out: list[str] = []
    for r in resources:
        here = ", ".join(f"[{title(t)}]({href(t)})" for t in r.topics) or "no topic here yet"
        out += [
            f"### *{r.title}*",
            "",
            f"{r.authors} ({r.publisher}, {r.year}). {r.covers}",
            "",
            f"- **Read with:** {here}",
            f"- **What it adds:** {r.beyond}",
            "",
        ]
    return "\n".join(out)
