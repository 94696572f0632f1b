"""``llmkb.nn.block.TransformerBlock``, the module of the transformer-block page.

``tests/test_nn.py`` already checks the residual switch against the block's own sub-modules. Here the block
is checked against things that do not share its code: a computation written with raw weight tensors and
elementary tensor ops, a block assembled from separately built ``llmkb.nn`` parts, PyTorch's own
``nn.TransformerEncoderLayer`` (ground truth for both norm placements), Hugging Face's ``LlamaForCausalLM``
(ground truth for the Llama-style ``shared`` preset), and the per-block parameter-count closed form.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import Tensor, nn

from llmkb.nn import (
    GPTConfig,
    Hooks,
    LayerNorm,
    MultiHeadAttention,
    RMSNorm,
    TransformerBlock,
    count_parameters,
    no_residual,
)
from llmkb.nn.ffn import FFNS

D, H, T = 16, 4, 7


def _cfg(**kw: object) -> GPTConfig:
    base = {
        "vocab_size": 11,
        "d_model": D,
        "n_layers": 1,
        "n_heads": H,
        "max_seq_len": 16,
        "positional": "none",
    }
    return GPTConfig(**{**base, **kw})  # type: ignore[arg-type]


def _block(cfg: GPTConfig, seed: int = 0) -> TransformerBlock:
    """A block whose every parameter (norm gains and biases included) is random, so no term is trivial."""
    torch.manual_seed(seed)
    block = TransformerBlock(cfg).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.5) + (1.0 if p.dim() == 1 else 0.0))
    return block


# ------------------------------------------------------------------------------ a by-hand reference
def _linear(x: Tensor, layer: nn.Linear) -> Tensor:
    y = x @ layer.weight.T
    return y + layer.bias if layer.bias is not None else y


def _norm(x: Tensor, module: nn.Module, kind: str, eps: float) -> Tensor:
    if kind == "layernorm":
        mu = x.mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps)
    else:
        y = x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps)
    y = y * module.weight
    bias = getattr(module, "bias", None)
    return y + bias if bias is not None else y


def _attention(x: Tensor, attn: MultiHeadAttention) -> Tensor:
    B, T_, _ = x.shape
    hd = D // H

    def heads(t: Tensor) -> Tensor:
        return t.reshape(B, T_, H, hd).permute(0, 2, 1, 3)  # (B, H, T, hd)

    q, k, v = (heads(_linear(x, p)) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)  # (B, H, T, T)
    future = torch.triu(torch.ones(T_, T_, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    out = (weights @ v).permute(0, 2, 1, 3).reshape(B, T_, D)  # (B, T, d)
    return _linear(out, attn.o_proj)


def _ffn(x: Tensor, ffn: nn.Module, activation: str) -> Tensor:
    if activation == "swiglu":
        gate = _linear(x, ffn.gate)
        return _linear(gate * torch.sigmoid(gate) * _linear(x, ffn.up), ffn.down)
    u = _linear(x, ffn.up)
    if activation == "relu":
        a = torch.clamp(u, min=0)
    else:  # GELU, tanh approximation
        a = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))
    return _linear(a, ffn.down)


def _by_hand(block: TransformerBlock, cfg: GPTConfig, x: Tensor, residual: bool = True) -> Tensor:
    """The block's equations from the weights alone (no call into llmkb.nn code)."""

    def n1(t: Tensor) -> Tensor:
        return _norm(t, block.norm1, cfg.norm, cfg.norm_eps)

    def n2(t: Tensor) -> Tensor:
        return _norm(t, block.norm2, cfg.norm, cfg.norm_eps)

    def attn(t: Tensor) -> Tensor:
        return _attention(t, block.attn)

    def ffn(t: Tensor) -> Tensor:
        return _ffn(t, block.ffn, cfg.activation)

    r = 1.0 if residual else 0.0
    if cfg.norm_position == "pre":
        h = r * x + attn(n1(x))
        return r * h + ffn(n2(h))
    h = n1(r * x + attn(x))
    return n2(r * h + ffn(h))


