"""Reasoning problems (llmkb.data.reasoning_tasks): hand-checked layouts, the verifier, every answer recomputed."""

from __future__ import annotations

import random

import pytest

from llmkb.data.instruct import prompt_ids
from llmkb.data.reasoning_tasks import (
    TASKS,
    add_problem,
    make_problems,
    mul_problem,
    parse_answer,
    sorting,
    to_example,
    verify,
    word_problem,
)
from llmkb.errors import UsageError


def test_addition_scratchpad_is_column_by_column_with_carries():
    p = add_problem(345, 678, 3)
    assert p.answer == "1023"
    assert p.target("scratchpad") == "5+8+0=13,4+7+1=12,3+6+1=10,#1023"
    assert p.target("direct") == "#1023"
    q = add_problem(10, 23, 2)
    assert q.target("scratchpad") == "0+3+0=03,1+2+0=03,#33"


def test_multiplication_sorting_and_word_layouts():
    assert mul_problem(347, 6).target("scratchpad") == "7*6+0=42,4*6+4=28,3*6+2=20,#2082"
    s = sorting(random.Random(1), 5)
    assert s.answer == "".join(sorted(s.prompt))
    assert sum(int(step.split(":")[1]) for step in s.steps) == 5
    w = word_problem(random.Random(2), 3)
    assert len(w.steps) == 3 and w.prompt.endswith("how many?")
    total = int(w.prompt.split()[2].rstrip("."))
    for op, n in zip(w.prompt.split()[3:-2:2], w.prompt.split()[4:-2:2], strict=True):
        total += int(n.rstrip(".")) if op == "gets" else -int(n.rstrip("."))
        assert total >= 0
    assert str(total) == w.answer and w.steps[-1].endswith(f"={w.answer}")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_answer_is_recomputed_and_every_scratchpad_passes_the_verifier(task):
    for p in make_problems(task, [1, 2, 3, 4], 80, seed=7):
        if task == "add":
            a, b = p.prompt.split("+")
            assert len(a) == len(b) == p.size and int(a) + int(b) == int(p.answer)
        if task == "mul":
            a, d = p.prompt.split("*")
            assert len(a) == p.size and int(a) * int(d) == int(p.answer)
        if task == "sort":
            assert p.answer == "".join(sorted(p.prompt)) and len(p.prompt) == p.size
        if task == "word":
            assert len(p.steps) == p.size
        assert verify(p, p.target("scratchpad")) and verify(p, p.target("direct"))
    assert make_problems(task, [2], 5, seed=3) == make_problems(task, [2], 5, seed=3)


def test_parse_answer_reads_the_digits_after_the_last_mark():
    assert parse_answer("5+8+0=13,#13") == "13"
    assert parse_answer("#12,#0045") == "0045"
    assert parse_answer("13") is None and parse_answer("#") is None and parse_answer("#1 3") is None
    assert parse_answer("#١٢") is None  # non-ASCII digits are not an answer


def test_verify_checks_the_answer_not_the_steps():
    p = add_problem(19, 25, 2)
    assert verify(p, "9+5+0=14,1+2+1=04,#44")
    assert verify(p, "wrong steps,#44")  # only the answer is rewarded
    assert not verify(p, "9+5+0=14,1+2+1=04,#45")
    assert not verify(p, "44") and not verify(p, "#044")


def test_problems_become_chat_examples():
    p = add_problem(3, 4, 1)
    ex = to_example(p, "scratchpad")
    assert (ex.task, ex.input, ex.output) == ("add", "3+4", "3+4+0=07,#7")
    assert bytes(prompt_ids(ex)[1:-1]).decode() == "add: 3+4"


def test_bad_input_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match="unknown reasoning task 'div'; choose one of: add, mul, sort, word"):
        make_problems("div", [1], 1, seed=0)
    with pytest.raises(UsageError, match="sizes must be whole numbers >= 1"):
        make_problems("add", [0, 2], 1, seed=0)
    with pytest.raises(UsageError, match="unknown answer format 'cot'"):
        make_problems("add", [1], 1, seed=0)[0].target("cot")
