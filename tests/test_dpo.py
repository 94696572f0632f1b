"""DPO (llmkb.train.dpo): the loss against its formula, the implicit reward's sign, training on pairs."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from llmkb.data.instruct import (
    ASSISTANT_ID,
    END_ID,
    INSTRUCT_VOCAB,
    USER_ID,
)
from llmkb.nn import GPT, GPTConfig
from llmkb.train.dpo import dpo_loss, response_logprob, train_dpo
from llmkb.train.reward import Pair
from llmkb.train.sequences import token_logprobs


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


def test_dpo_loss_equals_its_formula_and_the_implicit_reward_sign():
    pc, pr = torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -2.0])
    rc, rr = torch.tensor([-2.0, -3.0]), torch.tensor([-2.0, -2.0])
    loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta=0.5)
    z = 0.5 * torch.tensor([(-1 + 2) - (-3 + 2), (-4 + 3) - (-2 + 2)])
    assert float(loss) == pytest.approx(float(-F.logsigmoid(z).mean()))
    # the policy raised y_c's probability over the reference: positive implicit reward; lowered y_r: negative
    assert chosen.tolist() == pytest.approx([0.5, -0.5]) and rejected.tolist() == pytest.approx([-0.5, 0.0])


def test_dpo_training_raises_the_chosen_margin():
    policy, ref = tiny(), tiny()
    pairs = [Pair([USER_ID, *b"copy: 5", ASSISTANT_ID], [*b"5", END_ID], [*b"6", END_ID])] * 4
    prompts = [p.prompt for p in pairs]
    lp = response_logprob(policy, prompts, [p.chosen for p in pairs])
    manual = token_logprobs(policy(torch.tensor([[*pairs[0].prompt, *pairs[0].chosen]])).logits,
                            torch.tensor([[*pairs[0].prompt, *pairs[0].chosen]]))[0, -2:].sum()  # fmt: skip
    assert float(lp[0].detach()) == pytest.approx(float(manual.detach()), abs=1e-5)
    losses = train_dpo(policy, ref, pairs, steps=10, batch_size=4, lr=1e-2)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4) and losses[-1] < losses[0]
    margin = response_logprob(policy, prompts, [p.chosen for p in pairs]) - response_logprob(
        policy, prompts, [p.rejected for p in pairs]
    )
    ref_margin = response_logprob(ref, prompts, [p.chosen for p in pairs]) - response_logprob(
        ref, prompts, [p.rejected for p in pairs]
    )
    assert bool((margin > ref_margin + 0.5).all())
