"""PPO (llmkb.train.ppo): GAE, KL-penalized rewards and the clipped losses against hand-computed values; a bandit."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from llmkb.data.instruct import (
    ASSISTANT_ID,
    INSTRUCT_VOCAB,
    USER_ID,
)
from llmkb.nn import GPT, GPTConfig
from llmkb.train.optim import AdamW
from llmkb.train.ppo import (
    PPOConfig,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    kl_rewards,
    ppo_step,
    rollout,
)
from llmkb.train.sequences import ScalarHead, token_logprobs


def tiny(vocab: int = INSTRUCT_VOCAB, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, d_model=32, n_layers=1)).eval()


def test_gae_equals_a_hand_computed_example():
    r = torch.tensor([[0.0, 0.0, 1.0, 5.0]])
    v = torch.tensor([[9.0, 0.5, 0.2, 0.4]])
    mask = torch.tensor([[False, True, True, True]])
    adv, ret = gae(r, v, mask, gamma=0.9, lam=0.5)
    d3 = 5.0 - 0.4  # last step: no value after the episode
    d2 = 1.0 + 0.9 * 0.4 - 0.2
    d1 = 0.0 + 0.9 * 0.2 - 0.5
    a3, a2 = d3, d2 + 0.45 * d3
    a1 = d1 + 0.45 * a2
    assert adv.tolist()[0] == pytest.approx([0.0, a1, a2, a3])
    assert ret.tolist()[0] == pytest.approx([0.0, a1 + 0.5, a2 + 0.2, a3 + 0.4])


def test_kl_rewards_put_the_score_on_the_last_response_token():
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    logp, ref = torch.tensor([[-1.0, -1.0, -2.0, -3.0]]), torch.tensor([[-2.0, -1.5, -1.0, -1.0]])
    rewards, kl = kl_rewards(torch.tensor([3.0]), logp, ref, mask, beta=0.1)
    assert rewards.tolist()[0] == pytest.approx([0.0, -0.05, 0.1 + 3.0, 0.0])
    assert kl.tolist() == pytest.approx([0.5 - 1.0])


def test_clipped_losses_equal_their_formulas():
    logp = torch.tensor([[0.0, math.log(1.5), math.log(0.5), math.log(1.1)]])
    old = torch.zeros(1, 4)
    adv = torch.tensor([[1.0, 2.0, -1.0, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    # ratios 1, 1.5, 0.5: min(rA, clip(r)A) = 1, min(3, 2.4) = 2.4, min(-0.5, -0.8) = -0.8
    assert float(clipped_policy_loss(logp, old, adv, mask, 0.2)) == pytest.approx(-(1.0 + 2.4 - 0.8) / 3)
    v, old_v, ret = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # clipped V = 0.2 for the first: max(1, 0.04) = 1; second: max(1, 1) = 1
    assert float(clipped_value_loss(v, old_v, ret, torch.ones(1, 2), 0.2)) == pytest.approx(0.5)


def test_a_ppo_step_on_a_bandit_raises_the_expected_reward():
    torch.manual_seed(0)
    logits = torch.zeros(4, requires_grad=True)
    reward = torch.tensor([0.0, 1.0, 0.2, 0.5])

    def expected() -> float:
        return float(torch.softmax(logits.detach(), 0) @ reward)

    before = expected()
    with torch.no_grad():
        actions = torch.multinomial(torch.softmax(logits, 0), 64, replacement=True)
        old = F.log_softmax(logits, 0)[actions]
    adv = (reward[actions] - reward[actions].mean())[None]
    for _ in range(4):  # minibatch epochs on the same samples
        loss = clipped_policy_loss(F.log_softmax(logits, 0)[actions][None], old[None], adv, torch.ones(1, 64))
        (grad,) = torch.autograd.grad(loss, logits)
        with torch.no_grad():
            logits -= 0.5 * grad  # plain gradient descent
    assert expected() > before + 0.05


def test_ppo_rollout_and_step_on_a_tiny_model():
    policy, ref = ScalarHead(tiny()), tiny(seed=1)
    prompts = [[USER_ID, *b"copy: 1", ASSISTANT_ID]] * 4
    cfg = PPOConfig(max_new=3, epochs=1, minibatches=2)
    g = torch.Generator().manual_seed(0)
    ro = rollout(policy, ref, prompts, lambda p, r: torch.ones(len(r)), cfg, g)
    assert ro.ids.shape[0] == 4 and ro.mask.sum(1).tolist() == [len(r) for r in ro.responses]
    assert torch.allclose(ro.ref_logp, token_logprobs(ref(ro.ids).logits, ro.ids))
    assert ro.score.tolist() == [1.0] * 4 and ro.kl.abs().max() > 0  # different weights, nonzero KL
    stats = ppo_step(policy, AdamW(policy.parameters(), lr=1e-3), ro, cfg, g)
    assert set(stats) == {"policy_loss", "value_loss"} and all(math.isfinite(v) for v in stats.values())
