"""The llmkb MkDocs plugin on small fixture projects: graph, backlinks, roadmap, placeholders, math,
errors that must fail the strict build, and the lab cache across rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sitekit import build, make_project, topic_page

from llmkb.lab.cache import count_runs
from llmkb.site import roadmap
from llmkb.site.graph import CycleError, learning_path
from llmkb.site.pages import FrontMatterError, read_topics

pytestmark = pytest.mark.xdist_group("site-fixtures")

LAB_MODULE = """
from llmkb.lab import experiment, figure

@experiment("alpha/squares", topic="alpha", profiles={"quick": {"n": 4}, "full": {"n": 8}})
def squares(cfg, ctx):
    import numpy as np
    xs = np.arange(cfg["n"])
    return {"xs": xs, "ys": xs ** 2, "best": float((xs ** 2).max()), "rows": [{"n": int(x), "sq": int(x * x)} for x in xs],
            "note": "<b>&</b>"}

@figure("alpha/squares", "curve", caption="Squares")
def curve(res):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot(res["xs"], res["ys"])
    return fig
"""


def _pages() -> dict[str, str]:
    return {
        "01-alpha/index.md": topic_page(
            "Alpha",
            summary="first",
            roadmap=["1.1"],
            related=["02-beta"],
            body="""
            Largest square: {{ lab.value("alpha/squares", "best", ".1f") }}; note {{ lab.text("alpha/squares", "note") }}.

            {{ lab.table("alpha/squares", "rows") }}

            {{ lab.figure("alpha/squares", "curve") }}

            Data: <span id="durl">{{ lab.data_url("alpha/squares", "ys") }}</span>

            Inline math $a^2 + b^2$ and a block:

            $$
            \\mathrm{softmax}(x)_i = \\frac{e^{x_i}}{\\sum_j e^{x_j}}
            $$
            """,
        ),
        "01-alpha/lab.py": "# %% [markdown]\n# # Alpha lab\n\n# %%\nprint('hi')\n",
        "02-beta/index.md": topic_page(
            "Beta",
            summary="second",
            prerequisites=["01-alpha"],
            roadmap=["1.2"],
            body="See [alpha](../01-alpha/index.md).",
        ),
        "03-gamma/index.md": topic_page(
            "Gamma",
            summary="third",
            prerequisites=["02-beta"],
            body="Text link to [beta](../02-beta/index.md).",
        ),
        "graph.md": "# Graph\n\n<!-- llmkb:graph -->\n",
        "path.md": "# Path\n\n<!-- llmkb:learning-path -->\n",
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fixture-site")
    (tmp / "pylab").mkdir()
    (tmp / "pylab" / "fixture_lab_alpha.py").write_text(LAB_MODULE, encoding="utf-8")
    project = make_project(tmp / "proj", _pages(), lab_modules=["fixture_lab_alpha"])
    # the fixture lab.py is not executed by mkdocs-jupyter here (plugin not configured): it is just a lab marker
    proc = build(project, pythonpath=tmp / "pylab")
    assert proc.returncode == 0, proc.stderr
    return project


def test_read_topics_and_learning_path(tmp_path):
    project = make_project(tmp_path, _pages())
    topics = read_topics(project / "docs")
    assert sorted(topics) == ["01-alpha", "02-beta", "03-gamma"]
    assert topics["01-alpha"].has_lab and not topics["02-beta"].has_lab
    assert learning_path(topics) == ["01-alpha", "02-beta", "03-gamma"]


def test_unknown_reference_is_an_error(tmp_path):
    pages = _pages()
    pages["02-beta/index.md"] = topic_page("Beta", prerequisites=["09-missing"])
    project = make_project(tmp_path, pages)
    with pytest.raises(FrontMatterError, match="09-missing"):
        read_topics(project / "docs")


def test_cycle_is_an_error(tmp_path):
    pages = _pages()
    pages["01-alpha/index.md"] = topic_page("Alpha", prerequisites=["03-gamma"])
    project = make_project(tmp_path, pages)
    with pytest.raises(CycleError, match="cycle"):
        learning_path(read_topics(project / "docs"))


def test_broken_front_matter_reference_fails_the_strict_build(tmp_path):
    pages = _pages()
    pages["03-gamma/index.md"] = topic_page("Gamma", related=["99-nowhere"])
    project = make_project(tmp_path, pages)
    proc = build(project)
    assert proc.returncode != 0
    assert "99-nowhere" in proc.stderr


def test_placeholder_for_unknown_experiment_fails_the_build(tmp_path):
    pages = _pages()
    pages["02-beta/index.md"] = topic_page("Beta", body='{{ lab.value("no/such", "x") }}')
    pages["01-alpha/index.md"] = topic_page("Alpha")
    proc = build(make_project(tmp_path, pages))
    assert proc.returncode != 0 and "no/such" in proc.stderr


def test_placeholders_render_measured_values(built):
    html = (built / "site" / "01-alpha" / "index.html").read_text(encoding="utf-8")
    assert "Largest square: 9.0;" in html  # quick profile: n = 4 -> 3**2
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html or "&lt;b&gt;&amp;&lt;/b&gt;" in html
    assert "<b>&</b>" not in html
    assert "<td>3</td>" in html and "<td>9</td>" in html
    for theme in ("light", "dark"):  # one file per palette, each a link to itself at full size
        assert (built / "site" / "figures" / "alpha" / "squares" / f"curve-{theme}.svg").is_file()
        assert f'href="../figures/alpha/squares/curve-{theme}.svg"' in html
        assert f'src="../figures/alpha/squares/curve-{theme}.svg"' in html
    assert (built / "site" / "assets" / "fonts" / "noto-sans-math.woff2").is_file()
    data_url = html.split('<span id="durl">')[1].split("</span>")[0]
    data = json.loads((built / "site" / "01-alpha" / data_url).resolve().read_text())
    assert data == [0, 1, 4, 9]


def test_math_is_mathml_at_build_time(built):
    html = (built / "site" / "01-alpha" / "index.html").read_text(encoding="utf-8")
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "arithmatex" not in html


def test_typed_links_and_backlinks(built):
    beta = (built / "site" / "02-beta" / "index.html").read_text(encoding="utf-8")
    connections = beta.split('id="connections"')[1]
    # prerequisites of beta: alpha; next: gamma (its prerequisite is beta); referenced by: alpha (related) + gamma
    assert "Prerequisites" in connections and 'href="../01-alpha/"' in connections
    next_row = connections.split("Next")[1].split("</tr>")[0]
    assert 'href="../03-gamma/"' in next_row
    back_row = connections.split("Referenced by")[1].split("</tr>")[0]
    assert 'href="../01-alpha/"' in back_row and 'href="../03-gamma/"' in back_row
    assert "Before you read" in beta


def test_graph_json_and_svg(built):
    data = json.loads((built / "site" / "graph.json").read_text())
    assert {n["id"] for n in data["nodes"]} == {"01-alpha", "02-beta", "03-gamma"}
    kinds = {(e["source"], e["target"]): e["kind"] for e in data["edges"]}
    assert kinds[("01-alpha", "02-beta")] == "prerequisite"
    assert data["learning_path"] == ["01-alpha", "02-beta", "03-gamma"]
    svg = (built / "site" / "graph" / "index.html").read_text()
    assert svg.count('class="llmkb-node"') == 3 and 'data-href="../02-beta/"' in svg


def test_roadmap_status_is_generated(built):
    html = (built / "site" / "index.html").read_text()
    assert 'data-item="1.1" data-status="done"' in html  # alpha covers 1.1 and has a lab
    assert 'data-item="1.2" data-status="covered"' in html  # beta covers 1.2 but has no lab
    assert 'data-item="1.3" data-status="planned"' in html
    assert html.count('class="llmkb-roadmap-area"') == len(roadmap.load_areas())


def test_warm_rebuild_runs_nothing_and_editing_an_experiment_reruns_it(tmp_path, monkeypatch):
    (tmp_path / "pylab").mkdir()
    mod = tmp_path / "pylab" / "fixture_lab_count.py"
    mod.write_text(LAB_MODULE, encoding="utf-8")
    project = make_project(tmp_path / "proj", _pages(), lab_modules=["fixture_lab_count"])
    monkeypatch.setenv("LLMKB_CACHE", str(project / ".cache" / "llmkb"))
    assert build(project, pythonpath=tmp_path / "pylab").returncode == 0
    assert count_runs() == 1
    assert build(project, pythonpath=tmp_path / "pylab").returncode == 0
    assert count_runs() == 1  # warm: nothing re-ran
    mod.write_text(LAB_MODULE.replace("xs ** 2).max()", "xs ** 2).max() + 0.0"), encoding="utf-8")
    assert build(project, pythonpath=tmp_path / "pylab").returncode == 0
    assert count_runs() == 2  # the edited experiment re-ran once
    html = (project / "site" / "01-alpha" / "index.html").read_text()
    assert "Largest square: 9.0;" in html


def test_placeholder_values_are_escaped_and_only_lab_html_is_trusted():
    from llmkb.site.placeholders import PlaceholderError, substitute

    results = {
        "hostile": "<script>alert('x')</script> & co",
        "html": '<span class="t">ok</span>',
        "n": 3.14159,
    }
    kw = {
        "lookup": lambda exp, path: results[path],
        "figure": lambda e, n, cap, q: "<figure></figure>",
        "data_url": lambda e, p: "d.json",
    }
    out = substitute(
        '{{ lab.value("e", "hostile") }}|{{ lab.text("e", "hostile") }}|{{ lab.html("e", "html") }}|'
        '{{ lab.value("e", "n", ".2f") }}',
        **kw,
    )
    value, text, trusted, number = out.split("|")
    assert (
        "<script>" not in value
        and value == text == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co"
    )
    assert trusted == '<span class="t">ok</span>'
    assert number == "3.14"
    with pytest.raises(PlaceholderError, match="needs a string"):
        substitute('{{ lab.html("e", "n") }}', **kw)


def test_graph_svg_leaves_room_for_long_labels():
    import re

    import networkx as nx

    from llmkb.site import graph

    g = nx.DiGraph()
    long = "Sampling: temperature, top-k, top-p and friends"
    g.add_node("a", title=long, summary="s", number=1)
    g.add_node("b", title="B", summary="s", number=2)
    g.add_edge("a", "b", kind="prerequisite")
    pos = {"a": (10.0, 500.0), "b": (890.0, 20.0)}  # a long label centred near the left edge
    svg = graph.to_svg(g, pos, lambda n: f"{n}/")
    x0, y0, w, h = map(float, re.search(r'class="llmkb-graph" viewBox="([^"]+)"', svg).group(1).split())
    font = float(re.search(r'data-label-units="([\d.]+)"', svg).group(1))
    half = len(long) * 0.55 * font / 2
    assert x0 <= 10.0 - half and x0 + w >= 890.0 and y0 <= 20.0 - 16 and y0 + h >= 500.0 + 18 + font
    # labels fill the page column at >= 12 px; a narrower screen keeps them >= 11 px and scrolls instead
    assert font * graph.COLUMN_PX / w >= graph.LABEL_PX - 0.1
    min_width = float(re.search(r"min-width: (\d+)px", svg).group(1))
    assert font * min_width / w >= graph.MIN_LABEL_PX - 0.1


def test_search_index_keeps_reference_names_and_summaries_only(tmp_path):
    from llmkb.site.plugin import REFERENCE_TEXT_CHARS, trim_search_index

    long = "x" * (REFERENCE_TEXT_CHARS + 50)
    docs = [
        {"location": "reference/nn/#llmkb.nn.GPT", "title": "GPT", "text": long},
        {"location": "02-positional-embeddings/#rope", "title": "RoPE", "text": long},
    ]
    path = tmp_path / "search_index.json"
    path.write_text(json.dumps({"config": {}, "docs": docs}))
    trim_search_index(path)
    out = json.loads(path.read_text())["docs"]
    assert out[0]["title"] == "GPT" and len(out[0]["text"]) == REFERENCE_TEXT_CHARS
    assert out[1]["text"] == long
