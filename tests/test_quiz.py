"""The quiz's harvest of a page's Q&A (llmkb/site/quiz.py), on Material's rendering of ``??? question``."""

from __future__ import annotations

from llmkb.site.quiz import harvest, quiz_data

PAGE = """<h2 id="qa">Q&amp;A</h2>
<details class="question">
<summary>Why <code>top-k</code>?</summary>
<p>Because <a href="#sampling">the tail</a> and <a href="../03-attention/">attention</a>.</p>
</details>
<details class="note"><summary>not a question</summary><p>x</p></details>
<details class="question" open="open">
<summary>Second?</summary>
<p>Yes <math><mi>T</mi></math>.</p>
<div class="admonition"><p>nested block</p></div>
</details>
"""


def test_harvest_keeps_questions_in_page_order_with_their_html():
    items = harvest(PAGE, "05-sampling/")
    assert [i["q"] for i in items] == ["Why <code>top-k</code>?", "Second?"]
    assert items[1]["a"].startswith("<p>Yes <math>") and "nested block" in items[1]["a"]


def test_harvest_points_the_page_s_own_anchors_at_the_page():
    a = harvest(PAGE, "05-sampling/")[0]["a"]
    assert 'href="../05-sampling/#sampling"' in a and 'href="../03-attention/"' in a


def test_quiz_data_leaves_out_topics_without_questions():
    data = quiz_data([("01-a", "A", [{"q": "q", "a": "a"}]), ("02-b", "B", [])])
    assert data == {"topics": [{"id": "01-a", "title": "A", "items": [{"q": "q", "a": "a"}]}]}
