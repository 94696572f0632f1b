"""The judge, preference pairs and the Bradley–Terry reward model (llmkb.train.reward)."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.data.instruct import (
    ASSISTANT_ID,
    END_ID,
    INSTRUCT_VOCAB,
    USER_ID,
    Example,
)
from llmkb.nn import GPT, GPTConfig
from llmkb.train.reward import Pair, bt_loss, judge, make_pairs, reward_accuracy, train_reward_model
from llmkb.train.sequences import ScalarHead


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


def test_judge_and_pairs():
    ex = Example("sort", "321", "123")
    ok = [*b"123", END_ID]
    assert judge(ex, ok) == 1.0
    assert judge(ex, [*b"124", END_ID]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert judge(ex, [*b"123"]) == pytest.approx(0.5)  # never ended: format lost
    assert judge(ex, [*b"12a", END_ID]) == pytest.approx(0.5 * 2 / 3)
    cands = [[[*b"9", END_ID], ok, [*b"12", END_ID]], [ok, ok]]
    pairs = make_pairs([ex, ex], cands)
    assert len(pairs) == 1 and pairs[0].chosen == ok and pairs[0].rejected == [*b"9", END_ID]
    flipped = make_pairs([ex] * 200, [cands[0]] * 200, noise=0.25, seed=0)
    share = sum(p.chosen != ok for p in flipped) / 200
    assert 0.15 < share < 0.35


def test_bradley_terry_loss_and_reward_training():
    rc, rr = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    want = -(math.log(1 / (1 + math.exp(-1))) + math.log(1 / (1 + math.exp(1)))) / 2
    assert float(bt_loss(rc, rr)) == pytest.approx(want)
    rm = ScalarHead(tiny())
    pairs = [Pair([USER_ID, 49, ASSISTANT_ID], [*b"7", END_ID], [*b"x", END_ID]) for _ in range(4)]
    assert reward_accuracy(rm, pairs) == 0.0  # zero head: ties are not wins
    losses = train_reward_model(rm, pairs, steps=15, batch_size=4, lr=1e-2)
    assert losses[-1] < losses[0] and reward_accuracy(rm, pairs) == 1.0
