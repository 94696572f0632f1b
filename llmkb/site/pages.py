"""Reading the docs folder: topic pages, their front matter and the links between them."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from llmkb.site.references import Cite, cites

TOPIC_DIR = re.compile(r"^(?P<num>\d{2})-(?P<slug>[a-z0-9][a-z0-9-]*)$")
_MD_LINK = re.compile(r"\]\((?P<target>[^)\s#]+\.md)(?:#[^)]*)?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)

LINK_KINDS: tuple[str, ...] = ("prerequisites", "related", "next")
"""Typed links a page may declare in its front matter."""


class FrontMatterError(ValueError):
    """A page's front matter is malformed or references a page that does not exist."""


@dataclass
class Topic:
    """A topic page ``docs/<nn>-<slug>/index.md`` and what its front matter declares."""

    id: str  # folder name, e.g. "01-tokenization"
    number: int
    slug: str
    src_uri: str  # "01-tokenization/index.md"
    title: str
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    roadmap: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    next: list[str] = field(default_factory=list)
    papers: list[Cite] = field(default_factory=list)  # front matter 'papers' (keys of docs/papers.yaml)
    repositories: list[Cite] = field(default_factory=list)  # front matter 'repositories'
    extras: list[str] = field(default_factory=list)  # pyproject extras its lab needs beyond the core
    has_lab: bool = False
    text_links: set[str] = field(default_factory=set)  # src_uris linked from the body text


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split ``---``-delimited YAML front matter from Markdown.

    Raises:
        FrontMatterError: when the YAML is invalid or not a mapping.
    """
    if not text.startswith("---"):
        return {}, text
    m = re.match(r"^---\s*\n(.*?\n)---\s*\n", text, re.S)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"invalid YAML front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise FrontMatterError("front matter must be a YAML mapping")
    return meta, text[m.end() :]


def _as_list(meta: dict, key: str, where: str) -> list[str]:
    value = meta.get(key, []) or []
    if isinstance(value, (str, int, float)):
        value = [value]
    if not isinstance(value, list):
        raise FrontMatterError(f"{where}: front matter '{key}' must be a list")
    return [str(v) for v in value]


def markdown_links(src_uri: str, body: str) -> set[str]:
    """The ``.md`` pages a Markdown body links to (outside code fences), as src_uris."""
    body = _FENCE.sub("", body)
    base = posixpath.dirname(src_uri)
    out = set()
    for m in _MD_LINK.finditer(body):
        target = m.group("target")
        if "://" in target:
            continue
        out.add(posixpath.normpath(posixpath.join(base, target)))
    return out


def read_topics(docs_dir: Path) -> dict[str, Topic]:
    """Read every topic page under ``docs_dir`` and validate its references.

    Raises:
        FrontMatterError: on malformed front matter, a missing title, or a reference to a page that
            does not exist.
    """
    topics: dict[str, Topic] = {}
    for d in sorted(p for p in docs_dir.iterdir() if p.is_dir()):
        m = TOPIC_DIR.match(d.name)
        if not m or not (d / "index.md").is_file():
            continue
        src_uri = f"{d.name}/index.md"
        meta, body = split_front_matter((d / "index.md").read_text(encoding="utf-8"))
        title = meta.get("title")
        if not title:
            raise FrontMatterError(f"{src_uri}: front matter needs a 'title'")
        t = Topic(
            id=d.name,
            number=int(m.group("num")),
            slug=m.group("slug"),
            src_uri=src_uri,
            title=str(title),
            summary=str(meta.get("summary", "")),
            tags=_as_list(meta, "tags", src_uri),
            roadmap=_as_list(meta, "roadmap", src_uri),
            modules=_as_list(meta, "modules", src_uri),
            papers=cites(meta, "papers", src_uri),
            repositories=cites(meta, "repositories", src_uri),
            extras=_as_list(meta, "extras", src_uri),
            has_lab=(d / "lab.py").is_file(),
            text_links=markdown_links(src_uri, body),
        )
        for kind in LINK_KINDS:
            setattr(t, kind, _as_list(meta, kind, src_uri))
        topics[t.id] = t
    for t in topics.values():
        for kind in LINK_KINDS:
            for ref in getattr(t, kind):
                if ref not in topics:
                    known = ", ".join(sorted(topics)) or "none"
                    raise FrontMatterError(
                        f"{t.src_uri}: '{kind}' names '{ref}', which is not a topic page (known: {known})"
                    )
                if ref == t.id:
                    raise FrontMatterError(f"{t.src_uri}: '{kind}' names the page itself")
    return topics


def backlinks(topics: dict[str, Topic]) -> dict[str, set[str]]:
    """For each topic, the topics that reference it (front matter or text links)."""
    by_uri = {t.src_uri: t.id for t in topics.values()}
    refs: dict[str, set[str]] = {tid: set() for tid in topics}
    for t in topics.values():
        targets = {by_uri[u] for u in t.text_links if u in by_uri}
        for kind in LINK_KINDS:
            targets.update(getattr(t, kind))
        for target in targets - {t.id}:
            refs[target].add(t.id)
    return refs


def next_topics(topics: dict[str, Topic]) -> dict[str, list[str]]:
    """Explicit ``next`` links plus the inverse of ``prerequisites`` (pages that build on this one)."""
    out: dict[str, set[str]] = {tid: set(t.next) for tid, t in topics.items()}
    for t in topics.values():
        for pre in t.prerequisites:
            out[pre].add(t.id)
    return {tid: sorted(v) for tid, v in out.items()}
