"""DPO: preference optimization without a reward model or sampling (Rafailov et al. 2023, arXiv:2305.18290).

The KL-regularized reward objective has a closed-form optimum, ``pi*(y|x) ∝ pi_ref(y|x) exp(r(x, y) / beta)``,
so a policy defines an *implicit reward* ``r_hat(x, y) = beta (log pi(y|x) - log pi_ref(y|x))`` (up to a term
in ``x`` alone). Putting it into the Bradley–Terry likelihood of the preferences gives the loss

    L = -E log sigma(beta [(log pi(y_c|x) - log pi_ref(y_c|x)) - (log pi(y_r|x) - log pi_ref(y_r|x))]),

trained directly on the pairs, with the reference frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from llmkb.nn.model import GPT
from llmkb.train.optim import AdamW
from llmkb.train.reward import Pair, pair_batch
from llmkb.train.sequences import token_logprobs

__all__ = ["dpo_loss", "response_logprob", "train_dpo"]


def dpo_loss(
    pi_chosen: Tensor, pi_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor, beta: float = 0.1
) -> tuple[Tensor, Tensor, Tensor]:
    """DPO's loss from sequence log-probabilities ``(B,)`` of the policy and the reference.

    Returns:
        The mean loss and the implicit rewards ``beta (log pi - log pi_ref)`` of the chosen and the rejected
        responses, ``(B,)`` each (detached).
    """
    chosen = beta * (pi_chosen - ref_chosen)
    rejected = beta * (pi_rejected - ref_rejected)
    return -F.logsigmoid(chosen - rejected).mean(), chosen.detach(), rejected.detach()


def response_logprob(
    model: GPT, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]
) -> Tensor:
    """``log pi(y | x)`` of each response given its prompt, ``(B,)`` (prompt tokens not counted)."""
    ids, lengths, plen = pair_batch(prompts, responses)
    lp = token_logprobs(model(ids).logits, ids)  # (B, T-1)
    t = torch.arange(lp.shape[1])[None]  # position t predicts token t + 1
    mask = (t >= plen[:, None] - 1) & (t < lengths[:, None] - 1)
    return (lp * mask).sum(1)


def train_dpo(
    policy: GPT, ref: GPT, pairs: Sequence[Pair], steps: int, batch_size: int = 16, lr: float = 1e-4,
    beta: float = 0.1, seed: int = 0,
) -> list[float]:  # fmt: skip
    """Minimize the DPO loss with AdamW on random minibatches of ``pairs``; returns the losses."""
    g = torch.Generator().manual_seed(seed)
    opt = AdamW(
        [p for p in policy.parameters() if p.requires_grad], lr=lr, weight_decay=0.0, max_grad_norm=1.0
    )
    policy.train()
    ref.eval()
    losses = []
    for _ in range(steps):
        batch = [pairs[i] for i in torch.randint(0, len(pairs), (batch_size,), generator=g).tolist()]
        prompts = [p.prompt for p in batch]
        both = [p.chosen for p in batch] + [p.rejected for p in batch]
        lp = response_logprob(policy, prompts * 2, both)
        with torch.no_grad():
            ref_lp = response_logprob(ref, prompts * 2, both)
        B = len(batch)
        loss, _, _ = dpo_loss(lp[:B], lp[B:], ref_lp[:B], ref_lp[B:], beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    policy.eval()
    return losses
