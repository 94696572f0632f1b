"""``llmkb bench train``: training throughput of llmkb's GPT against a minimal reference GPT.

Both models have the same shape (width, depth, heads, feed-forward width, vocabulary, positional scheme,
norm, activation, biases, tying) and are trained with the same step: forward with loss, backward,
gradient clipping, fused AdamW. The reference is written here in the plainest common form (one fused QKV
projection, ``scaled_dot_product_attention`` with ``is_causal=True``, ``torch.nn`` norms). Measurements
alternate ``A, B, A, B, …`` so that drifts in machine load hit both equally, and the medians are
compared; the headline is ``ratio = llmkb tokens/s ÷ reference tokens/s`` (goal ≥ 1.0).

On CUDA the model FLOPs utilization is also reported, with the usual ``6 N`` FLOPs per token for forward
and backward (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361; MFU as in
Chowdhery et al. 2022, "PaLM", arXiv:2204.02311, without the attention term):
``MFU = 6 · N · tokens/s / peak FLOP/s``, the peak taken from ``--peak-tflops``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

NAME = "train"
HELP = "Training tokens/s of llmkb's GPT vs a minimal reference GPT of the same shape (ratio; MFU on CUDA)."

_UNSUPPORTED = {
    "positional": ("sinusoidal", "alibi"),
    "norm_position": ("post",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``llmkb bench train``."""
    parser.add_argument("--preset", default="shared", help="GPTConfig preset (default shared)")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per step (default 16)")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence (default 128)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="A,B measurement pairs (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="default fp32")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak TFLOP/s, for MFU")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Measure, print a small table, optionally write JSON."""
    from llmkb.errors import UsageError
    from llmkb.nn import PRESETS, GPTConfig

    if args.preset not in PRESETS:
        raise UsageError(f"unknown preset {args.preset!r}: choose one of {', '.join(PRESETS)}")
    for name in ("batch_size", "seq_len", "steps", "rounds"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        raise UsageError("--warmup must be >= 0")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but CUDA is not available")
    cfg = GPTConfig.preset(args.preset)
    if args.seq_len > cfg.max_seq_len:
        cfg = GPTConfig.preset(args.preset, max_seq_len=args.seq_len)
    result = benchmark(
        cfg,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        steps=args.steps,
        rounds=args.rounds,
        warmup=args.warmup,
        device=args.device,
        precision=args.precision,
        peak_tflops=args.peak_tflops,
    )
    print(format_result(result, args.preset))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def benchmark(
    cfg: Any,
    *,
    batch_size: int = 16,
    seq_len: int = 128,
    steps: int = 5,
    rounds: int = 5,
    warmup: int = 2,
    device: str = "cpu",
    precision: str = "fp32",
    peak_tflops: float | None = None,
) -> dict[str, Any]:
    """Measure training tokens/s of ``GPT(cfg)`` and of :class:`ReferenceGPT` ``(cfg)``.

    Args:
        cfg: A :class:`~llmkb.nn.GPTConfig`.
        batch_size: Sequences per step.
        seq_len: Tokens per sequence.
        steps: Timed steps per measurement.
        rounds: Number of ``(llmkb, reference)`` measurement pairs.
        warmup: Untimed steps per model before measuring.
        device: ``"cpu"`` or ``"cuda[:N]"``.
        precision: ``"fp32"`` or ``"bf16"`` (autocast).
        peak_tflops: Device peak, for MFU (CUDA only).

    Returns:
        A JSON-serializable dict: per-model samples and medians (tokens/s), ``ratio``, parameter count and,
        on CUDA with ``peak_tflops``, ``mfu`` per model.

    Raises:
        UsageError: The configuration uses a feature the reference does not implement.
    """
    from llmkb.errors import UsageError
    from llmkb.nn import GPT
    from llmkb.train.config import TrainConfig
    from llmkb.train.loop import train_step
    from llmkb.train.optim import build_optimizer

    for field, values in _UNSUPPORTED.items():
        if getattr(cfg, field) in values:
            raise UsageError(f"the reference GPT does not implement {field}={getattr(cfg, field)!r}")
    if cfg.sliding_window is not None:
        raise UsageError("the reference GPT implements plain causal attention only (no sliding window)")
    dev = torch.device(device)
    torch.manual_seed(0)
    ours = GPT(cfg).to(dev).train()
    ref = ReferenceGPT(cfg).to(dev).train()
    tcfg = TrainConfig(device=device, precision=precision)
    opt_ours = build_optimizer(ours, tcfg)
    opt_ref = torch.optim.AdamW(ref.parameters(), lr=tcfg.lr, betas=tcfg.betas, weight_decay=0.1, fused=True)
    params_ours = [p for p in ours.parameters() if p.requires_grad]
    params_ref = list(ref.parameters())
    autocast: Any = (
        torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, cfg.vocab_size, (batch_size, seq_len), generator=g).to(dev)  # (B, T)
    y = torch.randint(0, cfg.vocab_size, (batch_size, seq_len), generator=g).to(dev)  # (B, T)

    def step_ours() -> None:
        train_step(ours, opt_ours, params_ours, x, y, lr=1e-4, grad_clip=1.0, autocast=autocast)

    def step_ref() -> None:
        for group in opt_ref.param_groups:
            group["lr"] = 1e-4
        with autocast:
            loss = ref(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params_ref, 1.0)
        opt_ref.step()
        opt_ref.zero_grad(set_to_none=True)

    def measure(step: Any) -> float:
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(dev)
        return steps * batch_size * seq_len / (time.perf_counter() - t0)

    for _ in range(warmup):
        step_ours()
        step_ref()
    samples: dict[str, list[float]] = {"llmkb": [], "reference": []}
    for _ in range(rounds):
        samples["llmkb"].append(measure(step_ours))
        samples["reference"].append(measure(step_ref))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    n_params = ours.num_parameters()
    out: dict[str, Any] = {
        "config": cfg.to_dict(),
        "batch_size": batch_size,
        "seq_len": seq_len,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "precision": precision,
        "n_params": n_params,
        "n_params_reference": sum(p.numel() for p in ref.parameters()),
        "samples_tokens_per_s": samples,
        "median_tokens_per_s": medians,
        "ratio": medians["llmkb"] / medians["reference"],
    }
    if dev.type == "cuda" and peak_tflops:
        out["peak_tflops"] = peak_tflops
        out["mfu"] = {k: 6 * n_params * v / (peak_tflops * 1e12) for k, v in medians.items()}
    return out


def format_result(result: dict[str, Any], preset: str) -> str:
    """A small human-readable table of :func:`benchmark`'s result."""
    med = result["median_tokens_per_s"]
    lines = [
        f"llmkb bench train: preset={preset} B={result['batch_size']} T={result['seq_len']} "
        f"device={result['device_name']} threads={result['threads']} precision={result['precision']} "
        f"params={result['n_params'] / 1e6:.2f}M",
        f"  {'model':<12}{'tokens/s (median)':>20}{'samples':>40}",
    ]
    for key in ("llmkb", "reference"):
        samples = ", ".join(f"{v:,.0f}" for v in result["samples_tokens_per_s"][key])
        mfu = f"  MFU {100 * result['mfu'][key]:.1f}%" if "mfu" in result else ""
        lines.append(f"  {key:<12}{med[key]:>20,.0f}    {samples}{mfu}")
    lines.append(f"  ratio llmkb/reference = {result['ratio']:.3f}x (goal >= 1.0)")
    if result["device"].startswith("cuda") and "mfu" not in result:
        lines.append("  (pass --peak-tflops to report MFU)")
    return "\n".join(lines)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------- the reference model


class ReferenceGPT(nn.Module):
    """A minimal GPT written independently of :mod:`llmkb.nn`, with the same shape as ``GPT(cfg)``.

    Pre-norm blocks ``x + Attn(Norm(x))``, ``x + FFN(Norm(x))``; one fused QKV projection; causal SDPA;
    learned positions or RoPE (rotate-half form, Su et al. 2021, arXiv:2104.09864) or none; grouped
    key/value heads are expanded with ``repeat_interleave``.

    Args:
        cfg: A :class:`~llmkb.nn.GPTConfig`.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tok = nn.Embedding(cfg.vocab_size, d)
        self.pos = nn.Embedding(cfg.max_seq_len, d) if cfg.positional == "learned" else None
        self.blocks = nn.ModuleList(_RefBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = _norm(cfg)
        self.head = nn.Linear(d, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.tok.weight
        if cfg.positional == "rope":
            hd = cfg.head_dim
            inv = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # (D/2,)
            ang = torch.outer(torch.arange(cfg.max_seq_len, dtype=torch.float32), inv)  # (T, D/2)
            self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], dim=-1), persistent=False)  # (T, D)
            self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], dim=-1), persistent=False)  # (T, D)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy of next-token prediction; ``idx``, ``targets``: ``(B, T)``."""
        _, t = idx.shape
        x = self.tok(idx)  # (B, T, d)
        if self.pos is not None:
            x = x + self.pos.weight[:t]
        rope = (self.cos[:t], self.sin[:t]) if self.cfg.positional == "rope" else None
        for block in self.blocks:
            x = block(x, rope)
        logits = self.head(self.norm(x))  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _norm(cfg: Any) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
    return nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=cfg.bias)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # (B, H, T, D)
    return x * cos + rotated * sin


