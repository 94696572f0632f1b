"""The glossary (docs/glossary.yaml, llmkb/site/glossary.py): well-formed, pointing at topics that explain
its terms, and the errors a bad entry gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmkb.site.glossary import Entry, abbreviations, load, table_markdown
from llmkb.site.pages import read_topics

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.yaml"


def test_every_term_occurs_in_the_prose_of_the_topic_page_that_explains_it():
    """Outside code and math, where the tooltip can show."""
    topics = read_topics(ROOT / "docs")
    entries = load(GLOSSARY)
    assert len(entries) >= 10
    for e in entries:
        assert e.topic in topics, e
        page = (ROOT / "docs" / topics[e.topic].src_uri).read_text(encoding="utf-8")
        page = re.sub(r"```.*?```|\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`", "", page, flags=re.DOTALL)  # prose only
        assert re.search(rf"(?<!\w){re.escape(e.term)}(?!\w)", page), f"{e.term} never appears on {e.topic}"


def test_entries_are_sorted_and_terms_unique():
    terms = [e.term for e in load(GLOSSARY)]
    assert terms == sorted(terms, key=str.lower) and len(set(terms)) == len(terms)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- term: X\n  means: y\n", "exactly term, means and topic"),
        ("- term: X\n  means: y\n  topic: a\n  extra: 1\n", "exactly term, means and topic"),
        ("- term: X\n  means: ''\n  topic: a\n", "one non-empty line"),
        ("- {term: X, means: y, topic: a}\n- {term: X, means: z, topic: b}\n", "defined twice: \\['X'\\]"),
    ],
)
def test_a_bad_entry_is_refused_with_what_is_wrong(tmp_path, text, error):
    path = tmp_path / "glossary.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        load(path)


def test_abbreviations_and_table_markdown():
    es = [Entry("GQA", "grouped-query attention", "09-gqa")]
    assert abbreviations(es) == "\n\n*[GQA]: grouped-query attention\n"
    table = table_markdown(es, lambda t: f"../{t}/index.md", lambda t: "GQA page")
    assert "| **GQA** | grouped-query attention | [GQA page](../09-gqa/index.md) |" in table


def test_a_site_without_a_glossary_file_has_none(tmp_path):
    assert load(tmp_path / "glossary.yaml") == []
