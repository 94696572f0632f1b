"""Sequence-to-sequence transformers: the encoder-decoder and a decoder-only model reading a prompt.

Both map a source ``(B, S)`` (right-padded, ``src_mask`` True at real tokens) and a target prefix ``(B, T)``
that starts with ``BOS`` to next-token logits ``(B, T, V)`` through the same two calls, so training
([`llmkb.train.seq2seq`][llmkb.train.seq2seq]) and decoding ([`llmkb.infer.beam`][llmkb.infer.beam]) treat
them, and the GRU models of [`llmkb.nn.rnn`][llmkb.nn.rnn], alike::

    memory = model.encode(src, src_mask)      # a tuple of tensors, batch first
    logits = model.decode(memory, tgt)        # (B, T, V): logits[:, t] predicts tgt[:, t + 1]

* [`EncoderDecoder`][llmkb.nn.seq2seq.EncoderDecoder] is the layout of Vaswani et al. 2017 ("Attention Is All
  You Need", arXiv 1706.03762), built from the GPT's parts: the encoder is a stack of
  [`TransformerBlock`][llmkb.nn.block.TransformerBlock]s attending in both directions (only the source's padding
  masked), the decoder a stack of [`DecoderBlock`][llmkb.nn.seq2seq.DecoderBlock]s: causal self-attention,
  then cross-attention whose keys and values are the encoder's output, then the feed-forward network.
* [`PromptedGPT`][llmkb.nn.seq2seq.PromptedGPT] is a decoder-only [`GPT`][llmkb.nn.GPT] reading
  ``source BOS target`` as one sequence (the source left-padded): causal, or a prefix LM that reads the source
  in both directions (Raffel et al. 2020, T5, arXiv 1910.10683, section 3.2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmkb.nn.attention import MultiHeadAttention
from llmkb.nn.block import TransformerBlock
from llmkb.nn.config import GPTConfig
from llmkb.nn.ffn import FFNS
from llmkb.nn.model import GPT
from llmkb.nn.norm import NORMS
from llmkb.nn.positional import POSITIONAL, PositionalScheme

__all__ = ["Memory", "DecoderBlock", "EncoderDecoder", "PromptedGPT", "fan_in_init_", "left_pad"]

Memory = tuple[Tensor, ...]
"""What ``encode`` returns and ``decode`` reads: tensors with the batch on axis 0 (beam search reorders them)."""


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention over the encoder output, feed-forward; each with a residual.

    Pre-norm: ``x += SelfAttn(N1(x))``, ``x += CrossAttn(N_x(x), memory)``, ``x += FFN(N2(x))``; post-norm
    normalizes after each addition instead (Vaswani et al. 2017). Cross-attention is
    ``softmax(Q K^T / sqrt(D)) V`` with ``Q`` from the decoder and ``K, V`` from the encoder output.

    Args:
        config: model configuration (widths, norm, FFN, kernel).
        layer_idx: position of this block in the decoder stack.
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.pre = config.norm_position == "pre"
        norm = NORMS[config.norm]
        self.norm1 = norm(config.d_model, eps=config.norm_eps, bias=config.bias)
        self.self_attn = MultiHeadAttention(config, layer_idx)
        self.norm_x = norm(config.d_model, eps=config.norm_eps, bias=config.bias)
        self.cross_attn = MultiHeadAttention(config, layer_idx)
        self.norm2 = norm(config.d_model, eps=config.norm_eps, bias=config.bias)
        self.ffn = FFNS[config.activation](
            config.d_model, config.ffn_dim, bias=config.bias, dropout=config.dropout
        )

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        memory_mask: Tensor,
        *,
        positional: PositionalScheme | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``x (B, T, d)``, ``memory (B, S, d)``, ``memory_mask`` bool ``(B, S)`` -> ``(B, T, d)`` and the
        cross-attention weights ``(B, H, T, S)`` with ``return_weights`` (else ``None``)."""
        keys = memory_mask[:, None, None, :]  # (B, 1, 1, S)
        if self.pre:
            x = x + self.self_attn(self.norm1(x), positional=positional)[0]
            h, w = self.cross_attn(self.norm_x(x), kv=memory, attn_mask=keys, return_weights=return_weights)
            x = x + h
            return x + self.ffn(self.norm2(x)), w
        x = self.norm1(x + self.self_attn(x, positional=positional)[0])
        h, w = self.cross_attn(x, kv=memory, attn_mask=keys, return_weights=return_weights)
        x = self.norm_x(x + h)
        return self.norm2(x + self.ffn(x)), w


