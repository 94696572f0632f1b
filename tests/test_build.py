"""The real site: strict build with zero warnings in the quick profile, a warm rebuild re-runs no
experiment, every page is well-formed and nothing points at another host."""

from __future__ import annotations

import re

import pytest

from llmkb.lab import experiments
from llmkb.site import roadmap

pytestmark = pytest.mark.xdist_group("site")


def test_strict_build_has_zero_warnings(site_build):
    assert site_build.returncode == 0, site_build.output[-5000:]
    warnings = [line for line in site_build.output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert warnings == [], warnings


def test_generated_pages_exist(built_site):
    d = built_site.dir
    for rel in (
        "index.html",
        "graph/index.html",
        "learning-path/index.html",
        "how-it-is-built/index.html",
        "reference/index.html",
        "reference/nn/index.html",
        "graph.json",
        "search/search_index.json",
        "quiz/index.html",
        "quiz.json",
        "tags/index.html",
        "glossary/index.html",
        "papers/index.html",
        "repositories/index.html",
        "reading-map/index.html",
    ):
        assert (d / rel).is_file(), rel
    home = (d / "index.html").read_text(encoding="utf-8")
    assert home.count('class="llmkb-roadmap-area"') == len(roadmap.load_areas())
    assert 'data-item="17.1" data-status="done"' in home  # the seq2seq page and its lab
    assert '<svg class="llmkb-graph"' in home


def test_every_lab_was_executed_and_has_an_ipynb(built_site):
    from conftest import ROOT

    from llmkb.site.pages import read_topics

    topics = read_topics(ROOT / "docs")
    for t in topics.values():
        assert (built_site.dir / t.id / "index.html").is_file()
        if t.has_lab:
            assert (built_site.dir / t.id / "lab" / "index.html").is_file(), t.id
            assert (built_site.dir / t.id / "lab.ipynb").is_file(), t.id
            html = (built_site.dir / t.id / "lab" / "index.html").read_text(encoding="utf-8")
            # the build executes every lab (mkdocs-jupyter, allow_errors: false): outputs are present
            assert "jp-OutputArea-output" in html, f"{t.id}/lab.py was not executed"
            assert "Traceback" not in html, f"{t.id}/lab.py shows a traceback"


def test_no_reference_to_other_hosts_in_assets(built_site):
    """No script, stylesheet, font or image is loaded from another host (links in text are fine)."""
    pattern = re.compile(
        r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](https?:)?//""", re.I
    )
    offenders = []
    for page in built_site.dir.rglob("*.html"):
        for m in pattern.finditer(page.read_text(encoding="utf-8")):
            tag = page.read_text(encoding="utf-8")[m.start() : m.start() + 200]
            if 'rel="canonical"' in tag or '<link rel="canonical"' in tag:
                continue
            offenders.append((str(page.relative_to(built_site.dir)), tag[:120]))
    assert not offenders, offenders[:5]


def test_a_warm_rebuild_would_run_no_experiment(built_site, monkeypatch):
    """Every experiment of the build is stored under the key a rebuild computes, so a warm build's
    ``registry.run`` hits the cache for all of them. (The plugin's warm path — a second build that prints
    "0 run now", and an edited experiment that re-runs — is tested on a small project in test_site.py; a
    second build of the real site would only repeat it at minutes' cost.)"""
    from llmkb.lab.registry import is_cached

    monkeypatch.setenv("LLMKB_CACHE", str(built_site.cache))
    assert "run now" in built_site.output
    missing = [n for n in experiments() if not is_cached(n, "quick")]
    assert missing == [], f"a rebuild would re-run {missing}"


def test_every_experiment_belongs_to_a_page_or_is_needed():
    from conftest import ROOT

    from llmkb.site.pages import read_topics

    slugs = {t.slug for t in read_topics(ROOT / "docs").values()}
    exps = experiments()
    needed = {n for e in exps.values() for n in e.needs}
    quoted = {  # experiments a page outside the topics quotes (the playground page)
        m
        for page in (ROOT / "docs").glob("*.md")
        for m in re.findall(r"lab\.\w+\(\s*\"([^\"]+)\"", page.read_text())
    }
    orphans = [name for name, e in exps.items() if e.topic not in slugs and name not in needed | quoted]
    assert not orphans, f"experiments with no page that shows them: {orphans}"


