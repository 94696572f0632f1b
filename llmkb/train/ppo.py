"""PPO for a language model against a learned reward, with a per-token KL penalty to a frozen reference.

The InstructGPT recipe (Ouyang et al. 2022, arXiv:2203.02155) on top of PPO (Schulman et al. 2017,
arXiv:1707.06347) and GAE (Schulman et al. 2016, arXiv:1506.02438). A rollout samples a response ``y`` to a
prompt ``x`` from the policy; each response token ``t`` earns

    r_t = -beta (log pi(y_t | .) - log pi_ref(y_t | .))  [+ R_phi(x, y) at the last token],

the advantages come from GAE over the response tokens with the value head ``V``,

    delta_t = r_t + gamma V_{t+1} - V_t,    A_t = sum_k (gamma lambda)^k delta_{t+k},    G_t = A_t + V_t,

and each minibatch epoch minimizes the clipped surrogate and the clipped value loss

    L_pi = -E min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t),      rho_t = pi(y_t | .) / pi_old(y_t | .),
    L_V  = 1/2 E max((V_t - G_t)^2, (V_old,t + clip(V_t - V_old,t, -eps_v, eps_v) - G_t)^2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.data.instruct import END_ID
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn.model import GPT
from llmkb.train.sequences import (
    ScalarHead,
    forward_hidden,
    generate_responses,
    response_batch,
    token_logprobs,
)

__all__ = ["PPOConfig", "Rollout", "clipped_policy_loss", "clipped_value_loss", "gae", "kl_rewards",
           "masked_mean", "ppo_step", "rollout"]  # fmt: skip


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings: KL coefficient ``beta``, clip ranges, GAE's ``gamma`` and ``lambda``, minibatch epochs."""

    beta: float = 0.1
    clip: float = 0.2
    value_clip: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    epochs: int = 2
    minibatches: int = 2
    lr: float = 1e-4
    vf_coef: float = 0.5
    max_new: int = 8
    temperature: float = 1.0


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is true."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation over the masked (response) positions of ``(B, T)`` tensors.

    Positions outside ``mask`` get advantage 0 and end the episode: the value after the last response
    token is 0 (the episode is over).

    Returns:
        ``(advantages, returns)``, both ``(B, T)``; ``returns = advantages + values``.
    """
    m = mask.float()
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])  # (B,) A_{t+1}
    for t in reversed(range(rewards.shape[1])):
        nxt = values[:, t + 1] * m[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * nxt - values[:, t]
        last = (delta + gamma * lam * last) * m[:, t]
        adv[:, t] = last
    return adv, adv + values * m


def kl_rewards(
    score: Tensor, logp: Tensor, ref_logp: Tensor, mask: Tensor, beta: float
) -> tuple[Tensor, Tensor]:
    """Per-token rewards ``(B, T)``: ``-beta (log pi - log pi_ref)`` on the response, plus ``score`` at its end.

    Returns:
        The rewards and each sequence's summed KL estimate ``sum_t (log pi - log pi_ref)`` ``(B,)``.
    """
    kl = (logp - ref_logp) * mask  # (B, T)
    rewards = -beta * kl
    last = mask.long().cumsum(1).argmax(1)  # (B,) index of the last response token
    rewards[torch.arange(len(score)), last] += score
    return rewards, kl.sum(1)


def clipped_policy_loss(
    logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, clip: float = 0.2
) -> Tensor:
    """PPO's clipped surrogate ``-E min(rho A, clip(rho, 1 - eps, 1 + eps) A)`` over masked positions."""
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    return -masked_mean(surrogate, mask)


def clipped_value_loss(v: Tensor, old_v: Tensor, returns: Tensor, mask: Tensor, clip: float = 0.2) -> Tensor:
    """``1/2 E max((V - G)^2, (V_old + clip(V - V_old, -eps, eps) - G)^2)`` over masked positions."""
    clipped = old_v + (v - old_v).clamp(-clip, clip)
    return 0.5 * masked_mean(torch.maximum((v - returns) ** 2, (clipped - returns) ** 2), mask)


@dataclass
class Rollout:
    """One batch of sampled responses and what PPO needs from them; tensors are ``(B, T - 1)`` per position."""

    ids: Tensor  # (B, T) prompt ++ response, right-padded
    mask: Tensor  # (B, T-1) True where position t predicts a response token
    logp: Tensor
    ref_logp: Tensor
    values: Tensor
    advantages: Tensor
    returns: Tensor
    score: Tensor  # (B,) reward-model score
    kl: Tensor  # (B,) summed KL estimate
    responses: list[list[int]]


@torch.no_grad()
def rollout(
    policy: ScalarHead,
    ref: GPT,
    prompts: Sequence[Sequence[int]],
    reward_fn: Callable[[list[list[int]], list[list[int]]], Tensor],
    cfg: PPOConfig,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Sample responses, score them, and compute log-probs, values, KL-penalized rewards and GAE."""
    responses = generate_responses(
        policy.backbone, prompts, cfg.max_new, END_ID, SamplingConfig(temperature=cfg.temperature), generator
    )
    ids, mask = response_batch(prompts, responses, END_ID)  # (B, T), (B, T-1)
    policy.eval()
    logits, h = forward_hidden(policy.backbone, ids)
    logp = token_logprobs(logits, ids)
    values = policy.head(h).squeeze(-1)[:, :-1]  # (B, T-1) value of the state before token t+1
    ref_logp = token_logprobs(ref(ids).logits, ids)
    score = reward_fn([list(p) for p in prompts], responses)
    rewards, kl = kl_rewards(score, logp, ref_logp, mask.float(), cfg.beta)
    adv, ret = gae(rewards, values, mask, cfg.gamma, cfg.lam)
    return Rollout(ids, mask, logp, ref_logp, values, adv, ret, score, kl, responses)


def ppo_step(policy: ScalarHead, opt: torch.optim.Optimizer, ro: Rollout, cfg: PPOConfig,
             generator: torch.Generator | None = None) -> dict[str, float]:  # fmt: skip
    """``cfg.epochs`` passes of ``cfg.minibatches`` minibatches over one rollout; returns the mean losses.

    ``opt`` clips gradients itself if it should (e.g. :class:`llmkb.train.optim.AdamW` with ``max_grad_norm``).
    """
    m = ro.mask.float()
    adv = (ro.advantages - masked_mean(ro.advantages, m)) * m
    adv = adv / (masked_mean(adv**2, m).sqrt() + 1e-8)  # whitened over the batch's response tokens
    policy.train()
    B, stats = ro.ids.shape[0], {"policy_loss": 0.0, "value_loss": 0.0}
    n = 0
    for _ in range(cfg.epochs):
        for mb in torch.randperm(B, generator=generator).chunk(cfg.minibatches):
            logits, h = forward_hidden(policy.backbone, ro.ids[mb])
            logp = token_logprobs(logits, ro.ids[mb])
            v = policy.head(h).squeeze(-1)[:, :-1]
            pl = clipped_policy_loss(logp, ro.logp[mb], adv[mb], m[mb], cfg.clip)
            vl = clipped_value_loss(v, ro.values[mb], ro.returns[mb], m[mb], cfg.value_clip)
            opt.zero_grad(set_to_none=True)
            (pl + cfg.vf_coef * vl).backward()
            opt.step()
            stats["policy_loss"] += float(pl.detach())
            stats["value_loss"] += float(vl.detach())
            n += 1
    policy.eval()
    return {k: v / n for k, v in stats.items()}
