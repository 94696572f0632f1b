"""Papers and repositories: each entry written once in a data file, cited by pages, indexed site-wide.

``docs/papers.yaml`` maps a key (``vaswani2017``) to ``{authors, year, title}`` (+ ``url`` where the paper is
online, optional ``venue``);
``docs/repositories.yaml`` maps ``owner/name`` to ``{about}`` (+ optional ``url``, GitHub's by default). A topic
page cites them in its front matter — a list whose items are a key, or ``{key: what this page takes from it}``::

    papers:
      - vaswani2017: the block, post-norm
      - ba2016
    repositories:
      - karpathy/nanoGPT: "`model.py`, a pre-norm GPT-2 block in about 30 lines"

and writes ``<!-- llmkb:papers -->`` / ``<!-- llmkb:repositories -->`` where its lists go. The Papers and
Repositories pages put :func:`papers_index` / :func:`repositories_index` at ``<!-- llmkb:papers-index -->`` /
``<!-- llmkb:repositories-index -->``: by year and by topic, each entry with the topics that cite it.
A cited key without an entry fails the build; an entry no page cites is reported by :func:`unused`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

__all__ = [
    "PAPERS_FILE",
    "REPOSITORIES_FILE",
    "MARKERS",
    "Cite",
    "Paper",
    "Repository",
    "load_papers",
    "load_repositories",
    "cites",
    "check_cited",
    "unused",
    "papers_markdown",
    "repositories_markdown",
    "papers_index",
    "repositories_index",
]

PAPERS_FILE = "papers.yaml"
REPOSITORIES_FILE = "repositories.yaml"
MARKERS = {
    "papers": "<!-- llmkb:papers -->",
    "repositories": "<!-- llmkb:repositories -->",
    "papers-index": "<!-- llmkb:papers-index -->",
    "repositories-index": "<!-- llmkb:repositories-index -->",
}
_KEY = re.compile(r"^[a-z][a-z0-9-]*\d{4}[a-z0-9-]*$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_ARXIV = re.compile(r"arxiv\.org/abs/(?P<id>[0-9.]+)")


@dataclass(frozen=True)
class Paper:
    """One paper: who, when, what, where to read it."""

    key: str
    authors: str
    year: int
    title: str
    url: str
    venue: str = ""

    @property
    def link_label(self) -> str:
        """``arXiv:1706.03762`` for an arXiv URL, else the URL's host ("" without a URL)."""
        if not self.url:
            return ""
        m = _ARXIV.search(self.url)
        return f"arXiv:{m.group('id')}" if m else urlparse(self.url).netloc

    def markdown(self, note: str = "") -> str:
        """The entry as one Markdown list item's text: authors (year), *title*, venue — note. [link](url)."""
        venue = f", {self.venue}" if self.venue else ""
        tail = f" — {note}" if note else ""
        link = f" [{self.link_label}]({self.url})" if self.url else ""
        return f"{self.authors} ({self.year}), *{self.title}*{venue}{tail}.{link}"


@dataclass(frozen=True)
class Repository:
    """One repository worth reading: ``owner/name`` and what it is."""

    name: str
    about: str
    url: str

    def markdown(self, note: str = "") -> str:
        """The entry as a list item's text: [owner/name](url) — what to read in it (the page's note, else about)."""
        return f"[{self.name}]({self.url}) — {note or self.about}"


@dataclass(frozen=True)
class Cite:
    """A page's citation of an entry, with what the page takes from it (may be empty)."""

    key: str
    note: str = ""


def _load_mapping(path: Path) -> dict:
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: must be a mapping of key -> entry")
    return raw


def _one_line(path: Path, key: str, field: str, value: object) -> str:
    text = str(value if value is not None else "").strip()
    if not text or "\n" in text:
        raise ValueError(f"{path.name}: {key}: '{field}' must be one non-empty line")
    return text


def load_papers(path: Path) -> dict[str, Paper]:
    """The papers of ``docs/papers.yaml`` by key (none if there is no file).

    Raises:
        ValueError: a malformed key, a missing or unknown field, a year that is not a year, a non-http URL.
    """
    out: dict[str, Paper] = {}
    for key, item in _load_mapping(path).items():
        key = str(key)
        if not _KEY.match(key):
            raise ValueError(
                f"{path.name}: key {key!r} must be lowercase letters then a year, e.g. vaswani2017"
            )
        if not isinstance(item, dict) or not {"authors", "year", "title"} <= set(item):
            raise ValueError(
                f"{path.name}: {key}: needs authors, year and title (and a url where one exists)"
            )
        extra = set(item) - {"authors", "year", "title", "url", "venue"}
        if extra:
            raise ValueError(f"{path.name}: {key}: unknown field(s) {sorted(extra)}")
        year = item["year"]
        if not isinstance(year, int) or not 1900 <= year <= 2100:
            raise ValueError(f"{path.name}: {key}: year must be a four-digit number, not {year!r}")
        url = _one_line(path, key, "url", item["url"]) if "url" in item else ""
        if url and not url.startswith(("https://", "http://")):
            raise ValueError(f"{path.name}: {key}: url must start with https://")
        out[key] = Paper(
            key=key,
            authors=_one_line(path, key, "authors", item["authors"]),
            year=year,
            title=_one_line(path, key, "title", item["title"]),
            url=url,
            venue=_one_line(path, key, "venue", item["venue"]) if "venue" in item else "",
        )
    return out