class EncoderDecoder(nn.Module):
    """The transformer encoder-decoder (Vaswani et al. 2017, arXiv 1706.03762) from the GPT's blocks.

    ``h = Enc(E[src])`` with bidirectional self-attention over the real source tokens;
    ``logits = Dec(E[tgt], h) W_U`` with causal self-attention and cross-attention to ``h``. Source and target
    share one vocabulary, one embedding and (tied) the output matrix, as in the paper. The positional scheme of
    ``config`` applies to both self-attentions; cross-attention carries no positions.

    Args:
        config: the GPT configuration of both stacks; ``n_layers`` is the depth of each.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.sliding_window is not None or config.attention == "chunked" or config.activation == "moe":
            raise ValueError(
                "EncoderDecoder needs full attention (no sliding window, no chunked kernel), no MoE"
            )
        self.config = config
        d = config.d_model
        self.tok_emb = nn.Embedding(config.vocab_size, d)
        self.pos_emb = POSITIONAL[config.positional].from_config(config)
        self.encoder = nn.ModuleList(TransformerBlock(config, i) for i in range(config.n_layers))
        self.decoder = nn.ModuleList(DecoderBlock(config, i) for i in range(config.n_layers))
        final = NORMS[config.norm] if config.norm_position == "pre" else None
        self.enc_norm = final(d, eps=config.norm_eps, bias=config.bias) if final else nn.Identity()
        self.dec_norm = final(d, eps=config.norm_eps, bias=config.bias) if final else nn.Identity()
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        fan_in_init_(self)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight

    def _embed(self, ids: Tensor) -> Tensor:
        x = self.tok_emb(ids) * self.pos_emb.token_scale  # (B, T, d)
        return self.pos_emb.add_to_embeddings(x, 0)

    def encode(self, src: Tensor, src_mask: Tensor) -> Memory:
        """Encode ``src (B, S)`` (``src_mask`` bool ``(B, S)``, True = real token) to ``(h (B, S, d), mask)``;
        every real token attends to every real token, in both directions."""
        x = self._embed(src)
        keys = src_mask[:, None, None, :]  # (B, 1, 1, S): padding is never a key
        for block in self.encoder:
            x, _ = block(x, positional=self.pos_emb, attn_mask=keys)
        return self.enc_norm(x), src_mask

    def decode(
        self, memory: Memory, tgt: Tensor, *, return_attn: bool = False
    ) -> Tensor | tuple[Tensor, list]:
        """Next-token logits ``(B, T, V)`` for the target prefix ``tgt (B, T)``; with ``return_attn``, also
        each decoder layer's cross-attention weights ``(B, H, T, S)``."""
        h, mask = memory
        x = self._embed(tgt)
        maps = []
        for block in self.decoder:
            x, w = block(x, h, mask, positional=self.pos_emb, return_weights=return_attn)
            maps.append(w)
        logits = self.lm_head(self.dec_norm(x))  # (B, T, V)
        return (logits, maps) if return_attn else logits

    def forward(self, src: Tensor, src_mask: Tensor, tgt: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, V)``: ``decode(encode(src, src_mask), tgt)``."""
        return self.decode(self.encode(src, src_mask), tgt)


@torch.no_grad()
def fan_in_init_(model: nn.Module, token_std: float = 1.0) -> nn.Module:
    """Initialise in place for small widths: every linear weight ``N(0, 1/fan_in)``, biases 0, the token
    embedding ``N(0, token_std^2)``, other embeddings ``N(0, 0.02^2)``.

    GPT-2's fixed ``N(0, 0.02^2)`` suits ``d_model`` in the hundreds; at ``d_model = 48`` it makes the attention
    scores ``q . k`` start ~100 times smaller than ``1/sqrt(fan_in)`` weights would, and cross-attention takes
    hundreds of steps to leave the uniform average (measured on the tasks of
    [`llmkb.data.seq2seq_tasks`][llmkb.data.seq2seq_tasks]). The scale ``1/sqrt(fan_in)`` keeps each output
    at the size of its inputs (LeCun et al. 1998).

    Args:
        model: a transformer (its token embedding is the attribute ``tok_emb`` when present).
        token_std: standard deviation of the token embedding.

    Returns:
        ``model``.
    """
    tok = getattr(model, "tok_emb", None)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=module.in_features**-0.5)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=token_std if module is tok else 0.02)
    return model


def left_pad(ids: Tensor, mask: Tensor, pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Move each row's real tokens (``mask`` True, a prefix of the row) to the right end of the row.

    Args:
        ids: ``(B, S)`` right-padded token ids.
        mask: bool ``(B, S)``, True at the real tokens.
        pad_id: the id written into the padding.

    Returns:
        ``(ids (B, S), mask (B, S))`` left-padded.
    """
    B, S = ids.shape
    shift = S - mask.sum(1)  # (B,) padding per row
    src_col = (torch.arange(S, device=ids.device)[None, :] - shift[:, None]) % S  # (B, S)
    out = ids.gather(1, src_col)
    new_mask = torch.arange(S, device=ids.device)[None, :] >= shift[:, None]  # (B, S)
    return out.masked_fill(~new_mask, pad_id), new_mask


