"""Encoder-decoder, decoder-only prompting and GRU seq2seq (llmkb/nn/seq2seq.py, llmkb/nn/rnn.py)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from llmkb.nn import GPT, GPTConfig, MultiHeadAttention
from llmkb.nn.seq2seq import EncoderDecoder, PromptedGPT, left_pad
from llmkb.train.seq2seq import Seq2SeqTrainConfig, seq2seq_loss, train_seq2seq

V = 30


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _cfg(**kw) -> GPTConfig:
    base = {
        "vocab_size": V,
        "d_model": 32,
        "n_layers": 2,
        "n_heads": 4,
        "max_seq_len": 32,
        "tie_embeddings": False,
    }
    return GPTConfig(**{**base, **kw})


def _batch(seed: int = 0, lengths=(7, 4, 6)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    S = max(lengths)
    mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]
    src = torch.randint(3, V, (len(lengths), S), generator=g).masked_fill(~mask, 0)
    return src, mask


@pytest.mark.parametrize("kernel", ["sdpa", "naive"])
def test_cross_attention_equals_torch_sdpa_with_separate_q_and_kv(kernel):
    torch.manual_seed(0)
    attn = MultiHeadAttention(_cfg(attention=kernel, n_kv_heads=2)).eval()
    x, kv = torch.randn(3, 5, 32), torch.randn(3, 9, 32)
    keys = torch.arange(9)[None, :] < torch.tensor([9, 3, 6])[:, None]  # (B, S)
    with torch.no_grad():
        out, w = attn(x, kv=kv, attn_mask=keys[:, None, None, :], return_weights=kernel == "naive")
        B, H, D = 3, 4, 8
        q = attn.q_proj(x).view(B, 5, H, D).transpose(1, 2)
        k = attn.k_proj(kv).view(B, 9, 2, D).transpose(1, 2).repeat_interleave(2, dim=1)
        v = attn.v_proj(kv).view(B, 9, 2, D).transpose(1, 2).repeat_interleave(2, dim=1)
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=keys[:, None, None, :])  # (B, H, 5, D)
        ref = attn.o_proj(ref.transpose(1, 2).reshape(B, 5, H * D))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    if w is not None:
        assert w.shape == (3, 4, 5, 9)
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 5))
        assert float(w[1, :, :, 3:].abs().max()) == 0.0  # padding gets no weight


def test_cross_attention_refuses_a_cache_or_a_blockwise_kernel():
    attn = MultiHeadAttention(_cfg(attention="chunked"))
    with pytest.raises(ValueError, match="cross-attention"):
        attn(torch.randn(1, 2, 32), kv=torch.randn(1, 3, 32))


@pytest.mark.parametrize("positional,norm_position", [("learned", "pre"), ("rope", "post")])
def test_encoder_sees_both_directions_and_ignores_padding(positional, norm_position):
    torch.manual_seed(0)
    m = EncoderDecoder(_cfg(positional=positional, norm_position=norm_position)).eval()
    src, mask = _batch()
    h, _ = m.encode(src, mask)
    src2 = src.clone()
    src2[0, 3] = (src2[0, 3] + 1 - 3) % (V - 3) + 3
    h2, _ = m.encode(src2, mask)
    changed = (h - h2)[0].abs().amax(-1) > 1e-6  # (S,)
    assert changed[:3].all() and changed[4:7].all()  # earlier and later positions both see position 3
    assert torch.equal(h[1:], h2[1:])
    alone, _ = m.encode(src[1:2, :4], mask[1:2, :4])  # row 1 without its padding
    torch.testing.assert_close(h[1:2, :4], alone, atol=1e-5, rtol=1e-5)


def test_decoder_sees_only_its_past_and_reads_the_source():
    torch.manual_seed(0)
    m = EncoderDecoder(_cfg()).eval()
    src, mask = _batch()
    tgt = torch.randint(3, V, (3, 6))
    base = m(src, mask, tgt)
    assert base.shape == (3, 6, V)
    for t in range(6):
        tgt2 = tgt.clone()
        tgt2[:, t] = (tgt2[:, t] + 1 - 3) % (V - 3) + 3
        diff = (m(src, mask, tgt2) - base).abs().amax((0, 2))  # (T,)
        assert (t == 0 or float(diff[:t].max()) == 0.0) and float(diff[t:].min()) > 1e-6
    src2 = src.clone()
    src2[:, 0] = (src2[:, 0] + 1 - 3) % (V - 3) + 3
    assert float((m(src2, mask, tgt) - base).abs().amax((0, 2)).min()) > 1e-6  # every step reads the source
    logits, maps = m.decode(m.encode(src, mask), tgt, return_attn=True)
    torch.testing.assert_close(logits, base, atol=1e-5, rtol=1e-5)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 6, 7) and float(maps[0][1, ..., 4:].max()) == 0.0


def test_gpt_is_unchanged_by_the_cross_attention_path():
    torch.manual_seed(0)
    gpt = GPT(_cfg(positional="rope")).eval()
    idx = torch.randint(0, V, (2, 9))
    causal = torch.tril(torch.ones(9, 9, dtype=torch.bool))
    torch.testing.assert_close(gpt(idx).logits, gpt(idx, attn_mask=causal).logits, atol=1e-5, rtol=1e-5)


def test_left_pad_moves_tokens_right():
    src, mask = _batch(lengths=(3, 1, 2))
    ids, new = left_pad(src, mask)
    assert new.tolist() == [[True] * 3, [False, False, True], [False, True, True]]
    assert ids[1].tolist() == [0, 0, int(src[1, 0])] and ids[2, 1:].tolist() == src[2, :2].tolist()


@pytest.mark.parametrize("prefix_lm", [False, True])
def test_prompted_gpt_rows_compute_what_they_would_alone_and_stay_causal(prefix_lm):
    torch.manual_seed(0)
    m = PromptedGPT(GPT(_cfg(positional="rope")), prefix_lm=prefix_lm).eval()
    src, mask = _batch()
    tgt = torch.randint(3, V, (3, 5))
    base = m(src, mask, tgt)
    alone = m(src[1:2, :4], mask[1:2, :4], tgt[1:2])
    torch.testing.assert_close(base[1:2], alone, atol=1e-5, rtol=1e-5)
    tgt2 = tgt.clone()
    tgt2[:, 2] = (tgt2[:, 2] + 1 - 3) % (V - 3) + 3
    diff = (m(src, mask, tgt2) - base).abs().amax((0, 2))
    assert float(diff[:2].max()) == 0.0 and float(diff[2:].min()) > 1e-6
    with pytest.raises(ValueError, match="relative positions"):
        PromptedGPT(GPT(_cfg(positional="learned")))


def test_prefix_lm_lets_early_source_tokens_see_later_ones():
    torch.manual_seed(0)
    gpt = GPT(_cfg(positional="rope")).eval()
    src, mask = _batch()
    tgt = torch.randint(3, V, (3, 2))
    causal, prefix = PromptedGPT(gpt), PromptedGPT(gpt, prefix_lm=True)
    assert not torch.allclose(causal(src, mask, tgt), prefix(src, mask, tgt))


def test_training_lowers_the_loss_and_ignores_padding_targets():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 8, (64, 4), generator=g)
    mask = torch.ones_like(src, dtype=torch.bool)
    tgt_in = torch.cat([torch.ones(64, 1, dtype=torch.long), src], 1)  # copy task: BOS x -> x EOS
    tgt_out = torch.cat([src, torch.full((64, 1), 2)], 1)
    model = EncoderDecoder(_cfg(vocab_size=8, d_model=16, n_layers=1, n_heads=2))
    with torch.enable_grad():
        losses = train_seq2seq(
            model, (src, mask, tgt_in, tgt_out), Seq2SeqTrainConfig(steps=30, batch_size=16)
        )
    assert len(losses) == 30 and sum(losses[-5:]) < 0.7 * sum(losses[:5])
    padded = tgt_out.clone()
    padded[:, 2:] = -100
    full = seq2seq_loss(model, src, mask, tgt_in, tgt_out)
    part = seq2seq_loss(model, src, mask, tgt_in, padded)
    logits = model(src, mask, tgt_in)[:, :2]
    ref = F.cross_entropy(logits.reshape(-1, 8), tgt_out[:, :2].reshape(-1))
    torch.testing.assert_close(part, ref)
    assert not torch.allclose(full, part)
