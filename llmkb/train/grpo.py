"""GRPO: reinforcement learning with verifiable rewards, group-relative advantages and no value network.

Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300). For each question ``q``
sample a *group* of ``n`` responses ``o_1 … o_n`` from the current policy and score each with a reward ``r_i``
(here a verifier: 1 if the final answer is right, else 0). The advantage of every token of response ``i`` is
its reward standardized within its group,

    A_i = (r_i - mean(r)) / (std(r) + eps),          std over the group, population form (divide by n),

so the group's own mean replaces PPO's learned value baseline: a response is pushed up when it beats its
siblings and down when it trails them, and a group whose rewards are all equal teaches nothing (A = 0). The
policy minimizes PPO's clipped surrogate (:func:`llmkb.train.ppo.clipped_policy_loss`) plus a KL penalty to
the frozen reference (the SFT model), estimated per token with the paper's unbiased, always-positive ``k3``

    KL_t = pi_ref / pi - log(pi_ref / pi) - 1,       L = L_clip + beta * mean_t KL_t,

both averaged over all response tokens of the batch (a token-level mean; the paper first averages within each
response). Unlike :mod:`llmkb.train.ppo`, the KL enters the loss, not the reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmkb.infer.sampling import SamplingConfig
from llmkb.nn.model import GPT
from llmkb.train.ppo import clipped_policy_loss, masked_mean
from llmkb.train.sequences import generate_responses, response_batch, token_logprobs

__all__ = [
    "GRPOConfig",
    "GroupRollout",
    "group_advantages",
    "grpo_loss",
    "grpo_rollout",
    "grpo_step",
    "k3_kl",
]


@dataclass(frozen=True)
class GRPOConfig:
    """GRPO settings: responses per question, clip range, KL coefficient, updates per rollout, sampling."""

    group_size: int = 8
    clip: float = 0.2
    beta: float = 0.04
    epochs: int = 1
    max_new: int = 48
    temperature: float = 1.0
    eps: float = 1e-6


def group_advantages(rewards: Tensor, eps: float = 1e-6) -> Tensor:
    """``A[g, i] = (r[g, i] - mean_i r[g]) / (std_i r[g] + eps)`` for rewards ``(G, n)``: G groups of n.

    The standard deviation is the population one (``unbiased=False``); a group of equal rewards gets 0.
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (groups, group size), got shape {tuple(rewards.shape)}")
    mean = rewards.mean(1, keepdim=True)  # (G, 1)
    std = rewards.std(1, unbiased=False, keepdim=True)  # (G, 1)
    return (rewards - mean) / (std + eps)  # (G, n)


def k3_kl(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """The per-token KL estimate ``exp(d) - d - 1`` with ``d = log pi_ref - log pi`` (never negative)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


@dataclass
class GroupRollout:
    """Sampled groups and what a GRPO update needs; per-position tensors are ``(B, T - 1)``, ``B = G n``."""

    ids: Tensor  # (B, T) prompt ++ response, right-padded
    mask: Tensor  # (B, T-1) True where position t predicts a response token
    logp: Tensor  # log-probs under the policy that sampled (pi_old)
    ref_logp: Tensor
    rewards: Tensor  # (G, n)
    advantages: Tensor  # (B,) one per response, broadcast over its tokens
    responses: list[list[int]]


@torch.no_grad()
def grpo_rollout(
    policy: GPT,
    ref: GPT,
    prompts: Sequence[Sequence[int]],
    reward_fn: Callable[[int, list[int]], float],
    cfg: GRPOConfig,
    end_id: int,
    generator: torch.Generator | None = None,
) -> GroupRollout:
    """Sample ``cfg.group_size`` responses per prompt, reward them, and compute log-probs and advantages.

    Args:
        policy: the model being trained.
        ref: the frozen reference model of the KL penalty.
        prompts: ``G`` distinct questions as token ids.
        reward_fn: ``(question index, response ids) -> reward``.
        cfg: the GRPO settings.
        end_id: the token that ends a response (also the padding id).
        generator: random source of the samples.
    """
    n = cfg.group_size
    flat = [p for p in prompts for _ in range(n)]  # group g is rows g*n … g*n + n - 1
    responses = generate_responses(policy, flat, cfg.max_new, end_id, SamplingConfig(temperature=cfg.temperature),
                                   generator)  # fmt: skip
    ids, mask = response_batch(flat, responses, end_id)  # (B, T), (B, T-1)
    logp = token_logprobs(policy(ids).logits, ids)  # (B, T-1)
    ref_logp = token_logprobs(ref(ids).logits, ids)
    rewards = torch.tensor([reward_fn(b // n, r) for b, r in enumerate(responses)], dtype=torch.float32)
    rewards = rewards.view(len(prompts), n)  # (G, n)
    adv = group_advantages(rewards, cfg.eps).reshape(-1)  # (B,)
    return GroupRollout(ids, mask, logp, ref_logp, rewards, adv, responses)


def grpo_loss(
    logp: Tensor, old_logp: Tensor, ref_logp: Tensor, adv: Tensor, mask: Tensor, clip: float, beta: float
) -> tuple[Tensor, Tensor]:
    """``L_clip + beta * KL`` over the masked positions of ``(B, T - 1)`` tensors; ``adv`` is ``(B,)``.

    Returns:
        The loss and the mean ``k3`` KL estimate.
    """
    a = adv[:, None].expand_as(logp)  # (B, T-1): one advantage for every token of a response
    kl = masked_mean(k3_kl(logp, ref_logp), mask.float())
    return clipped_policy_loss(logp, old_logp, a, mask.float(), clip) + beta * kl, kl


def grpo_step(policy: GPT, opt: torch.optim.Optimizer, ro: GroupRollout, cfg: GRPOConfig) -> dict[str, float]:
    """``cfg.epochs`` full-batch updates on one rollout; the mean loss and KL. No value network is trained.

    ``opt`` clips gradients itself if it should (e.g. :class:`llmkb.train.optim.AdamW` with ``max_grad_norm``).
    """
    policy.train()
    stats = {"loss": 0.0, "kl": 0.0}
    for _ in range(cfg.epochs):
        logp = token_logprobs(policy(ro.ids).logits, ro.ids)  # (B, T-1)
        loss, kl = grpo_loss(logp, ro.logp, ro.ref_logp, ro.advantages, ro.mask, cfg.clip, cfg.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        stats["loss"] += float(loss.detach()) / cfg.epochs
        stats["kl"] += float(kl.detach()) / cfg.epochs
    policy.eval()
    return stats
