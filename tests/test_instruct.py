"""Instruction data (llmkb.data.instruct): the tasks' answers, the chat template, prompt-loss masking."""

from __future__ import annotations

import pytest
import torch

from llmkb.data.instruct import (
    ASSISTANT_ID,
    END_ID,
    USER_ID,
    Example,
    apply_ops,
    collate,
    decode_response,
    encode,
    make_examples,
)
from llmkb.data.synthetic import IGNORE_INDEX


def test_tasks_compute_the_right_outputs():
    assert apply_ops("copy", "372") == "372"
    assert apply_ops("reverse", "372") == "273"
    assert apply_ops("sort", "372") == "237"
    assert apply_ops("inc", "392") == "403"
    assert apply_ops("sort reverse", "372") == "732"  # left to right: a descending sort
    assert apply_ops("reverse inc", "109") == "012"
    assert apply_ops("add", "47+85") == "132"
    with pytest.raises(ValueError, match="unknown operation"):
        apply_ops("shuffle", "12")
    ex = make_examples(["add", "sort"], 4, seed=0)
    assert [e.task for e in ex] == ["add", "sort", "add", "sort"]
    assert all(apply_ops(e.task, e.input) == e.output for e in ex) and len(ex[1].input) == 3


def test_template_and_prompt_masking_remove_exactly_the_prompt():
    ex = Example("sort", "31", "13")
    ids, P = encode(ex)
    assert ids == [USER_ID, *b"sort: 31", ASSISTANT_ID, *b"13", END_ID] and P == 10
    long_ex = Example("reverse", "123", "321")
    seqs = [encode(ex), encode(long_ex)]
    x_all, y_all = collate(seqs, mask_prompt=False)
    x, y = collate(seqs, mask_prompt=True)
    assert torch.equal(x, x_all) and x.shape == (2, len(seqs[1][0]) - 1)
    for i, (s, p) in enumerate(seqs):
        n = len(s) - 1
        assert y_all[i, :n].tolist() == s[1:]  # unmasked: every real target
        assert (y_all[i, n:] == IGNORE_INDEX).all() and (x[i, n:] == END_ID).all()  # padding never scored
        assert (y[i, : p - 1] == IGNORE_INDEX).all()  # the P - 1 prompt targets are gone ...
        assert y[i, p - 1 : n].tolist() == s[p:]  # ... and exactly the response (and <end>) is left
    removed = (y_all != IGNORE_INDEX).sum() - (y != IGNORE_INDEX).sum()
    assert int(removed) == sum(p - 1 for _, p in seqs)


def test_decode_response():
    assert decode_response([*b"12", END_ID, *b"9"]) == ("12", True)
    assert decode_response([*b"12", ASSISTANT_ID]) == ("12", False)
