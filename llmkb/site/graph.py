"""The knowledge graph: build it, lay it out at build time, order it, draw it as inline SVG."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import networkx as nx

from llmkb.site.pages import Topic


class CycleError(ValueError):
    """The prerequisites contain a cycle, so no learning path exists."""


def build_graph(topics: dict[str, Topic]) -> nx.DiGraph:
    """Nodes are topics; an edge ``a -> b`` of kind ``prerequisite`` means *read a before b*;
    ``related`` and ``next`` edges carry their kind too."""
    g = nx.DiGraph()
    for t in topics.values():
        g.add_node(t.id, title=t.title, number=t.number, summary=t.summary, tags=t.tags)
    for t in topics.values():
        for pre in t.prerequisites:
            g.add_edge(pre, t.id, kind="prerequisite")
        for nxt in t.next:
            if not g.has_edge(t.id, nxt):
                g.add_edge(t.id, nxt, kind="next")
        for rel in t.related:
            if not g.has_edge(rel, t.id) and not g.has_edge(t.id, rel):
                g.add_edge(t.id, rel, kind="related")
    return g


def learning_path(topics: dict[str, Topic]) -> list[str]:
    """Topics in an order where every prerequisite comes first (ties broken by topic number).

    Raises:
        CycleError: naming the pages of a cycle in the prerequisites.
    """
    g = nx.DiGraph()
    g.add_nodes_from(topics)
    for t in topics.values():
        g.add_edges_from((pre, t.id) for pre in t.prerequisites)
    try:
        return list(nx.lexicographical_topological_sort(g, key=lambda n: (topics[n].number, n)))
    except nx.NetworkXUnfeasible:
        cycle = [u for u, _ in nx.find_cycle(g)]
        raise CycleError("prerequisites form a cycle: " + " -> ".join([*cycle, cycle[0]])) from None


def layout(g: nx.DiGraph, width: float = 900, height: float = 520, pad: float = 70) -> dict[str, tuple]:
    """Node positions in pixels, deterministic (seeded spring layout; a circle for < 3 nodes)."""
    if g.number_of_nodes() == 0:
        return {}
    if g.number_of_nodes() < 3:
        pos = {n: (math.cos(2 * math.pi * i / 2), math.sin(2 * math.pi * i / 2)) for i, n in enumerate(g)}
    else:
        pos = nx.spring_layout(
            g.to_undirected(), seed=7, k=1.6 / math.sqrt(g.number_of_nodes()), iterations=200
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def sx(v: float, lo: float, hi: float, size: float) -> float:
        return size / 2 if hi - lo < 1e-9 else pad + (v - lo) / (hi - lo) * (size - 2 * pad)

    return {
        n: (round(sx(p[0], x0, x1, width), 1), round(sx(p[1], y0, y1, height), 1)) for n, p in pos.items()
    }


def to_json(g: nx.DiGraph, pos: dict[str, tuple], url_of: Callable[[str], str]) -> dict:
    """The graph as JSON: nodes (id, title, url, x, y) and typed edges."""
    return {
        "nodes": [
            {
                "id": n,
                "title": d["title"],
                "summary": d["summary"],
                "tags": d["tags"],
                "url": url_of(n),
                "x": pos[n][0],
                "y": pos[n][1],
            }
            for n, d in sorted(g.nodes(data=True))
        ],
        "edges": [{"source": u, "target": v, "kind": d["kind"]} for u, v, d in sorted(g.edges(data=True))],
    }


_CHAR_EM = 0.58  # a generous average glyph width of the node labels, in em
COLUMN_PX = 688  # the page column the graph is drawn for (llmkb.lab.kit.style.COLUMN_PX)
LABEL_PX = 12.0  # node labels render at least this size in that column
MIN_LABEL_PX = 11.0  # … and never under this on a narrower screen (the graph scrolls sideways instead)


def _extent(
    g: nx.DiGraph, pos: dict[str, tuple], width: float, height: float, font: float = 13.0
) -> tuple[float, ...]:
    """``(x0, y0, x1, y1)``: the canvas, grown so that no node label (centred under its node, ``font`` units
    high) is clipped."""
    x0, y0, x1, y1 = 0.0, 0.0, float(width), float(height)
    for n, d in g.nodes(data=True):
        x, y = pos[n]
        half = len(str(d["title"])) * _CHAR_EM * font / 2 + 8
        x0, x1 = min(x0, x - half), max(x1, x + half)
        y0, y1 = min(y0, y - font - 8), max(y1, y + 2.5 * font + 6)
    return round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)


def label_font(g: nx.DiGraph, pos: dict[str, tuple], width: float, height: float) -> tuple[float, float]:
    """The label size (SVG units) that renders at :data:`LABEL_PX` when the graph fills the column, and the
    canvas width it needs: the SVG shrinks to the column, so labels grow with the canvas they widen."""
    font = 13.0
    for _ in range(8):  # a fixed point: font = LABEL_PX * extent(font) / COLUMN_PX
        x0, _, x1, _ = _extent(g, pos, width, height, font)
        font = LABEL_PX * (x1 - x0) / COLUMN_PX
    x0, _, x1, _ = _extent(g, pos, width, height, font)
    return round(font, 1), x1 - x0


def to_svg(
    g: nx.DiGraph, pos: dict[str, tuple], href_of: Callable[[str], str], width: int = 900, height: int = 520
) -> str:
    """An inline SVG of the graph: clickable nodes; ``data-neighbors`` drives hover highlighting.

    Nodes are ``<g role="link" data-href>`` rather than SVG ``<a>`` elements: Material's instant navigation
    rewrites the ``href`` of every anchor, which SVG anchors do not allow. ``llmkb.js`` makes them clickable
    and keyboard-activatable.
    """
    e = html.escape
    font, _ = label_font(g, pos, width, height)
    x0, y0, x1, y1 = _extent(g, pos, width, height, font)
    min_width = round((x1 - x0) * MIN_LABEL_PX / font)  # narrower, labels would shrink under MIN_LABEL_PX
    r, number = round(font, 1), round(0.92 * font, 1)  # the node's circle holds its number at label size
    parts = [
        f'<svg class="llmkb-graph" viewBox="{x0} {y0} {x1 - x0} {y1 - y0}" role="img" '
        f'aria-label="Knowledge graph of the topics" xmlns="http://www.w3.org/2000/svg" '
        f'style="min-width: {min_width}px" data-label-units="{font}">',
        # the arrow head stops at the node's circle (marker units: 7 × the 1.6 stroke over a 10-unit box)
        f'<defs><marker id="llmkb-arrow" viewBox="0 0 10 10" refX="{round(10 + r / 1.12)}" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
    ]
    for u, v, d in sorted(g.edges(data=True)):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        marker = ' marker-end="url(#llmkb-arrow)"' if d["kind"] != "related" else ""
        parts.append(
            f'<line class="llmkb-edge llmkb-edge-{e(d["kind"])}" data-source="{e(u)}" data-target="{e(v)}" '
            f'x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{marker}/>'
        )
    undirected = g.to_undirected()
    for n, d in sorted(g.nodes(data=True)):
        x, y = pos[n]
        neighbors = " ".join(sorted(undirected.neighbors(n)))
        parts.append(
            f'<g class="llmkb-node" role="link" tabindex="0" data-href="{e(href_of(n))}" data-id="{e(n)}" '
            f'data-neighbors="{e(neighbors)}">'
            f"<title>{e(d['title'])}: {e(d['summary'])}</title>"
            f'<circle cx="{x}" cy="{y}" r="{r}"/>'
            f'<text class="llmkb-node-number" x="{x}" y="{round(y + 0.33 * number, 1)}" text-anchor="middle" '
            f'font-size="{number}">{d["number"]}</text>'
            f'<text class="llmkb-node-label" x="{x}" y="{round(y + r + font, 1)}" text-anchor="middle" '
            f'font-size="{font}">{e(d["title"])}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
