"""What a block's weights mean: the QK circuit, relabelings of the weights, and where the parameters live.

For one head with query/key projections ``W_Q, W_K`` (``D x d``), query/key biases ``b_Q, b_K`` and RoPE rotations
``R_p`` (the identity without RoPE), the score of query position ``m`` for key position ``n <= m`` is

``s_mn = (R_m (W_Q x_m + b_Q))^T R_n (W_K x_n + b_K) / sqrt(D)``
``     = [x_m^T W_Q^T R_(n-m) W_K x_n + b_Q^T R_(n-m) W_K x_n + (terms with b_K)] / sqrt(D)``

since ``R_m^T R_n = R_(n-m)`` (Su et al. 2021, arXiv 2104.09864). Without rotation the ``b_K`` terms,
``(W_Q x_m + b_Q)^T b_K``, do not depend on ``n`` and cancel in the softmax; so attention reads ``W_Q, W_K`` only
through the bilinear form ``W_Q^T W_K`` and the vector ``W_K^T b_Q`` (Elhage et al. 2021, "A Mathematical
Framework for Transformer Circuits"). With RoPE and no biases it reads them through ``W_Q^T R_(n-m) W_K``, one
form per distance. [`circuit_weights`][llmkb.lab.topics.transformer_block.analysis_circuits.circuit_weights]
computes the weights from these forms alone, to be compared with the model's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from llmkb.nn import GPT, GPTConfig, RotaryEmbedding, apply_rotary

__all__ = [
    "attention_inputs",
    "rotation_matrix",
    "circuit_weights",
    "circuit_errors",
    "relabeled",
    "first_token_influence",
    "uniform_gap",
    "parameter_parts",
    "llama_parameter_formula",
]


@torch.no_grad()
def attention_inputs(model: GPT, idx: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Each layer's attention input ``x`` ``(B, T, d)`` (after the norm) and weights ``(B, H, T, T)``, from one
    forward pass; the inputs are recorded by a ``qkv`` hook that returns q, k, v unchanged."""
    seen: list[Tensor] = []

    def record(q: Tensor, k: Tensor, v: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        seen.append(x.detach().clone())
        return q, k, v

    with model.hooks(qkv=record):
        weights = model(idx, return_attn=True).attn
    assert weights is not None
    return seen, weights


def rotation_matrix(model: GPT, delta: int) -> Tensor:
    """The model's RoPE rotation ``R_delta`` of a head vector as a ``(D, D)`` matrix (identity without RoPE).

    Built by rotating the unit vectors with the model's own tables: ``apply_rotary(I, cos, sin)`` has the
    rotated ``e_j`` as row ``j``, i.e. it is ``R_delta^T``.
    """
    D = model.config.head_dim
    eye = torch.eye(D)
    if not isinstance(model.pos_emb, RotaryEmbedding):
        return eye
    cos, sin = model.pos_emb(torch.tensor([delta]))  # (1, D) each
    return apply_rotary(eye, cos, sin).T  # (D, D)


@torch.no_grad()
def circuit_weights(
    model: GPT, layer: int, x: Tensor, *, rotate: bool = True, query_bias: bool = True
) -> Tensor:
    """Causal attention weights of every head of ``layer`` from the QK circuit alone (module docstring).

    ``s_mn = [x_m^T (W_Q^T R_(n-m) W_K) x_n + (b_Q^T R_(n-m) W_K) x_n] / sqrt(D)``, ``w_m = softmax_{n<=m}(s_m)``.
    ``b_K`` does not appear: the result equals the model's weights when ``b_K`` is zero or there is no rotation.

    Args:
        model: the model (RoPE or an additive positional scheme; ALiBi's score bias is not modelled).
        layer: the block index.
        x: ``(T, d)`` the layer's attention input for one sequence (see ``attention_inputs``).
        rotate: use the rotations; ``False`` pretends that ``W_Q^T W_K`` were the whole story.
        query_bias: keep the ``b_Q`` term.

    Returns:
        ``(H, T, T)`` weights, zero above the diagonal.

    Raises:
        ValueError: the model adds a score bias (ALiBi).
    """
    if model.config.positional == "alibi":
        raise ValueError("circuit_weights does not model ALiBi's score bias")
    attn = model.blocks[layer].attn
    H, G, D = attn.n_heads, attn.n_kv_heads, attn.head_dim
    T, d = x.shape
    w_q = attn.q_proj.weight.view(H, D, d)  # (H, D, d)
    w_k = attn.k_proj.weight.view(G, D, d).repeat_interleave(H // G, dim=0)  # (H, D, d)
    b_q = (
        attn.q_proj.bias.view(H, 1, D)
        if query_bias and attn.q_proj.bias is not None
        else x.new_zeros(H, 1, D)
    )
    scores = x.new_full((H, T, T), float("-inf"))
    for delta in range(T):  # the key n = m - delta sits delta positions before the query m
        r = rotation_matrix(model, delta).T if rotate else torch.eye(D)  # R_(n-m) = R_delta^T, (D, D)
        form = w_q.transpose(1, 2) @ r @ w_k  # W_Q^T R_(n-m) W_K, (H, d, d)
        key_term = (b_q @ r @ w_k).squeeze(1)  # b_Q^T R_(n-m) W_K, (H, d)
        m = torch.arange(delta, T)
        xm, xn = x[m], x[m - delta]  # (T - delta, d)
        s = torch.einsum("td,hde,te->ht", xm, form, xn) + key_term @ xn.T  # (H, T - delta)
        scores[:, m, m - delta] = s / math.sqrt(D)
    return torch.softmax(scores, dim=-1)  # (H, T, T)


def circuit_errors(model: GPT, idx: Tensor) -> dict[str, float]:
    """How well the circuit form reproduces the model's attention weights on ``idx`` ``(1, T)``.

    Returns:
        ``{"exact": max |w - w_circuit|}`` over layers, heads and positions, plus ``"without_query_bias"``
        (the ``b_Q`` term left out) when the model has biases and ``"without_rotation"`` (``W_Q^T W_K`` in place
        of ``W_Q^T R_(n-m) W_K``) when it has RoPE.
    """
    xs, ws = attention_inputs(model, idx)

    def gap(**kw: bool) -> float:
        return max(
            float((circuit_weights(model, i, x[0], **kw) - w[0]).abs().max())
            for i, (x, w) in enumerate(zip(xs, ws, strict=True))
        )

    out = {"exact": gap()}
    if model.config.bias:
        out["without_query_bias"] = gap(query_bias=False)
    if isinstance(model.pos_emb, RotaryEmbedding):
        out["without_rotation"] = gap(rotate=False)
    return out


def relabeled(model: GPT, operation: str) -> GPT:
    """A plain copy of ``model`` whose weights are relabeled so that it computes what ``model`` computes under
    the hooks of ``operation``: ``swap_qk`` swaps ``W_Q, b_Q`` with ``W_K, b_K``; ``shuffle_heads`` (head ``h``
    moved to slot ``h + 1``) moves each column block of ``W_O`` back by one head.

    Raises:
        ValueError: ``operation`` is not a relabeling.
    """
    state = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = model.config
    for i in range(cfg.n_layers):
        pre = f"blocks.{i}.attn."
        if operation == "swap_qk":
            for part in ("weight", "bias") if cfg.bias else ("weight",):
                q, k = f"{pre}q_proj.{part}", f"{pre}k_proj.{part}"
                state[q], state[k] = state[k], state[q]
        elif operation == "shuffle_heads":
            w = state[f"{pre}o_proj.weight"]  # (d, H D)
            blocks = w.view(w.shape[0], cfg.n_heads, cfg.head_dim)  # (d, H, D)
            state[f"{pre}o_proj.weight"] = torch.roll(blocks, shifts=-1, dims=1).reshape(w.shape)
        else:
            raise ValueError(f"{operation!r} is not a relabeling; choose swap_qk or shuffle_heads")
    twin = GPT(cfg).eval()
    twin.load_state_dict(state)
    return twin


@torch.no_grad()
def first_token_influence(model: GPT, idx: Tensor) -> float:
    """Largest change of any later position's logits when the first token of ``idx`` ``(B, T)`` changes
    (under the hooks in force): 0 when no information moves between positions."""
    other = idx.clone()
    other[:, 0] = (idx[:, 0] + 1) % model.config.vocab_size
    return float((model(idx).logits[:, 1:] - model(other).logits[:, 1:]).abs().max())


def uniform_gap(weights: Sequence[Tensor]) -> float:
    """Largest ``|w_mn - 1/(m+1)|`` over layers, heads and allowed ``n <= m``: 0 for attention that averages
    the prefix uniformly. ``weights``: per layer ``(B, H, T, T)``."""
    gap = 0.0
    for w in weights:
        T = w.shape[-1]
        uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # (T, T)
        gap = max(gap, float((w - uniform).abs().max()))
    return gap


def parameter_parts(config: GPTConfig) -> dict[str, int]:
    """Parameters of ``GPT(config)`` by part, counted from the built model (a tied LM head counted once, under
    the token embedding). Keys: ``token embedding``, ``positional table``, ``attention``, ``feed-forward``,
    ``block norms``, ``final norm``, ``LM head``."""
    parts = dict.fromkeys(
        (
            "token embedding",
            "positional table",
            "attention",
            "feed-forward",
            "block norms",
            "final norm",
            "LM head",
        ),
        0,
    )
    where = {
        "tok_emb": "token embedding",
        "pos_emb": "positional table",
        "norm_f": "final norm",
        "lm_head": "LM head",
    }
    for name, p in GPT(config).named_parameters():  # shared tensors appear once
        head, _, rest = name.partition(".")
        if head == "blocks":
            sub = rest.split(".")[1]
            key = {"attn": "attention", "ffn": "feed-forward"}.get(sub, "block norms")
        else:
            key = where[head]
        parts[key] += p.numel()
    return parts


def llama_parameter_formula(config: GPTConfig) -> dict[str, int]:
    """The parts of ``parameter_parts`` in closed form for a Llama-style config (RoPE, RMSNorm, SwiGLU, no
    biases, tied head): with ``h = d / H`` and ``G`` key/value heads, per block attention ``2 d H h + 2 d G h``,
    SwiGLU ``3 d f``, two RMSNorm gains ``2 d``; plus ``V d`` tokens and a final gain ``d``:

    ``N = V d + L (2 d H h + 2 d G h + 3 d f + 2 d) + d``.

    Raises:
        ValueError: the config is not Llama-style.
    """
    want = {"positional": "rope", "norm": "rmsnorm", "activation": "swiglu", "bias": False}
    want |= {"norm_position": "pre", "tie_embeddings": True}
    off = {k: getattr(config, k) for k, v in want.items() if getattr(config, k) != v}
    if off:
        raise ValueError(f"not a Llama-style config: {off}")
    d, L, V, f = config.d_model, config.n_layers, config.vocab_size, config.ffn_dim
    H, G, h = config.n_heads, config.kv_heads, config.head_dim
    return {
        "token embedding": V * d,
        "positional table": 0,
        "attention": L * (2 * d * H * h + 2 * d * G * h),
        "feed-forward": L * 3 * d * f,
        "block norms": L * 2 * d,
        "final norm": d,
        "LM head": 0,
    }