VARIANTS = [
    {"norm_position": "pre"},
    {"norm_position": "post"},
    {"norm_position": "pre", "residual": False},
    {"norm_position": "post", "residual": False},
    {"norm_position": "pre", "norm": "rmsnorm", "activation": "swiglu", "bias": False},
    {"norm_position": "post", "norm": "rmsnorm", "activation": "relu"},
]


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_block_equals_the_equations_written_by_hand(kw: dict[str, object]) -> None:
    kw = dict(kw)
    residual = bool(kw.pop("residual", True))  # not a config field: the residual hook
    cfg = _cfg(**kw)
    block = _block(cfg)
    x = torch.randn(3, T, D, generator=torch.Generator().manual_seed(1))
    hooks = Hooks() if residual else Hooks(residual=no_residual)
    with torch.no_grad():
        y, _ = block(x, hooks=hooks)
        torch.testing.assert_close(y, _by_hand(block, cfg, x, residual), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_block_assembled_from_separate_parts_matches(norm_position: str) -> None:
    cfg = _cfg(norm_position=norm_position)
    block = _block(cfg)
    torch.manual_seed(5)  # different initial weights in the parts, then the block's are copied in
    ln1, attn, ln2 = LayerNorm(D), MultiHeadAttention(cfg), LayerNorm(D)
    ffn = FFNS[cfg.activation](D, cfg.ffn_dim, bias=cfg.bias)
    for part, name in ((ln1, "norm1"), (attn, "attn"), (ln2, "norm2"), (ffn, "ffn")):
        assert not all(
            torch.equal(a, b)
            for a, b in zip(
                part.state_dict().values(), getattr(block, name).state_dict().values(), strict=True
            )
        )
        part.load_state_dict(getattr(block, name).state_dict())
    x = torch.randn(2, T, D)
    with torch.no_grad():
        if norm_position == "pre":
            h = x + attn(ln1(x))[0]
            y = h + ffn(ln2(h))
        else:
            h = ln1(x + attn(x)[0])
            y = ln2(h + ffn(h))
        torch.testing.assert_close(block(x)[0], y)


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_block_equals_torch_transformer_encoder_layer(norm_position: str) -> None:
    """PyTorch's layer is the ground truth for both placements (ReLU MLP, causal mask, no dropout)."""
    cfg = _cfg(norm_position=norm_position, activation="relu")
    block = _block(cfg)
    ref = nn.TransformerEncoderLayer(
        D,
        H,
        dim_feedforward=cfg.ffn_dim,
        dropout=0.0,
        activation="relu",
        layer_norm_eps=cfg.norm_eps,
        batch_first=True,
        norm_first=norm_position == "pre",
    ).eval()
    a = block.attn
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
        ref.self_attn.out_proj.weight.copy_(a.o_proj.weight)
        ref.self_attn.out_proj.bias.copy_(a.o_proj.bias)
        for mine, theirs in (
            (block.ffn.up, ref.linear1),
            (block.ffn.down, ref.linear2),
            (block.norm1, ref.norm1),
            (block.norm2, ref.norm2),
        ):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
        x = torch.randn(2, T, D)
        mask = nn.Transformer.generate_square_subsequent_mask(T)
        torch.testing.assert_close(block(x)[0], ref(x, src_mask=mask, is_causal=True), atol=2e-5, rtol=1e-5)


def test_pre_norm_block_with_silent_branches_is_the_identity_post_norm_is_not() -> None:
    """Zero the two output projections: pre-norm passes ``x`` through untouched (the residual highway);
    post-norm still normalizes it, so every position comes out with mean 0 and variance 1."""
    x = 3.0 + 2.0 * torch.randn(2, T, D)
    outs = {}
    for pos in ("pre", "post"):
        torch.manual_seed(0)
        block = TransformerBlock(_cfg(norm_position=pos)).eval()
        with torch.no_grad():
            for layer in (block.attn.o_proj, block.ffn.down):
                layer.weight.zero_()
                layer.bias.zero_()
            outs[pos] = block(x)[0]
    torch.testing.assert_close(outs["pre"], x)
    post = outs["post"]
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, T), atol=1e-5, rtol=0)
    torch.testing.assert_close(post.var(-1, unbiased=False), torch.ones(2, T), atol=1e-3, rtol=0)


def _block_formula(cfg: GPTConfig) -> int:
    """Parameters of one block, written from the shapes: attention, feed-forward, two norms."""
    d, f, b, kv = cfg.d_model, cfg.ffn_dim, int(cfg.bias), cfg.kv_heads * cfg.head_dim
    attention = 2 * d * d + 2 * d * kv + b * (2 * d + 2 * kv)
    ffn = (3 * d * f + b * (2 * f + d)) if cfg.activation == "swiglu" else (2 * d * f + b * (f + d))
    norms = 2 * (d + (b * d if cfg.norm == "layernorm" else 0))
    return attention + ffn + norms


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"norm_position": "post"},
        {"activation": "swiglu", "norm": "rmsnorm", "bias": False},
        {"n_kv_heads": 2},
        {"d_ff": 24, "activation": "relu"},
    ],
)
def test_block_parameter_count_closed_form(kw: dict[str, object]) -> None:
    cfg = _cfg(**kw)
    n = sum(p.numel() for p in TransformerBlock(cfg).parameters())
    assert n == _block_formula(cfg)
    # and adding one block to a model adds exactly one block's worth to count_parameters
    deeper = dataclasses.replace(cfg, n_layers=cfg.n_layers + 1)
    assert count_parameters(deeper) - count_parameters(cfg) == n


