"""The quiz page in Debian's chromium: a topic chosen by the address, the answer shown on demand, "knew it /
didn't" kept in localStorage across a reload, the questions not known asked first."""

from __future__ import annotations

import json

import pytest
from conftest import open_widget

pytestmark = pytest.mark.xdist_group("site")

WIDGET = "[data-llmkb-widget='quiz']"


def _state(page) -> dict:
    return json.loads(page.evaluate("() => localStorage.getItem('llmkb-quiz-v1') || '{}'"))


def test_reveal_record_reorder_and_reload(built_site, server_url, watched):
    data = json.loads((built_site.dir / "quiz.json").read_text(encoding="utf-8"))
    topic = data["topics"][1]  # not the first: the address must pick it
    page = watched.page
    open_widget(page, server_url + f"quiz/?topic={topic['id']}", WIDGET)
    checked = page.locator(f"{WIDGET} input[type=checkbox]:checked")
    assert checked.count() == 1 and checked.first.get_attribute("value") == topic["id"]
    status = page.locator(f"{WIDGET} .qz-status")
    assert (
        status.get_attribute("data-total") == str(len(topic["items"]))
        and status.get_attribute("data-known") == "0"
    )

    card = page.locator(f"{WIDGET} .qz-card")
    first = card.get_attribute("data-current")
    assert first.startswith(topic["id"] + "|")
    answer = page.locator(f"{WIDGET} .qz-answer")
    assert not answer.is_visible()
    page.locator(f"{WIDGET} .qz-show").click()
    assert answer.is_visible() and answer.inner_text().strip()
    page.locator(f"{WIDGET} .qz-knew").click()  # the first question: known

    second = card.get_attribute("data-current")
    assert second != first
    page.keyboard.press("Space")  # the keys work too: show, then "didn't know"
    assert answer.is_visible()
    page.keyboard.press("d")
    assert status.get_attribute("data-known") == "1" and status.get_attribute("data-due") == "1"
    state = _state(page)
    assert state[first]["k"] == 1 and state[second]["k"] == 0 and state[second]["n"] == 1

    page.reload()
    page.wait_for_selector(f"{WIDGET}[data-ready='1']")
    assert status.get_attribute("data-known") == "1"
    assert card.get_attribute("data-current") == second  # not known: asked first
    order = []
    for _ in range(len(topic["items"])):
        order.append(card.get_attribute("data-current"))
        page.locator(f"{WIDGET} .qz-show").click()
        page.locator(f"{WIDGET} .qz-knew").click()
    assert order[0] == second and order[-1] == first  # the known one comes last
    assert status.get_attribute("data-known") == str(len(topic["items"]))

    page.locator(f"{WIDGET} .qz-reset").click()
    assert status.get_attribute("data-known") == "0" and _state(page) == {}
    watched.check()


def test_every_topic_page_links_to_its_questions(built_site, server_url, watched):
    data = json.loads((built_site.dir / "quiz.json").read_text(encoding="utf-8"))
    topic = data["topics"][0]
    page = watched.page
    page.goto(server_url + topic["id"] + "/", wait_until="load")
    page.locator("p.llmkb-quiz-link a").click()
    page.wait_for_selector(f"{WIDGET}[data-ready='1']")
    checked = page.locator(f"{WIDGET} input[type=checkbox]:checked")
    assert checked.count() == 1 and checked.first.get_attribute("value") == topic["id"]
    watched.check()
