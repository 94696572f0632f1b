"""Sequence-level pieces shared by SFT, the reward model, PPO and DPO: hidden states, token log-probabilities,
greedy and sampled responses, and the scalar head that turns a language model into a reward or value model.

``token_logprobs`` gives ``log pi(w_{t+1} | w_{<=t})`` for every position, so the log-probability of a
response ``y`` to a prompt ``x`` is ``log pi(y | x) = sum_{t in response} log pi(w_{t+1} | w_{<=t})``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from llmkb.infer.sampling import SamplingConfig, sample_next
from llmkb.nn.model import GPT

__all__ = [
    "ScalarHead",
    "forward_hidden",
    "generate_responses",
    "pad_right",
    "response_batch",
    "token_logprobs",
]


def forward_hidden(model: GPT, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Logits ``(B, T, V)`` and the final hidden states ``(B, T, d)`` (the output of the final norm).

    The hidden states are read with a forward hook on ``model.norm_f``, removed before returning.
    """
    seen: list[Tensor] = []
    handle = model.norm_f.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        logits = model(idx).logits  # (B, T, V)
    finally:
        handle.remove()
    return logits, seen[-1]


def token_logprobs(logits: Tensor, idx: Tensor) -> Tensor:
    """``lp[b, t] = log softmax(logits[b, t])[idx[b, t + 1]]``, shape ``(B, T - 1)``."""
    return torch.gather(F.log_softmax(logits[:, :-1].float(), dim=-1), 2, idx[:, 1:, None]).squeeze(-1)


def pad_right(seqs: Sequence[Sequence[int]], pad: int) -> tuple[Tensor, Tensor]:
    """Right-pad id lists to ``(B, T)``; also the bool mask of real tokens ``(B, T)``."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    real = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        real[i, : len(s)] = True
    return ids, real


def response_batch(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad: int
) -> tuple[Tensor, Tensor]:
    """``prompt ++ response`` right-padded to ``(B, T)``, and the mask ``(B, T - 1)`` of the positions of
    :func:`token_logprobs` that predict a response token (position ``t`` predicts token ``t + 1``)."""
    ids, real = pad_right([[*p, *r] for p, r in zip(prompts, responses, strict=True)], pad)
    mask = real[:, 1:].clone()  # (B, T-1)
    for i, p in enumerate(prompts):
        mask[i, : len(p) - 1] = False
    return ids, mask


@torch.no_grad()
def generate_responses(
    model: GPT,
    prompts: Sequence[Sequence[int]],
    max_new: int,
    end_id: int,
    sampling: SamplingConfig | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Each prompt's response (up to and including ``end_id``, at most ``max_new`` ids).

    Prompts of equal length are decoded together with :func:`llmkb.infer.sampling.sample_next` (greedy by
    default), one forward pass of the whole context per new token.
    """
    sampling = SamplingConfig(temperature=0.0) if sampling is None else sampling
    was = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in prompts]
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(i)
    for idx in groups.values():
        seq = torch.tensor([list(prompts[i]) for i in idx], dtype=torch.long)  # (b, P)
        done = torch.zeros(len(idx), dtype=torch.bool)
        P = seq.shape[1]
        for _ in range(max_new):
            nxt = sample_next(model(seq).logits[:, -1], sampling, generator=generator)  # (b,)
            nxt = torch.where(done, torch.full_like(nxt, end_id), nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            done |= nxt == end_id
            if bool(done.all()):
                break
        for row, i in enumerate(idx):
            r = seq[row, P:].tolist()
            out[i] = r[: r.index(end_id) + 1] if end_id in r else r
    model.train(was)
    return out


class ScalarHead(nn.Module):
    """A language model with a scalar head on its final hidden state: a reward model or a value function.

    ``values(idx)`` is ``w . h_t + b`` at every position ``(B, T)``; a reward model reads it at the last
    real token of each sequence (:meth:`score`).

    Args:
        backbone: the language model (its LM head is not used by the scalar).
    """

    def __init__(self, backbone: GPT) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.d_model, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def values(self, idx: Tensor) -> Tensor:
        """The scalar at every position, ``(B, T)``."""
        return self.head(forward_hidden(self.backbone, idx)[1]).squeeze(-1)

    def score(self, idx: Tensor, lengths: Tensor) -> Tensor:
        """The scalar at position ``lengths - 1`` of each row (the last real token), ``(B,)``."""
        v = self.values(idx)  # (B, T)
        return v.gather(1, (lengths - 1)[:, None]).squeeze(1)
