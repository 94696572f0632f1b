"""GRU encoder-decoder with a fixed context vector or Bahdanau attention (llmkb/nn/rnn.py)."""

from __future__ import annotations

import pytest
import torch

from llmkb.nn.rnn import GRUSeq2Seq, additive_attention

V = 30


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _batch(seed: int = 0, lengths=(7, 4, 6)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    S = max(lengths)
    mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]
    src = torch.randint(3, V, (len(lengths), S), generator=g).masked_fill(~mask, 0)
    return src, mask


def test_additive_attention_matches_the_formula():
    torch.manual_seed(0)
    w, v = torch.nn.Linear(4, 5, bias=False), torch.nn.Linear(5, 1, bias=False)
    s, keys, ann = torch.randn(2, 4), torch.randn(2, 3, 5), torch.randn(2, 3, 6)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    c, a = additive_attention(s, keys, ann, mask, w, v)
    for b in range(2):
        n = int(mask[b].sum())
        e = torch.stack([v.weight[0] @ torch.tanh(w.weight @ s[b] + keys[b, j]) for j in range(n)])
        torch.testing.assert_close(a[b, :n], torch.softmax(e, 0))
        torch.testing.assert_close(c[b], a[b, :n] @ ann[b, :n])
    assert float(a[1, 2]) == 0.0


@pytest.mark.parametrize("attention", [False, True])
def test_gru_seq2seq_is_causal_padding_free_and_reads_the_source(attention):
    torch.manual_seed(0)
    m = GRUSeq2Seq(V, 8, 12, attention=attention).eval()
    src, mask = _batch()
    tgt = torch.randint(3, V, (3, 5))
    base = m(src, mask, tgt)
    torch.testing.assert_close(base[1:2], m(src[1:2, :4], mask[1:2, :4], tgt[1:2]), atol=1e-5, rtol=1e-5)
    tgt2 = tgt.clone()
    tgt2[:, 3] = (tgt2[:, 3] + 1 - 3) % (V - 3) + 3
    diff = (m(src, mask, tgt2) - base).abs().amax((0, 2))
    assert float(diff[:3].max()) == 0.0 and float(diff[3:].min()) > 1e-6
    src2 = src.clone()
    src2[0, 5] = (src2[0, 5] + 1 - 3) % (V - 3) + 3
    assert float((m(src2, mask, tgt) - base)[0].abs().amax(-1).min()) > 1e-7
    if attention:
        _, a = m.decode(m.encode(src, mask), tgt, return_attn=True)
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 5))
        assert float(a[1, :, 4:].max()) == 0.0


def test_fixed_context_decoder_reads_only_the_summary():
    """Without attention, two sources with the same summary vector decode identically."""
    torch.manual_seed(0)
    m = GRUSeq2Seq(V, 8, 12).eval()
    src, mask = _batch()
    ann, msk, summary = m.encode(src, mask)
    tgt = torch.randint(3, V, (3, 4))
    a = m.decode((ann, msk, summary), tgt)
    b = m.decode((torch.randn_like(ann), msk, summary), tgt)
    assert torch.equal(a, b)
