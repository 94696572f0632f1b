"""A compiled decode path: one fixed-shape step on a static KV cache, ``torch.compile``d once.

With a KV cache each decoding step does little arithmetic — for a small model a few hundred thousand
multiply-adds — but eager PyTorch still pays a fixed cost per operation (Python, dispatch, a kernel launch or
an allocation): a step of a 4-layer model runs some two hundred small operators, and at that size the
per-call overhead, not the arithmetic, sets the speed. Two changes remove it:

1. **Fixed shapes.** The cache is pre-allocated, ``(L, B, H_kv, M, D)``, and every step attends over all
   ``M`` slots: a slot not yet written sits at a key position after the query's, so the causal mask
   (``key_pos <= query_pos``) hides it. The step's inputs are tensors (token ids, positions) and its shapes
   never change, so one compiled graph serves every step, with no recompilation and no Python ``int`` for
   the position ([`llmkb.infer.graph`][llmkb.infer.graph]).
2. **Compilation.** ``torch.compile`` (TorchInductor; C++/OpenMP kernels on the CPU) fuses the step's
   elementwise chains (RoPE, norms, SiLU gate, masking, softmax) into a few loops around the matrix
   products and replaces the Python of the forward by one call.

Attending to all ``M`` slots costs ``O(M)`` per token instead of ``O(t)``; at these sizes that is far less
than the overhead saved. The prompt is processed eagerly by the same graph (one call, not worth a
compilation of its own shape). The tokens equal ``GPT.generate``'s (tested, greedy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from llmkb.infer.graph import CacheView, block_step, check_graphable, embed, norm, rope_tables
from llmkb.infer.sampling import SamplingConfig, sample_next
from llmkb.nn import GPT
from llmkb.nn.positional import ALiBi, apply_rotary

__all__ = ["StaticDecoder", "compiled_generate"]


def _cat_linear(*layers: torch.nn.Linear) -> tuple[Tensor, Tensor | None]:
    """Weights (and biases) of linear layers on the same input stacked along the output: one product."""
    weight = torch.cat([lin.weight for lin in layers]).contiguous()  # (sum out, in)
    biases = [lin.bias for lin in layers]
    return weight, None if biases[0] is None else torch.cat(biases)  # type: ignore[arg-type]


class StaticDecoder:
    """Prefill + fixed-shape decode steps for ``model`` on a static cache of ``max_len`` positions.

    Args:
        model: the model (put in eval mode; its weights are read, not copied).
        batch_size: ``B``.
        max_len: ``M``, prompt + new tokens (at most ``max_seq_len`` for learned positions or RoPE tables).
        compile: ``torch.compile`` the decode step (``False``: the same graph, eager).

    Attributes:
        compile_seconds: time of the first compiled step (compilation + one step), ``0.0`` before it.
        warm: the decode step has run once (compiled, when compiling).
    """

    def __init__(self, model: GPT, batch_size: int, max_len: int, compile: bool = True) -> None:
        check_graphable(model)
        cfg = model.config
        if max_len > cfg.max_seq_len and cfg.positional in (
            "learned",
            "sinusoidal",
            "rope",
            "rope-pi",
            "rope-ntk",
        ):
            raise ValueError(
                f"max_len={max_len} exceeds the {cfg.max_seq_len} positions of the model's tables"
            )
        if isinstance(model.pos_emb, ALiBi):
            raise ValueError("the static decoder has no ALiBi score bias; use GPT.generate")
        if cfg.sliding_window is not None:
            raise ValueError("the static decoder keeps every position; use GPT.generate for sliding windows")
        self.model = model.eval()
        p = model.tok_emb.weight
        shape = (cfg.n_layers, batch_size, cfg.kv_heads, max_len, cfg.head_dim)  # (L, B, H_kv, M, D)
        self.k = torch.zeros(shape, dtype=p.dtype, device=p.device)
        self.v = torch.zeros(shape, dtype=p.dtype, device=p.device)
        self.key_pos = torch.arange(max_len, device=p.device)  # (M,)
        self.max_len = max_len
        self.compiled = compile
        with torch.no_grad():  # one matrix product for q, k, v and one for a gated FFN's gate and up
            self.w_qkv = [_cat_linear(b.attn.q_proj, b.attn.k_proj, b.attn.v_proj) for b in model.blocks]
            self.w_in = [
                _cat_linear(b.ffn.gate, b.ffn.up) if hasattr(b.ffn, "gate") else None for b in model.blocks
            ]
        self._decode: Callable[..., tuple[Tensor, Tensor, Tensor]] = (
            torch.compile(self.step, dynamic=False, fullgraph=True) if compile else self.step
        )
        self.compile_seconds = 0.0
        self.warm = not compile

    def forward(self, ids: Tensor, positions: Tensor, k_cache: Tensor, v_cache: Tensor) -> Tensor:
        """Write ``ids`` ``(B, T)`` at ``positions`` ``(T,)`` into the caches, return the last logits ``(B, V)``
        (the prefill; eager, in place)."""
        model = self.model
        x = embed(model, ids, positions)  # (B, T, d)
        rope = rope_tables(model, positions)
        for layer, block in enumerate(model.blocks):

            def store(k: Tensor, v: Tensor, layer: int = layer) -> CacheView:
                k_cache[layer].index_copy_(2, positions, k)  # (B, H_kv, M, D), in place
                v_cache[layer].index_copy_(2, positions, v)
                return k_cache[layer], v_cache[layer], self.key_pos, positions, None

            x, _, _ = block_step(model, block, x, rope, store)
        return model.lm_head(norm(model, model.norm_f, x[:, -1]))  # (B, V)

    def step(
        self, ids: Tensor, pos: Tensor, k_cache: Tensor, v_cache: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One decode step that reads the caches and writes nothing (what gets compiled).

        Attention of the new query over the cached slots ``key_pos < pos`` and over its own key, without
        concatenating (a concat or an in-place write would copy the whole cache in a functional graph):

            s_c = q K_c^T / sqrt(D) (masked),   s_n = q . k / sqrt(D),   [p_c, p_n] = softmax([s_c, s_n])
            out = p_c V_c + p_n v

        Args:
            ids: ``(B, 1)`` the last token.
            pos: ``(1,)`` its position.
            k_cache: ``(L, B, H_kv, M, D)`` keys.
            v_cache: ``(L, B, H_kv, M, D)`` values.

        Returns:
            ``(logits (B, V), k_new (L, B, H_kv, 1, D), v_new)``; the caller stores ``k_new, v_new`` at ``pos``.
        """
        model, cfg = self.model, self.model.config
        B, G = ids.shape[0], cfg.n_heads // cfg.kv_heads
        x = embed(model, ids, pos)  # (B, 1, d)
        rope = rope_tables(model, pos)
        cached = (self.key_pos < pos)[None, None, None, :]  # (1, 1, 1, M)
        ks, vs = [], []
        for layer, block in enumerate(model.blocks):
            kc, vc = k_cache[layer], v_cache[layer]  # (B, H_kv, M, D)

            h = norm(model, block.norm1, x) if block.pre else x
            attn = block.attn
            q = attn.q_proj(h).view(
                B, cfg.kv_heads, G, cfg.head_dim
            )  # (B, H_kv, G, D): the G heads of a group
            k = attn.k_proj(h).view(B, cfg.kv_heads, 1, cfg.head_dim)  # (B, H_kv, 1, D)
            v = attn.v_proj(h).view(B, cfg.kv_heads, 1, cfg.head_dim)
            if rope is not None:
                cos, sin = rope[0].to(q.dtype), rope[1].to(q.dtype)  # (1, D)
                q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            ks.append(k)
            vs.append(v)
            scale = 1.0 / math.sqrt(cfg.head_dim)
            s_c = (q @ kc.transpose(-2, -1)) * scale  # (B, H_kv, G, M)
            s_c = s_c.masked_fill(~cached[0], float("-inf"))
            s_n = (q * k).sum(dim=-1, keepdim=True) * scale  # (B, H_kv, G, 1)
            p = torch.softmax(torch.cat((s_c, s_n), dim=-1), dim=-1)  # (B, H_kv, G, M + 1)
            y = p[..., :-1] @ vc + p[..., -1:] * v  # (B, H_kv, G, D)
            y = attn.o_proj(y.reshape(B, 1, cfg.n_heads * cfg.head_dim))  # (B, 1, d)
            if block.pre:
                x = x + y
                x = x + self._ffn(layer, block, norm(model, block.norm2, x))
            else:
                x = norm(model, block.norm1, x + y)
                x = norm(model, block.norm2, x + self._ffn(layer, block, x))
        logits = model.lm_head(norm(model, model.norm_f, x[:, -1]))  # (B, V)
        return logits, torch.stack(ks), torch.stack(vs)

    def _ffn(self, layer: int, block: torch.nn.Module, h: Tensor) -> Tensor:
        """The block's FFN; a gated one (SwiGLU, GeGLU) with its gate and up projections as one product."""
        fused = self.w_in[layer]
        if fused is None:
            return block.ffn(h)
        gate, up = F.linear(h, *fused).chunk(2, dim=-1)  # (B, 1, f) each
        return block.ffn.down(block.ffn.gate_activation(gate) * up)

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
        stamps: list[float] | None = None,
    ) -> Tensor:
        """Extend ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens (greedy by default): ``(B, T + n)``.

        ``stamps``, if given, receives ``time.perf_counter()`` as each new token is appended.
        """
        sampling = sampling or SamplingConfig(temperature=0.0)
        B, T = idx.shape
        if T + max_new_tokens - 1 > self.max_len or B != self.k.shape[1]:
            raise ValueError(f"need batch {self.k.shape[1]} and prompt + new tokens - 1 <= {self.max_len}")
        out = torch.empty((B, T + max_new_tokens), dtype=torch.long, device=idx.device)
        out[:, :T] = idx
        if max_new_tokens == 0:
            return out
        logits = self.forward(idx, torch.arange(T, device=idx.device), self.k, self.v)  # (B, V) eager prefill
        pos = torch.tensor([T], device=idx.device)
        for step in range(max_new_tokens):
            if sampling.greedy:
                nxt = logits.argmax(dim=-1)  # (B,)
            else:
                nxt = sample_next(logits, sampling, history=out[:, : T + step], generator=generator)
            out[:, T + step] = nxt
            if stamps is not None:
                stamps.append(time.perf_counter())
            if step == max_new_tokens - 1:
                break
            t0 = time.perf_counter()
            logits, k_new, v_new = self._decode(
                nxt[:, None], pos, self.k, self.v
            )  # (B, V), (L, B, H_kv, 1, D)
            self.k.index_copy_(3, pos, k_new)
            self.v.index_copy_(3, pos, v_new)
            if not self.warm:
                self.compile_seconds, self.warm = time.perf_counter() - t0, True
            pos += 1
        return out


def compiled_generate(model: GPT, idx: Tensor, max_new_tokens: int, compile: bool = True) -> Tensor:
    """Greedy ``max_new_tokens`` continuation of ``idx`` with a fresh [`StaticDecoder`][llmkb.infer.compiled.StaticDecoder]
    (compiles on first use; keep a decoder to reuse the compiled step)."""
    return StaticDecoder(model, idx.shape[0], idx.shape[1] + max_new_tokens, compile).generate(
        idx, max_new_tokens
    )
