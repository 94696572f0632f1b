"""Greedy and beam-search decoding (llmkb/infer/beam.py)."""

from __future__ import annotations

import math

import pytest
import torch

from llmkb.infer.beam import beam_search, greedy_decode, strip
from llmkb.nn import GPT, GPTConfig
from llmkb.nn.rnn import GRUSeq2Seq
from llmkb.nn.seq2seq import EncoderDecoder, PromptedGPT

V, BOS, EOS = 12, 1, 2


class TableModel:
    """A model whose next-token distribution is a table of the prefix (the source is ignored).

    From BOS: ``a`` 0.6, ``b`` 0.4. After ``a``: ``x`` 0.3, ``y`` 0.3, ``z`` 0.4 (then EOS); after ``b``:
    ``x`` 0.9 (then EOS). Greedy takes ``a z`` (0.24), the best sequence is ``b x`` (0.36).
    """

    A, B, X, Y, Z = 3, 4, 5, 6, 7

    def encode(self, src, src_mask):
        return (src,)

    def _probs(self, prefix: list[int]) -> dict[int, float]:
        if prefix == [BOS]:
            return {self.A: 0.6, self.B: 0.4}
        if prefix == [BOS, self.A]:
            return {self.X: 0.3, self.Y: 0.3, self.Z: 0.4}
        if prefix == [BOS, self.B]:
            return {self.X: 0.9, self.Y: 0.1}
        return {EOS: 1.0}

    def decode(self, memory, tgt):
        out = torch.full((tgt.shape[0], tgt.shape[1], V), -1e9)
        for i, row in enumerate(tgt.tolist()):
            for tok, p in self._probs(row).items():
                out[i, -1, tok] = math.log(p)
        return out


def test_beam_search_finds_the_sequence_greedy_misses():
    src, mask = torch.ones(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.bool)
    m, kw = TableModel(), {"bos": BOS, "eos": EOS, "max_len": 5}
    assert greedy_decode(m, src, mask, **kw) == [[m.A, m.Z]]
    assert beam_search(m, src, mask, beam_size=1, **kw) == [[m.A, m.Z]]
    assert beam_search(m, src, mask, beam_size=2, **kw) == [[m.B, m.X]]
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(m, src, mask, beam_size=0, **kw)


def test_finished_hypotheses_keep_their_score_against_longer_ones():
    class Short(TableModel):
        def _probs(self, prefix):
            if prefix == [BOS]:
                return {EOS: 0.5, self.A: 0.5}
            if prefix == [BOS, self.A]:
                return {self.X: 0.5, self.Y: 0.5}
            return {EOS: 1.0}

    src, mask = torch.ones(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool)
    m = Short()
    assert beam_search(m, src, mask, bos=BOS, eos=EOS, max_len=4, beam_size=3) == [[]]  # 0.5 beats 0.25
    # with a length penalty, per-token scores: [] = log .5 / 1, [a x] = log .25 / 3 (higher)
    out = beam_search(m, src, mask, bos=BOS, eos=EOS, max_len=4, beam_size=3, alpha=1.0)
    assert out in ([[m.A, m.X]], [[m.A, m.Y]])


def _models():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=V, d_model=16, n_layers=1, n_heads=2, positional="rope", tie_embeddings=False)
    return [
        EncoderDecoder(cfg).eval(),
        PromptedGPT(GPT(cfg)).eval(),
        GRUSeq2Seq(V, 8, 8, attention=True).eval(),
    ]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_beam_size_one_equals_greedy(which):
    model = _models()[which]
    g = torch.Generator().manual_seed(which)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 2, 4, 5])[:, None]
    src = torch.randint(3, V, (4, 6), generator=g).masked_fill(~mask, 0)
    greedy = greedy_decode(model, src, mask, bos=BOS, eos=EOS, max_len=7)
    assert beam_search(model, src, mask, bos=BOS, eos=EOS, max_len=7, beam_size=1) == greedy
    assert all(len(row) <= 7 and EOS not in row for row in greedy)
    # each row decodes as it would alone
    assert greedy_decode(model, src[1:2, :2], mask[1:2, :2], bos=BOS, eos=EOS, max_len=7) == greedy[1:2]


def test_strip():
    assert strip([5, 6, EOS, 7], EOS) == [5, 6] and strip([5], EOS) == [5]
