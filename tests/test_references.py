"""Papers, repositories, the reading map and per-topic requirements (llmkb/site/{references,reading,extras}.py):
the data files are complete and used, the generators render what the pages show, bad entries are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkb.site import extras, reading, references
from llmkb.site.pages import read_topics

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def topics():
    return read_topics(DOCS)


def test_every_cited_paper_has_an_entry_and_every_entry_is_cited(topics):
    papers = references.load_papers(DOCS / references.PAPERS_FILE)
    cited = {tid: t.papers for tid, t in topics.items()}
    references.check_cited(cited, papers, "papers.yaml")
    assert references.unused(cited, papers) == []
    assert all(len(t.papers) >= 3 for t in topics.values()), "each topic cites its papers"


def test_every_recommended_repository_has_an_entry_and_every_entry_is_recommended(topics):
    repos = references.load_repositories(DOCS / references.REPOSITORIES_FILE)
    cited = {tid: t.repositories for tid, t in topics.items()}
    references.check_cited(cited, repos, "repositories.yaml")
    assert references.unused(cited, repos) == []


def test_topic_pages_render_their_lists_from_the_data_files(topics):
    for t in topics.values():
        text = (DOCS / t.src_uri).read_text(encoding="utf-8")
        for marker, field in (
            (references.MARKERS["papers"], "papers"),
            (references.MARKERS["repositories"], "repositories"),
        ):
            assert (marker in text) == bool(getattr(t, field)), (t.id, field)


def test_check_cited_names_the_page_and_the_missing_key():
    cited = {"03-attention": [references.Cite("vaswani2017"), references.Cite("nobody2099")]}
    with pytest.raises(ValueError, match=r"03-attention cites nobody2099 — not in papers.yaml"):
        references.check_cited(cited, {"vaswani2017": object()}, "papers.yaml")
    assert references.unused({"a": [references.Cite("x")]}, {"x": 1, "y": 2}) == ["y"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Vaswani2017: {authors: A, year: 2017, title: T}\n", "lowercase letters then a year"),
        ("a2017: {authors: A, year: 2017}\n", "needs authors, year and title"),
        ("a2017: {authors: A, year: '2017', title: T}\n", "year must be a four-digit number"),
        ("a2017: {authors: A, year: 2017, title: T, pages: 3}\n", r"unknown field\(s\) \['pages'\]"),
        ("a2017: {authors: A, year: 2017, title: T, url: ftp://x}\n", "url must start with https://"),
        ("a2017: {authors: '', year: 2017, title: T}\n", "'authors' must be one non-empty line"),
    ],
)
def test_a_bad_paper_is_refused_with_what_is_wrong(tmp_path, text, error):
    (tmp_path / "papers.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        references.load_papers(tmp_path / "papers.yaml")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("PyTorch docs: {about: x}\n", "is not owner/name, so it needs a 'url'"),
        ("a/b: {url: https://x}\n", "needs 'about'"),
        ("a/b: {about: x, stars: 3}\n", "needs 'about'"),
    ],
)
def test_a_bad_repository_is_refused_with_what_is_wrong(tmp_path, text, error):
    (tmp_path / "repositories.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        references.load_repositories(tmp_path / "repositories.yaml")


def test_cites_reads_keys_and_notes_and_refuses_repeats():
    meta = {"papers": ["a2017", {"b2018": "the trick"}]}
    assert references.cites(meta, "papers", "p") == [
        references.Cite("a2017"),
        references.Cite("b2018", "the trick"),
    ]
    with pytest.raises(ValueError, match=r"names \['a2017'\] twice"):
        references.cites({"papers": ["a2017", "a2017"]}, "papers", "p")
    with pytest.raises(ValueError, match="must be a list"):
        references.cites({"papers": "a2017"}, "papers", "p")


def test_papers_render_with_link_note_and_index_by_year_and_topic():
    p = references.Paper(
        "vaswani2017", "Vaswani et al.", 2017, "Attention Is All You Need", "https://arxiv.org/abs/1706.03762"
    )
    q = references.Paper(
        "gage1994", "Gage", 1994, "A New Algorithm for Data Compression", "", "C Users Journal"
    )
    assert p.markdown("the block") == (
        "Vaswani et al. (2017), *Attention Is All You Need* — the block. [arXiv:1706.03762](https://arxiv.org/abs/1706.03762)"
    )
    assert q.markdown() == "Gage (1994), *A New Algorithm for Data Compression*, C Users Journal."
    cited = {"01-tok": [references.Cite("gage1994")], "03-att": [references.Cite("vaswani2017", "heads")]}
    index = references.papers_index(
        cited, {"vaswani2017": p, "gage1994": q}, lambda t: f"{t}/index.md", str.upper
    )
    assert index.index("### 2017") < index.index("### 1994"), "newest first"
    assert "*Cited by:* [03-ATT](03-att/index.md)" in index
    assert index.index("## By topic") < index.index("### [01-TOK](01-tok/index.md)")


def test_repositories_index_lists_each_once_with_its_topics():
    r = references.Repository("karpathy/nanoGPT", "a small GPT", "https://github.com/karpathy/nanoGPT")
    cited = {
        "a": [references.Cite("karpathy/nanoGPT", "model.py")],
        "b": [references.Cite("karpathy/nanoGPT")],
    }
    index = references.repositories_index(cited, {"karpathy/nanoGPT": r}, lambda t: f"{t}.md", str.upper)
    assert (
        "| [karpathy/nanoGPT](https://github.com/karpathy/nanoGPT) | a small GPT | [A](a.md), [B](b.md) |"
        in index
    )
    assert "- [karpathy/nanoGPT](https://github.com/karpathy/nanoGPT) — model.py" in index
    assert "- [karpathy/nanoGPT](https://github.com/karpathy/nanoGPT) — a small GPT" in index


def test_reading_map_names_real_topics_and_renders(topics):
    resources = reading.load(DOCS / reading.READING_FILE)
    assert len(resources) >= 8
    reading.check_topics(resources, topics)
    text = reading.table_markdown(resources, lambda t: f"../{t}/index.md", lambda t: topics[t].title)
    assert text.count("**What it adds:**") == len(resources)
    with pytest.raises(ValueError, match="names topics that do not exist: 99-nothing"):
        reading.check_topics([resources[0].__class__("T", "A", 2020, "P", ("99-nothing",), "c", "b")], topics)


def test_a_bad_reading_entry_is_refused(tmp_path):
    (tmp_path / "r.yaml").write_text("- {title: T, authors: A, year: 2020}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must have exactly title, authors"):
        reading.load(tmp_path / "r.yaml")


def test_extras_declared_by_pages_exist_in_pyproject_and_the_install_line(topics):
    known = extras.pyproject_extras(ROOT / "pyproject.toml")
    extras.check_extras({tid: t.extras for tid, t in topics.items()}, known)
    with pytest.raises(ValueError, match="names nope, not in pyproject.toml"):
        extras.check_extras({"01-x": ["nope"]}, known)
    assert extras.install_line([]) == "pip install -e ."
    assert extras.install_line(["stacks", "quant"]) == 'pip install -e ".[quant,stacks]"'
    assert 'pip install -e ".[quant]"' in extras.run_box("quantization", ["quant"])