def load_repositories(path: Path) -> dict[str, Repository]:
    """The repositories of ``docs/repositories.yaml`` by ``owner/name`` (none if there is no file).

    Raises:
        ValueError: a missing ``about``, an unknown field, a name that is not ``owner/name`` without a ``url``.
    """
    out: dict[str, Repository] = {}
    for name, item in _load_mapping(path).items():
        name = str(name)
        if not isinstance(item, dict) or "about" not in item or set(item) - {"about", "url"}:
            raise ValueError(f"{path.name}: {name}: needs 'about' (and optionally 'url'), nothing else")
        if not _REPO.match(name) and not item.get("url"):
            raise ValueError(f"{path.name}: {name!r} is not owner/name, so it needs a 'url'")
        url = str(item.get("url") or f"https://github.com/{name}")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{path.name}: {name}: url must start with https://")
        out[name] = Repository(name, _one_line(path, name, "about", item["about"]), url)
    return out


def cites(meta: Mapping, field: str, where: str) -> list[Cite]:
    """A page's citations from its front matter ``field`` (``papers`` or ``repositories``).

    Raises:
        ValueError: the field is not a list of keys and one-key mappings, or names an entry twice.
    """
    raw = meta.get(field) or []
    if not isinstance(raw, list):
        raise ValueError(f"{where}: front matter '{field}' must be a list")
    out: list[Cite] = []
    for item in raw:
        if isinstance(item, str):
            out.append(Cite(item))
        elif isinstance(item, dict) and len(item) == 1:
            key, note = next(iter(item.items()))
            out.append(Cite(str(key), str(note or "").strip()))
        else:
            raise ValueError(f"{where}: each '{field}' item is a key or {{key: note}}, not {item!r}")
    keys = [c.key for c in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{where}: '{field}' names {sorted({k for k in keys if keys.count(k) > 1})} twice")
    return out


def check_cited(cited: Mapping[str, list[Cite]], entries: Mapping[str, object], what: str) -> None:
    """Raise when a page cites a key that ``entries`` lacks.

    Args:
        cited: page id -> its citations.
        entries: the data file's entries by key.
        what: the data file's name, for the message.

    Raises:
        ValueError: naming each page and its unknown keys.
    """
    bad = {pid: [c.key for c in cs if c.key not in entries] for pid, cs in cited.items()}
    bad = {pid: keys for pid, keys in bad.items() if keys}
    if bad:
        where = "; ".join(f"{pid} cites {', '.join(keys)}" for pid, keys in sorted(bad.items()))
        raise ValueError(f"{where} — not in {what}; add an entry there")


def unused(cited: Mapping[str, list[Cite]], entries: Mapping[str, object]) -> list[str]:
    """The keys of ``entries`` that no page cites, sorted."""
    used = {c.key for cs in cited.values() for c in cs}
    return sorted(set(entries) - used)


def papers_markdown(page_cites: Iterable[Cite], papers: Mapping[str, Paper]) -> str:
    """A page's Papers list, in the page's order."""
    return "\n".join(f"- {papers[c.key].markdown(c.note)}" for c in page_cites) + "\n"


def repositories_markdown(page_cites: Iterable[Cite], repos: Mapping[str, Repository]) -> str:
    """A page's Further reading list, in the page's order."""
    return "\n".join(f"- {repos[c.key].markdown(c.note)}" for c in page_cites) + "\n"


def _cited_by(cited: Mapping[str, list[Cite]]) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for pid in sorted(cited):
        for c in cited[pid]:
            by.setdefault(c.key, []).append(pid)
    return by


def papers_index(
    cited: Mapping[str, list[Cite]],
    papers: Mapping[str, Paper],
    href: Callable[[str], str],
    title: Callable[[str], str],
) -> str:
    """The Papers page: every cited paper by year (newest first) with the topics citing it, then by topic.

    Args:
        cited: page id -> its paper citations.
        papers: the bibliography.
        href: a page id's relative link from the Papers page.
        title: a page id's title.
    """
    by = _cited_by(cited)

    def topic_links(pids: list[str]) -> str:
        return ", ".join(f"[{html.escape(title(p))}]({href(p)})" for p in pids)

    out = ["## By year", ""]
    keys = sorted(by, key=lambda k: (-papers[k].year, papers[k].authors.lower(), k))
    year = None
    for k in keys:
        p = papers[k]
        if p.year != year:
            year = p.year
            out += ["", f"### {year}", ""]
        out.append(f"- {p.markdown()}  \n  *Cited by:* {topic_links(by[k])}")
    out += ["", "## By topic", ""]
    for pid in sorted(cited):
        if not cited[pid]:
            continue
        out += [f"### [{html.escape(title(pid))}]({href(pid)})", ""]
        ordered = sorted(cited[pid], key=lambda c: (papers[c.key].year, c.key))
        out += [f"- {papers[c.key].markdown(c.note)}" for c in ordered] + [""]
    return "\n".join(out) + "\n"


def repositories_index(
    cited: Mapping[str, list[Cite]],
    repos: Mapping[str, Repository],
    href: Callable[[str], str],
    title: Callable[[str], str],
) -> str:
    """The Repositories page: every recommended repository A–Z with its topics, then grouped by topic.

    Args:
        cited: page id -> its repository citations.
        repos: the repositories file's entries.
        href: a page id's relative link from the Repositories page.
        title: a page id's title.
    """
    by = _cited_by(cited)
    out = ["## All repositories", "", "| Repository | What it is | Read with |", "|---|---|---|"]
    for name in sorted(by, key=str.lower):
        r = repos[name]
        topics = ", ".join(f"[{html.escape(title(p))}]({href(p)})" for p in by[name])
        out.append(f"| [{r.name}]({r.url}) | {r.about} | {topics} |")
    out += ["", "## By topic", ""]
    for pid in sorted(cited):
        if not cited[pid]:
            continue
        out += [f"### [{html.escape(title(pid))}]({href(pid)})", ""]
        out += [f"- {repos[c.key].markdown(c.note)}" for c in cited[pid]] + [""]
    return "\n".join(out) + "\n"