def test_no_local_path_or_python_warning_reaches_a_page(built_site):
    """Nothing of the build machine's layout (the checkout, site-packages) and no Python warning text is
    published: lab pages show cell outputs, which is where such text would leak."""
    from conftest import ROOT

    leaks = re.compile(
        "|".join(
            [
                re.escape(str(ROOT)),
                r"/site-packages/",
                r"\b\w+Warning: ",
                r"/home/\w+",
                r"/root/",
                r"/tmp/pytest",
            ]
        )
    )
    offenders = []
    for page in [*built_site.dir.rglob("*.html"), built_site.dir / "search" / "search_index.json"]:
        m = leaks.search(page.read_text(encoding="utf-8"))
        if m:
            offenders.append((str(page.relative_to(built_site.dir)), m.group(0)))
    assert offenders == []


def test_footer_links_name_the_topic(built_site):
    """Previous/Next in the footer say which topic they lead to, never a bare "Notes" or "Lab"."""
    titles = re.compile(r'class="md-footer__title">.*?<div class="md-ellipsis">\s*(.*?)\s*</div>', re.S)
    seen = []
    for page in built_site.dir.rglob("index.html"):
        seen += titles.findall(page.read_text(encoding="utf-8"))
    assert seen, "no footer links found"
    assert not [t for t in seen if t in ("Notes", "Lab")]


def test_lab_pages_show_each_figure_once(built_site):
    """A lab page shows each figure it draws once, as the site's rendered figure (light and dark files, the
    caption as alt text, a link to full size), with no inline image data (page weight) and no reference
    left unreplaced."""
    from collections import Counter

    from llmkb.site.figures import LAB_FIGURE

    figure = re.compile(r'<figure class="llmkb-figure[^"]*">(.*?)</figure>', re.S)
    labs = sorted(built_site.dir.glob("[0-9][0-9]-*/lab/index.html"))
    assert labs
    for page in labs:
        html = page.read_text(encoding="utf-8")
        topic = page.parent.parent.name
        figs = figure.findall(html)
        assert figs, f"{topic}: no figure on the lab page"
        srcs = Counter(re.search(r'src="([^"]+-light\.(?:svg|png))"', f)[1] for f in figs)
        assert max(srcs.values()) == 1, f"{topic}: a figure appears twice"
        for f in figs:
            assert f.count("<img ") == 2 and "-dark." in f and 'alt=""' not in f and "alt=" in f
            for href in re.findall(r'href="([^"]+)"', f):
                assert (page.parent / href).resolve().is_file(), f"{topic}: {href} missing"
        assert not re.search(r'<img\b[^>]*\bsrc="data:', html), f"{topic}: inline image data on the lab page"
        assert not LAB_FIGURE.search(html) and "No description has been provided" not in html


def test_the_quiz_asks_every_question_of_every_topic_page(built_site):
    """quiz.json holds each topic page's Q&A items, as many as its Markdown writes and in its order, and each
    topic page links to the quiz on its own questions."""
    import html
    import json

    from conftest import ROOT

    from llmkb.site.pages import read_topics

    data = {
        t["id"]: t for t in json.loads((built_site.dir / "quiz.json").read_text(encoding="utf-8"))["topics"]
    }
    topics = read_topics(ROOT / "docs")
    assert set(data) == {
        tid for tid, t in topics.items() if "??? question" in (ROOT / "docs" / t.src_uri).read_text()
    }
    for tid, t in topics.items():
        md = (ROOT / "docs" / t.src_uri).read_text(encoding="utf-8")
        asked = re.findall(r'^\?\?\? question "(.*)"$', md, flags=re.MULTILINE)
        if not asked:
            continue
        items = data[tid]["items"]
        assert len(items) == len(asked), tid
        shown = html.unescape(re.sub(r"<[^>]+>", "", items[0]["q"]))  # glossary terms come as <abbr>
        assert shown.startswith(asked[0][:20]), (tid, shown, asked[0])
        assert all(i["a"].strip() for i in items), tid
        page = (built_site.dir / tid / "index.html").read_text(encoding="utf-8")
        assert f'href="../quiz/?topic={tid}"' in page, tid


