"""One transformer block: attention and feed-forward sublayers with residuals and normalization."""

from __future__ import annotations

from torch import Tensor, nn

from llmkb.nn.attention import MultiHeadAttention
from llmkb.nn.config import GPTConfig
from llmkb.nn.ffn import make_ffn
from llmkb.nn.kv_cache import BaseKVCache
from llmkb.nn.norm import make_norm

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
    stably without warm-up; post-norm normalizes the highway itself. With ``config.residual = False`` the
    ``x +`` terms are dropped (an ablation: the block becomes a plain composition of functions).

    Args:
        config: model configuration.
        layer_idx: position of this block in the stack (selects its KV-cache slot).
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.pre = config.norm_position == "pre"
        self.residual = config.residual
        self.norm1 = make_norm(config.norm, config.d_model, config.norm_eps, config.bias)
        self.attn = MultiHeadAttention(config, layer_idx)
        self.norm2 = make_norm(config.norm, config.d_model, config.norm_eps, config.bias)
        self.ffn = make_ffn(config.activation, config.d_model, config.ffn_dim, config.bias, config.dropout)

    def forward(
        self,
        x: Tensor,
        *,
        pos_offset: int = 0,
        rope: tuple[Tensor, Tensor] | None = None,
        kv_cache: BaseKVCache | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``(B, T, d_model) -> ((B, T, d_model), attention weights (B, H, T, S) | None)``."""
        kw = {"pos_offset": pos_offset, "rope": rope, "kv_cache": kv_cache, "return_weights": return_weights}
        if self.pre:
            h, weights = self.attn(self.norm1(x), **kw)
            x = x + h if self.residual else h
            h = self.ffn(self.norm2(x))
            x = x + h if self.residual else h
        else:
            h, weights = self.attn(x, **kw)
            x = self.norm1(x + h if self.residual else h)
            h = self.ffn(x)
            x = self.norm2(x + h if self.residual else h)
        return x, weights
