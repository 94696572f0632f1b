"""Greedy and beam-search decoding of sequence-to-sequence models.

A model is anything with ``encode(src, src_mask) -> memory`` (a tuple of batch-first tensors) and
``decode(memory, tgt) -> logits (B, T, V)`` — [`EncoderDecoder`][llmkb.nn.seq2seq.EncoderDecoder],
[`PromptedGPT`][llmkb.nn.seq2seq.PromptedGPT], [`GRUSeq2Seq`][llmkb.nn.rnn.GRUSeq2Seq]. Each step re-decodes
the whole prefix (no cache: the targets here are short).

* Greedy: ``y_t = argmax_y p(y | y_<t, x)`` until ``EOS``.
* Beam search (Sutskever et al. 2014, arXiv 1409.3215; Graves 2012): keep the ``K`` prefixes of highest
  ``sum_t log p(y_t | y_<t, x)``; a prefix that emitted ``EOS`` is finished and keeps its score. The answer
  is the finished hypothesis with the best ``score / |y|^alpha`` (length penalty ``alpha``; Wu et al. 2016,
  arXiv 1609.08144, use a smoothed variant). ``K = 1`` is greedy.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

__all__ = ["Seq2SeqModel", "greedy_decode", "beam_search", "strip"]


class Seq2SeqModel(Protocol):
    """What the decoders need of a model (see the module docstring)."""

    def encode(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, ...]: ...

    def decode(self, memory: tuple[Tensor, ...], tgt: Tensor) -> Tensor: ...


def strip(ids: list[int], eos: int) -> list[int]:
    """The tokens before the first ``eos`` (all of them if there is none)."""
    return ids[: ids.index(eos)] if eos in ids else ids


@torch.no_grad()
def greedy_decode(
    model: Seq2SeqModel, src: Tensor, src_mask: Tensor, *, bos: int, eos: int, max_len: int
) -> list[list[int]]:
    """Greedy decoding of a batch: at each step the most likely next token.

    Args:
        model: a sequence-to-sequence model.
        src: ``(B, S)`` right-padded source ids; ``src_mask`` bool ``(B, S)`` True at real tokens.
        src_mask: see ``src``.
        bos: the start token fed first.
        eos: the end token (not included in the output).
        max_len: most tokens generated per row.

    Returns:
        One list of token ids per row, without ``BOS``/``EOS``.
    """
    memory = model.encode(src, src_mask)
    ys = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        nxt = model.decode(memory, ys)[:, -1].argmax(-1)  # (B,)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done |= nxt == eos
        if bool(done.all()):
            break
    return [strip(row[1:], eos) for row in ys.tolist()]


@torch.no_grad()
def beam_search(
    model: Seq2SeqModel,
    src: Tensor,
    src_mask: Tensor,
    *,
    bos: int,
    eos: int,
    max_len: int,
    beam_size: int = 4,
    alpha: float = 0.0,
) -> list[list[int]]:
    """Beam search over a batch: ``beam_size`` hypotheses per row, scored by summed log-probability.

    A hypothesis that emits ``eos`` is finished: it is extended only by ``eos`` at no cost, so it keeps its
    score and competes with the live ones. At the end each row returns the hypothesis with the best
    ``score / length^alpha`` (``length`` counts the tokens up to and including ``eos``).

    Args:
        model: a sequence-to-sequence model.
        src: ``(B, S)`` right-padded source ids.
        src_mask: bool ``(B, S)``, True at real tokens.
        bos: start token.
        eos: end token.
        max_len: most tokens per hypothesis.
        beam_size: ``K``; 1 gives the greedy answer.
        alpha: length-penalty exponent (0: raw log-probability, which favours short outputs).

    Returns:
        One list of token ids per row, without ``BOS``/``EOS``.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    B, K = src.shape[0], beam_size
    memory = tuple(m.repeat_interleave(K, dim=0) for m in model.encode(src, src_mask))  # (B*K, ...)
    ys = torch.full((B * K, 1), bos, dtype=torch.long, device=src.device)  # (B*K, 1)
    scores = torch.full((B, K), float("-inf"), device=src.device)
    scores[:, 0] = 0.0  # one live hypothesis per row at the start
    done = torch.zeros(B * K, dtype=torch.bool, device=src.device)
    lengths = torch.zeros(B * K, device=src.device)
    for _ in range(max_len):
        logp = torch.log_softmax(model.decode(memory, ys)[:, -1].float(), dim=-1)  # (B*K, V)
        V = logp.shape[-1]
        logp[done] = float("-inf")
        logp[done, eos] = 0.0  # a finished hypothesis only pads with eos, at no cost
        cand = (scores.reshape(B * K, 1) + logp).reshape(B, K * V)  # (B, K*V)
        scores, idx = cand.topk(K, dim=-1)  # (B, K)
        parent = (idx // V + torch.arange(B, device=src.device)[:, None] * K).reshape(-1)  # (B*K,)
        token = (idx % V).reshape(-1)  # (B*K,)
        lengths = lengths[parent] + (~done[parent]).float()
        done = done[parent] | (token == eos)
        ys = torch.cat([ys[parent], token[:, None]], dim=1)
        if bool(done.all()):
            break
    final = scores / lengths.reshape(B, K).clamp(min=1.0) ** alpha if alpha else scores  # (B, K)
    best = final.argmax(-1) + torch.arange(B, device=src.device) * K  # (B,)
    return [strip(row[1:], eos) for row in ys[best].tolist()]