def test_the_tags_page_lists_each_topic_under_each_of_its_tags(built_site):
    """Material's tags index (docs/tags.md) from the topics' front matter: every tag is a section that links to
    every topic carrying it."""
    import html

    from conftest import ROOT

    from llmkb.site.pages import read_topics

    page = (built_site.dir / "tags" / "index.html").read_text(encoding="utf-8")
    sections = re.split(r"<h2 ", page)
    seen = 0
    for tid, t in read_topics(ROOT / "docs").items():
        for tag in t.tags:
            section = next(
                (s for s in sections if f'<span class="md-tag">{html.escape(tag)}</span>' in s), None
            )
            assert section is not None, (tag, tid)
            assert f'href="../{tid}/"' in section, (tag, tid)
            seen += 1
    assert seen >= 10


def test_glossary_terms_are_tooltips_on_their_pages_and_listed_on_the_glossary(built_site):
    import html

    from conftest import ROOT

    from llmkb.site.glossary import load

    listed = (built_site.dir / "glossary" / "index.html").read_text(encoding="utf-8")
    for e in load(ROOT / "docs" / "glossary.yaml"):
        page = (built_site.dir / e.topic / "index.html").read_text(encoding="utf-8")
        title = html.escape(e.means, quote=False).replace('"', "&quot;")  # as ElementTree writes it
        assert f'<abbr title="{title}">{html.escape(e.term)}</abbr>' in page, e.term
        term = re.escape(html.escape(e.term))
        assert re.search(rf"<strong>(<abbr [^>]*>)?{term}(</abbr>)?</strong>", listed), e.term
        assert f'href="../{e.topic}/"' in listed, e.term


def test_papers_repositories_and_run_box_are_rendered_from_the_data_files(built_site):
    """Each topic's Papers and Further reading lists come from docs/papers.yaml and docs/repositories.yaml, the
    index pages list every entry with the topics citing it, and each lab page says how to install and run it."""
    import html

    from conftest import ROOT

    from llmkb.site import references
    from llmkb.site.extras import install_line
    from llmkb.site.pages import read_topics

    topics = read_topics(ROOT / "docs")
    papers = references.load_papers(ROOT / "docs" / "papers.yaml")
    repos = references.load_repositories(ROOT / "docs" / "repositories.yaml")
    index = (built_site.dir / "papers" / "index.html").read_text(encoding="utf-8")
    rindex = (built_site.dir / "repositories" / "index.html").read_text(encoding="utf-8")
    for t in topics.values():
        page = (built_site.dir / t.id / "index.html").read_text(encoding="utf-8")
        words = html.unescape(re.sub(r"<[^>]+>", "", page))  # glossary terms in titles come as <abbr>
        assert "llmkb:papers" not in page and "llmkb:repositories" not in page
        for c in t.papers:
            p = papers[c.key]
            assert f"{p.authors} ({p.year}), {p.title}" in words, (t.id, c.key)
            if p.url:
                assert f'href="{p.url}"' in page and f'href="{p.url}"' in index
        for c in t.repositories:
            assert f'href="{repos[c.key].url}"' in page and f'href="{repos[c.key].url}"' in rindex, (
                t.id,
                c.key,
            )
        if t.has_lab:
            assert install_line(t.extras) in words, t.id
            assert f"llmkb lab run {t.slug} --profile quick" in words
    assert index.count("<em>Cited by:</em>") == len(papers)
    reading = (built_site.dir / "reading-map" / "index.html").read_text(encoding="utf-8")
    assert reading.count("What it adds:") >= 8 and "llmkb:reading-map" not in reading
