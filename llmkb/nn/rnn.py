"""The recurrent encoder-decoder (GRU), with one fixed context vector or with Bahdanau attention.

Same interface as [`llmkb.nn.seq2seq`][llmkb.nn.seq2seq]: ``memory = encode(src, src_mask)``,
``logits = decode(memory, tgt)``.

Encoder (both variants): a bidirectional GRU (Cho et al. 2014, arXiv 1406.1078) over the embedded source gives
annotations ``h_j = [h_fwd_j; h_bwd_j]`` and a summary ``c = [h_fwd_last; h_bwd_first]`` (``2 d_h`` numbers,
whatever the source length).

* ``attention=False`` — the **fixed context vector** of Sutskever et al. 2014 (arXiv 1409.3215) and Cho et al.
  2014: the decoder starts from ``s_0 = tanh(W_b c)`` and reads the same ``c`` at every step,
  ``s_t = GRU([E y_(t-1); c], s_(t-1))``. Everything the decoder knows of the source passes through ``c``.
* ``attention=True`` — **additive attention** (Bahdanau, Cho & Bengio 2014, arXiv 1409.0473): at each step a
  fresh context ``c_t = sum_j a_tj h_j`` with ``a_t = softmax_j(v^T tanh(W s_(t-1) + U h_j))`` over the real
  source positions, and ``s_t = GRU([E y_(t-1); c_t], s_(t-1))``.

Output in both: ``logits_t = W_o [s_t; c_t; E y_(t-1)]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from llmkb.nn.seq2seq import Memory

__all__ = ["GRUSeq2Seq", "additive_attention"]


def additive_attention(
    s: Tensor, keys: Tensor, annotations: Tensor, mask: Tensor, w: nn.Linear, v: nn.Linear
) -> tuple[Tensor, Tensor]:
    """Bahdanau attention ``a_j = softmax_j(v^T tanh(W s + U h_j))``, ``c = sum_j a_j h_j``.

    Args:
        s: decoder state ``(B, d_h)``.
        keys: the precomputed ``U h_j`` ``(B, S, d_a)``.
        annotations: ``h_j`` ``(B, S, 2 d_h)``.
        mask: bool ``(B, S)``, True at real source tokens (the others get weight 0).
        w: the ``W`` projection ``d_h -> d_a``.
        v: the ``v`` projection ``d_a -> 1``.

    Returns:
        ``(context (B, 2 d_h), weights (B, S))``.
    """
    scores = v(torch.tanh(w(s)[:, None, :] + keys)).squeeze(-1)  # (B, S)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # (B, S)
    return torch.bmm(weights[:, None, :], annotations).squeeze(1), weights  # (B, 2 d_h), (B, S)


class GRUSeq2Seq(nn.Module):
    """GRU encoder-decoder: fixed context vector (``attention=False``) or Bahdanau attention (module docstring).

    Args:
        vocab_size: number of token ids (source and target share them).
        d_emb: embedding width.
        d_hidden: GRU state width ``d_h`` (the encoder's is ``d_h`` per direction).
        attention: additive attention over the annotations instead of the one summary vector.
        d_att: width ``d_a`` of the attention's hidden layer (default ``d_hidden``).
    """

    def __init__(
        self,
        vocab_size: int,
        d_emb: int = 32,
        d_hidden: int = 64,
        *,
        attention: bool = False,
        d_att: int | None = None,
    ) -> None:
        super().__init__()
        self.attention = attention
        self.emb = nn.Embedding(vocab_size, d_emb)
        self.encoder = nn.GRU(d_emb, d_hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * d_hidden, d_hidden)
        self.out = nn.Linear(d_hidden + 2 * d_hidden + d_emb, vocab_size)
        if attention:
            d_a = d_att or d_hidden
            self.cell = nn.GRUCell(d_emb + 2 * d_hidden, d_hidden)
            self.att_w = nn.Linear(d_hidden, d_a, bias=False)
            self.att_u = nn.Linear(2 * d_hidden, d_a)
            self.att_v = nn.Linear(d_a, 1, bias=False)
        else:
            self.rnn = nn.GRU(d_emb + 2 * d_hidden, d_hidden, batch_first=True)  # one pass over the target

    def encode(self, src: Tensor, src_mask: Tensor) -> Memory:
        """``src (B, S)`` right-padded -> ``(annotations (B, S, 2 d_h), mask (B, S), summary (B, 2 d_h))``."""
        lengths = src_mask.sum(1).cpu()
        packed = pack_padded_sequence(self.emb(src), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.encoder(packed)  # h_n (2, B, d_h): last forward state, first backward state
        annotations, _ = pad_packed_sequence(
            out, batch_first=True, total_length=src.shape[1]
        )  # (B, S, 2 d_h)
        return annotations, src_mask, torch.cat([h_n[0], h_n[1]], dim=-1)

    def decode(
        self, memory: Memory, tgt: Tensor, *, return_attn: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits ``(B, T, V)`` for the target prefix ``tgt (B, T)``; with ``return_attn`` (attention model),
        also the weights ``(B, T, S)``."""
        annotations, mask, summary = memory
        e = self.emb(tgt)  # (B, T, d_emb)
        s = torch.tanh(self.bridge(summary))  # (B, d_h) = s_0
        if not self.attention:
            c = summary[:, None, :].expand(-1, tgt.shape[1], -1)  # (B, T, 2 d_h): the same c at every step
            states, _ = self.rnn(torch.cat([e, c], dim=-1), s[None].contiguous())  # (B, T, d_h)
            return self.out(torch.cat([states, c, e], dim=-1))
        keys = self.att_u(annotations)  # (B, S, d_a)
        states, contexts, maps = [], [], []
        for t in range(tgt.shape[1]):
            c, a = additive_attention(s, keys, annotations, mask, self.att_w, self.att_v)  # uses s_(t-1)
            s = self.cell(torch.cat([e[:, t], c], dim=-1), s)
            states.append(s)
            contexts.append(c)
            maps.append(a)
        logits = self.out(torch.cat([torch.stack(states, 1), torch.stack(contexts, 1), e], dim=-1))
        return (logits, torch.stack(maps, 1)) if return_attn else logits

    def forward(self, src: Tensor, src_mask: Tensor, tgt: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, V)``."""
        return self.decode(self.encode(src, src_mask), tgt)