def test_classic_block_is_12_d_squared_plus_13_d() -> None:
    """GPT-2 style block (LayerNorm with bias, GELU MLP with ``f = 4 d``): ``12 d^2 + 13 d``."""
    for d in (16, 64, 768):
        cfg = GPTConfig(d_model=d, n_heads=4, n_layers=1)
        assert _block_formula(cfg) == 12 * d * d + 13 * d
    cfg = _cfg()
    assert sum(p.numel() for p in TransformerBlock(cfg).parameters()) == 12 * D * D + 13 * D


def test_block_is_causal_and_returns_row_stochastic_weights() -> None:
    cfg = _cfg()
    block = _block(cfg)
    x = torch.randn(1, T, D)
    with torch.no_grad():
        y, w = block(x, return_weights=True)
        assert w is not None and w.shape == (1, H, T, T)
        torch.testing.assert_close(w.sum(-1), torch.ones(1, H, T))
        assert torch.all(w.triu(diagonal=1) == 0)
        x2 = x.clone()
        x2[:, -1] += 1.0  # change the last token only
        y2, _ = block(x2)
    torch.testing.assert_close(y2[:, :-1], y[:, :-1])
    assert not torch.allclose(y2[:, -1], y[:, -1])


def test_norm_layers_follow_the_config() -> None:
    ln = TransformerBlock(_cfg(norm="layernorm"))
    rms = TransformerBlock(_cfg(norm="rmsnorm"))
    no_bias = TransformerBlock(_cfg(norm="layernorm", bias=False))
    assert isinstance(ln.norm1, LayerNorm) and ln.norm1.bias is not None
    assert isinstance(rms.norm1, RMSNorm) and isinstance(rms.norm2, RMSNorm)
    assert isinstance(no_bias.norm2, LayerNorm) and no_bias.norm2.bias is None


@pytest.mark.parametrize("n_kv_heads", [None, 2])
def test_shared_preset_is_a_hugging_face_llama(n_kv_heads: int | None) -> None:
    """The shared model's architecture (RoPE, RMSNorm, SwiGLU, no biases, tied embeddings) is Llama's: with
    the same weights, ``LlamaForCausalLM`` of Hugging Face gives the same logits."""
    from hfkit import llama_config
    from transformers import LlamaForCausalLM

    from llmkb.nn import GPT

    cfg = GPTConfig.preset("shared", n_layers=2, n_kv_heads=n_kv_heads)
    torch.manual_seed(0)
    ours = GPT(cfg).eval()
    with torch.no_grad():
        for p in ours.parameters():  # random gains too, so the norms' weights are exercised
            p.add_(0.05 * torch.randn_like(p))
    hf_config = llama_config(
        cfg,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_base,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=True,
        attn_implementation="eager",
    )
    theirs = LlamaForCausalLM(hf_config).eval()
    names = {"attn.q_proj": "self_attn.q_proj", "attn.k_proj": "self_attn.k_proj",
             "attn.v_proj": "self_attn.v_proj", "attn.o_proj": "self_attn.o_proj",
             "ffn.gate": "mlp.gate_proj", "ffn.up": "mlp.up_proj", "ffn.down": "mlp.down_proj",
             "norm1": "input_layernorm", "norm2": "post_attention_layernorm"}  # fmt: skip
    state = {"model.embed_tokens.weight": ours.tok_emb.weight, "model.norm.weight": ours.norm_f.weight}
    for i in range(cfg.n_layers):
        for mine, hf in names.items():
            state[f"model.layers.{i}.{hf}.weight"] = ours.state_dict()[f"blocks.{i}.{mine}.weight"]
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    assert set(missing) <= {"lm_head.weight"} and not unexpected  # the head is tied to the embedding
    assert theirs.lm_head.weight.data_ptr() == theirs.model.embed_tokens.weight.data_ptr()
    idx = torch.randint(0, cfg.vocab_size, (2, 24))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx).logits, theirs(idx).logits, atol=1e-4, rtol=1e-4)
    assert count_parameters(cfg) == sum(p.numel() for p in theirs.parameters())
