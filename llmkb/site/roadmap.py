"""The roadmap of the original project: its 16 areas and its next steps, their checklist items and live status."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import yaml

from llmkb.site.pages import Topic

ROADMAP_FILE = Path(__file__).with_name("roadmap.yaml")


@dataclass(frozen=True)
class Item:
    """One checklist item and where it stands."""

    id: str
    text: str
    area: int
    page: str | None  # topic id that covers it
    done: bool  # covered by a page whose lab exists


def load_areas(path: Path = ROADMAP_FILE) -> list[dict]:
    """The areas as stored in the data file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["areas"]


def status(topics: dict[str, Topic], path: Path = ROADMAP_FILE) -> list[tuple[dict, list[Item]]]:
    """Every area with its items' live status.

    Raises:
        ValueError: when a page claims a roadmap item id that does not exist.
    """
    areas = load_areas(path)
    known = {str(it["id"]) for a in areas for it in a["items"]}
    claims: dict[str, str] = {}
    for t in sorted(topics.values(), key=lambda t: t.number):
        for item_id in t.roadmap:
            if item_id not in known:
                raise ValueError(
                    f"{t.src_uri}: roadmap item '{item_id}' does not exist (see llmkb/site/roadmap.yaml)"
                )
            claims.setdefault(item_id, t.id)
    out = []
    for a in areas:
        items = []
        for it in a["items"]:
            page = claims.get(str(it["id"]))
            done = page is not None and topics[page].has_lab
            items.append(Item(str(it["id"]), it["text"], int(a["id"]), page, done))
        out.append((a, items))
    return out


_STATE_LABELS = {"done": "done", "covered": "page, no lab yet", "planned": "planned"}
"""Item states and their legend text; the marks are drawn by CSS (llmkb.css), never an emoji font."""


def render(topics: dict[str, Topic], href_of, path: Path = ROADMAP_FILE) -> str:
    """The roadmap as HTML (a grid of area cards with a checklist each)."""
    e = html.escape
    rows = status(topics, path)
    n_done = sum(it.done for _, items in rows for it in items)
    n_all = sum(len(items) for _, items in rows)
    parts = [
        f'<p class="llmkb-roadmap-summary"><strong>{n_done} of {n_all}</strong> checklist items done '
        f"across {len(rows)} areas (an item is done when a page covers it and its lab exists).</p>",
        '<p class="llmkb-roadmap-legend">'
        + " ".join(
            f'<span class="llmkb-item-{state}"><span class="llmkb-mark"></span> {label}</span>'
            for state, label in _STATE_LABELS.items()
        )
        + "</p>",
        '<div class="llmkb-roadmap">',
    ]
    for area, items in rows:
        pages = sorted({it.page for it in items if it.page}, key=lambda p: topics[p].number)
        head = e(f"{area['id']}. {area['title']}")
        if pages:
            links = ", ".join(f'<a href="{e(href_of(p))}">{e(topics[p].title)}</a>' for p in pages)
            sub = f'<div class="llmkb-roadmap-pages">Page: {links}</div>'
        else:
            sub = '<div class="llmkb-roadmap-pages llmkb-planned">Planned</div>'
        done = sum(it.done for it in items)
        parts.append(
            f'<div class="llmkb-roadmap-area" data-area="{area["id"]}"><div class="llmkb-roadmap-title">'
            f'{head} <span class="llmkb-roadmap-count">{done}/{len(items)}</span></div>{sub}<ul>'
        )
        for it in items:
            state = "done" if it.done else ("covered" if it.page else "planned")
            label = _STATE_LABELS[state]
            parts.append(
                f'<li class="llmkb-item llmkb-item-{state}" data-item="{e(it.id)}" data-status="{state}">'
                f'<span class="llmkb-mark" role="img" aria-label="{label}" title="{label}"></span> '
                f'<span class="llmkb-item-id">{e(it.id)}</span> {e(it.text)}</li>'
            )
        parts.append("</ul></div>")
    parts.append("</div>")
    return "".join(parts)
