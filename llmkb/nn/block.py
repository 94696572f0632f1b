"""One transformer block: attention and feed-forward sublayers with residuals and normalization."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmkb.nn.attention import MultiHeadAttention
from llmkb.nn.config import GPTConfig
from llmkb.nn.ffn import FFNS
from llmkb.nn.hooks import NO_HOOKS, Hooks
from llmkb.nn.kv_cache import BaseKVCache
from llmkb.nn.norm import NORMS
from llmkb.nn.positional import PositionalScheme

__all__ = ["TransformerBlock"]


class TransformerBlock(nn.Module):
    """Attention then feed-forward, each wrapped in a residual connection and a normalization.

    Pre-norm (GPT-2, Radford et al. 2019; analysed by Xiong et al. 2020, arXiv 2002.04745)::

        x = x + Attn(Norm1(x))
        x = x + FFN(Norm2(x))

    Post-norm (the original Transformer, Vaswani et al. 2017, arXiv 1706.03762)::

        x = Norm1(x + Attn(x))
        x = Norm2(x + FFN(x))

    Pre-norm keeps an un-normalized residual "highway" from input to output, which is why it trains
    stably without warm-up; post-norm normalizes the highway itself. A ``residual`` hook replaces every
    ``x + h`` (``hooks.no_residual`` drops the ``x +``: the block becomes a plain composition of functions).

    Args:
        config: model configuration.
        layer_idx: position of this block in the stack (selects its KV-cache slot).
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.pre = config.norm_position == "pre"
        norm = NORMS[config.norm]
        self.norm1 = norm(config.d_model, eps=config.norm_eps, bias=config.bias)
        self.attn = MultiHeadAttention(config, layer_idx)
        self.norm2 = norm(config.d_model, eps=config.norm_eps, bias=config.bias)
        ffn = FFNS[config.activation]
        if hasattr(ffn, "from_config"):  # a layer with settings of its own (MoE)
            self.ffn: nn.Module = ffn.from_config(config)
        else:
            self.ffn = ffn(config.d_model, config.ffn_dim, bias=config.bias, dropout=config.dropout)

    def forward(
        self,
        x: Tensor,
        *,
        pos_offset: int = 0,
        positional: PositionalScheme | None = None,
        kv_cache: BaseKVCache | None = None,
        return_weights: bool = False,
        hooks: Hooks = NO_HOOKS,
        attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``(B, T, d_model) -> ((B, T, d_model), attention weights (B, H, T, S) | None)``; the keyword
        arguments are passed to [`MultiHeadAttention`][llmkb.nn.attention.MultiHeadAttention]."""
        add = hooks.residual or torch.add
        kw = {
            "pos_offset": pos_offset,
            "positional": positional,
            "kv_cache": kv_cache,
            "attn_mask": attn_mask,
        }
        if self.pre:
            h, weights = self.attn(self.norm1(x), return_weights=return_weights, hooks=hooks, **kw)
            x = add(x, h)
            x = add(x, self.ffn(self.norm2(x)))
        else:
            h, weights = self.attn(x, return_weights=return_weights, hooks=hooks, **kw)
            x = self.norm1(add(x, h))
            x = self.norm2(add(x, self.ffn(x)))
        return x, weights