class _RefBlock(nn.Module):
    def __init__(self, cfg: Any) -> None:
        super().__init__()
        d, hd = cfg.d_model, cfg.head_dim
        self.h, self.kv, self.hd = cfg.n_heads, cfg.kv_heads, hd
        self.n1, self.n2 = _norm(cfg), _norm(cfg)
        self.qkv = nn.Linear(d, (self.h + 2 * self.kv) * hd, bias=cfg.bias)
        self.proj = nn.Linear(self.h * hd, d, bias=cfg.bias)
        f = cfg.ffn_dim
        self.swiglu = cfg.activation == "swiglu"
        self.act = cfg.activation
        self.up = nn.Linear(d, 2 * f if self.swiglu else f, bias=cfg.bias)
        self.down = nn.Linear(f, d, bias=cfg.bias)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:
        b, t, _ = x.shape
        qkv = self.qkv(self.n1(x))  # (B, T, (H + 2 Hkv) D)
        q, k, v = qkv.split([self.h * self.hd, self.kv * self.hd, self.kv * self.hd], dim=-1)
        q = q.view(b, t, self.h, self.hd).transpose(1, 2)  # (B, H, T, D)
        k = k.view(b, t, self.kv, self.hd).transpose(1, 2)  # (B, Hkv, T, D)
        v = v.view(b, t, self.kv, self.hd).transpose(1, 2)  # (B, Hkv, T, D)
        if rope is not None:
            q, k = _rotate(q, *rope), _rotate(k, *rope)
        if self.kv != self.h:
            k = k.repeat_interleave(self.h // self.kv, dim=1)  # (B, H, T, D)
            v = v.repeat_interleave(self.h // self.kv, dim=1)  # (B, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, self.h * self.hd))
        hidden = self.up(self.n2(x))  # (B, T, f or 2f)
        if self.swiglu:
            gate, up = hidden.chunk(2, dim=-1)
            hidden = F.silu(gate) * up
        elif self.act == "relu":
            hidden = F.relu(hidden)
        else:
            hidden = F.gelu(hidden, approximate="tanh")
        return x + self.down(hidden)