class PromptedGPT(nn.Module):
    """A decoder-only [`GPT`][llmkb.nn.GPT] doing a sequence-to-sequence task: ``source BOS target``.

    The source is left-padded so every row's target starts at the same column; padding is never a key (each
    padding query attends to itself only), so with relative positions (RoPE) a row computes exactly what it
    would alone. Causal: the source is read left to right, like any prompt. ``prefix_lm=True``: the source
    positions see each other in both directions, an encoder and a decoder sharing one stack (T5's prefix LM,
    Raffel et al. 2020, arXiv 1910.10683).

    Args:
        gpt: the language model (RoPE, ALiBi or no positions, for padding invariance).
        prefix_lm: bidirectional attention over the source.
        pad_id: the padding token id.
    """

    def __init__(self, gpt: GPT, *, prefix_lm: bool = False, pad_id: int = 0) -> None:
        super().__init__()
        if gpt.config.positional in ("learned", "sinusoidal"):
            raise ValueError(
                "PromptedGPT needs relative positions (rope, alibi or none): it left-pads prompts"
            )
        self.gpt, self.prefix_lm, self.pad_id = gpt, prefix_lm, pad_id

    def encode(self, src: Tensor, src_mask: Tensor) -> Memory:
        """The left-padded source and its mask (the "encoding" is the prompt itself)."""
        return left_pad(src, src_mask, self.pad_id)

    def decode(self, memory: Memory, tgt: Tensor, *, return_attn: bool = False) -> Tensor:
        """Logits ``(B, T, V)`` at the target positions of ``source BOS target``."""
        src, mask = memory
        B, S = src.shape
        T = tgt.shape[1]
        ids = torch.cat([src, tgt], dim=1)  # (B, S+T)
        real = torch.cat([mask, torch.ones_like(tgt, dtype=torch.bool)], dim=1)  # (B, S+T)
        i = torch.arange(S + T, device=src.device)
        allowed = i[None, :] <= i[:, None]  # (S+T, S+T) causal
        if self.prefix_lm:
            allowed = allowed | (i[None, :] < S)  # the source sees the whole source
        attn = (allowed[None] & real[:, None, :]) | torch.eye(S + T, dtype=torch.bool, device=src.device)
        logits = self.gpt(ids, attn_mask=attn[:, None]).logits  # (B, S+T, V)
        return logits[:, S:]

    def forward(self, src: Tensor, src_mask: Tensor, tgt: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, V)`` at the target positions."""
        return self.decode(self.encode(src, src_mask), tgt)
