"""GRPO (llmkb.train.grpo): group advantages and the k3 KL against hand-computed numbers; a rollout and a step."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.data.instruct import INSTRUCT_VOCAB
from llmkb.nn import GPT, GPTConfig
from llmkb.train.grpo import GRPOConfig, group_advantages, grpo_loss, grpo_rollout, grpo_step, k3_kl
from llmkb.train.optim import AdamW
from llmkb.train.ppo import clipped_policy_loss


def test_group_advantages_match_the_formula_by_hand():
    r = torch.tensor([[1.0, 0.0, 0.0, 0.0], [2.0, 4.0, 6.0, 8.0]])
    a = group_advantages(r, eps=0.0)
    s1 = math.sqrt(0.25 * 0.75)  # population std of (1, 0, 0, 0): mean 0.25
    assert a[0].tolist() == pytest.approx([0.75 / s1, -0.25 / s1, -0.25 / s1, -0.25 / s1])
    s2 = math.sqrt((9 + 1 + 1 + 9) / 4)  # (2, 4, 6, 8): mean 5, deviations -3, -1, 1, 3
    assert a[1].tolist() == pytest.approx([-3 / s2, -1 / s2, 1 / s2, 3 / s2])
    assert a[0].tolist() == pytest.approx([1.7320508, -0.5773503, -0.5773503, -0.5773503])


def test_a_group_of_equal_rewards_has_zero_advantage_and_eps_guards_the_division():
    a = group_advantages(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.5]]))
    assert a[:2].abs().max().item() == 0.0
    assert torch.isfinite(a).all()
    assert a[2].sum().item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="groups, group size"):
        group_advantages(torch.tensor([1.0, 0.0]))


def test_k3_kl_by_hand_and_never_negative():
    logp, ref = torch.tensor([math.log(0.5), math.log(0.2)]), torch.tensor([math.log(0.25), math.log(0.2)])
    assert k3_kl(logp, ref).tolist() == pytest.approx([0.5 - math.log(0.5) - 1, 0.0], abs=1e-6)
    x = torch.randn(100)
    assert (k3_kl(x, torch.randn(100)) >= 0).all()


def test_grpo_loss_broadcasts_one_advantage_over_each_response():
    logp = torch.tensor([[0.0, -1.0, -2.0], [0.0, -0.5, -0.5]])
    old, mask = logp - 0.1, torch.tensor([[False, True, True], [False, False, True]])
    adv = torch.tensor([1.5, -0.5])
    loss, kl = grpo_loss(logp, old, logp, adv, mask, clip=0.2, beta=0.3)
    expected = clipped_policy_loss(logp, old, torch.tensor([[1.5] * 3, [-0.5] * 3]), mask.float(), 0.2)
    assert kl.item() == 0.0 and loss.item() == pytest.approx(expected.item())
    # ratio e^0.1 = 1.105 < 1.2: unclipped, so the loss is -mean(rho * A) over the three masked tokens
    assert loss.item() == pytest.approx(-math.exp(0.1) * (1.5 + 1.5 - 0.5) / 3)
    loss_kl, kl2 = grpo_loss(logp, old, logp + 0.3, adv, mask, clip=0.2, beta=0.3)
    assert kl2.item() == pytest.approx(math.exp(0.3) - 0.3 - 1) and loss_kl.item() == pytest.approx(
        loss.item() + 0.3 * kl2.item()
    )


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=INSTRUCT_VOCAB, d_model=32, n_layers=1)).eval()


def test_rollout_groups_and_a_step_raise_the_rewarded_token():
    policy, ref = _model(), _model()
    prompts = [[256, 97, 257], [256, 98, 99, 257]]
    cfg = GRPOConfig(group_size=6, max_new=1, temperature=1.0, beta=0.0, epochs=4)
    reward = lambda q, r: float(r[0] % 2 == 0)  # noqa: E731  even first token = right
    g = torch.Generator().manual_seed(0)
    ro = grpo_rollout(policy, ref, prompts, reward, cfg, 258, g)
    assert ro.rewards.shape == (2, 6) and ro.advantages.shape == (12,)
    assert torch.allclose(ro.advantages, group_advantages(ro.rewards, cfg.eps).reshape(-1))
    assert torch.allclose(ro.logp, ro.ref_logp)  # same weights before the first step
    assert ro.mask.sum().item() == 12  # one response token per chain
    opt = AdamW(policy.parameters(), lr=1e-2, weight_decay=0.0, max_grad_norm=1.0)
    even = torch.arange(INSTRUCT_VOCAB) % 2 == 0

    def p_even() -> float:
        with torch.no_grad():
            return float(torch.softmax(policy(torch.tensor([prompts[0]])).logits[0, -1], -1)[even].sum())

    start = p_even()
    for _ in range(5):
        grpo_step(policy, opt, grpo_rollout(policy, ref, prompts, reward, cfg, 258, g), cfg)
    assert p_even() > start + 0.05
