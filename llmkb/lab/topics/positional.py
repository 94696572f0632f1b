"""Positional-embeddings lab: five ways (or none) to tell a transformer where a token is, measured.

Four experiments, all on the model of [`llmkb.nn`][llmkb.nn] with only ``GPTConfig.positional`` changed:

* ``positional/compare`` trains the same small byte-level model on the default corpus (``pydoc``) once
  per variant (``none``, ``sinusoidal``, ``learned``, ``rope``, ``alibi``) and keeps each checkpoint.
* ``positional/extrapolation`` evaluates those checkpoints on windows 1x, 2x and 4x the training length
  and records the loss at every position. Every model is built with ``max_seq_len = 4 T`` but trained on
  ``T`` tokens, so the learned table has rows for the long windows, and rows ``T .. 4T-1`` never receive a
  gradient: they stay at their random initialization (the experiment checks this). With the usual
  ``max_seq_len = T`` llmkb refuses such positions outright (``ValueError``).
* ``positional/animation`` exports what the page's 3-D widget draws: a query vector rotated by
  [`RotaryEmbedding`][llmkb.nn.positional.RotaryEmbedding] at every position, the
  [`sinusoidal_table`][llmkb.nn.positional.sinusoidal_table] and a PCA of it, and a PCA of the learned
  table trained in ``positional/compare``.
* ``positional/ablation`` trains the variants on an order-sensitive synthetic task (reversal) and measures
  loss, exact-match accuracy and attention entropy per head, with the positional signal present, never
  trained (``none``) and removed at test time from a trained model (the hook
  ``model.hooks(positional=False)`` of [`GPT.hooks`][llmkb.nn.GPT.hooks]).

Run it: ``llmkb lab run positional-embeddings`` (quick) or add ``--profile full``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from llmkb.data import ReverseTask, TokenDataset
from llmkb.lab import Result, RunContext, experiment, figure
from llmkb.nn import GPT, POSITIONAL, GPTConfig
from llmkb.nn.positional import RotaryEmbedding, apply_rotary, rope_inv_freq, sinusoidal_table
from llmkb.train import TrainConfig, train

__all__ = [
    "VARIANTS",
    "attention_entropy",
    "causal_entropy_bound",
    "eval_windows",
    "pca_3d",
    "per_position_loss",
]

VARIANTS: tuple[str, ...] = ("none", "sinusoidal", "learned", "rope", "alibi")
"""The positional schemes compared, in the order tables and plots use."""
assert set(VARIANTS) == set(POSITIONAL), "positional/compare must cover every GPTConfig.positional value"

TOPIC = "positional-embeddings"
"""The topic slug: the page folder ``docs/02-positional-embeddings`` without its number."""
COMPARE = "positional/compare"
EXTRAPOLATION = "positional/extrapolation"
ANIMATION = "positional/animation"
ABLATION = "positional/ablation"

_COLORS = {
    "none": "#5f6368",
    "sinusoidal": "#3f51b5",
    "learned": "#e8710a",
    "rope": "#12b5cb",
    "alibi": "#d01884",
}

_MODEL_KEYS = ("d_model", "n_layers", "n_heads")
_TRAIN_KEYS = ("steps", "batch_size", "lr", "min_lr", "warmup_steps", "eval_every", "eval_batches", "seed")


# --------------------------------------------------------------------------------------------------
# measuring helpers (public: the tests and the lab notebook use them)
# --------------------------------------------------------------------------------------------------


def eval_windows(ids: Tensor, length: int, n_windows: int, seed: int = 0) -> Tensor:
    """Fixed evaluation windows: ``n_windows`` random slices of ``length + 1`` tokens of ``ids``.

    The same seed gives the same windows, so every model is scored on the same text, and the prefixes
    ``windows[:, : L + 1]`` are the windows of a shorter length ``L`` at the same offsets.

    Args:
        ids: token ids ``(N,)`` with ``N > length``.
        length: tokens scored per window.
        n_windows: number of windows.
        seed: seed of the offsets.

    Returns:
        LongTensor ``(n_windows, length + 1)``: inputs are ``[:, :-1]``, targets ``[:, 1:]``.
    """
    if len(ids) <= length + 1:
        raise ValueError(f"need more than {length + 1} tokens for windows of {length}, got {len(ids)}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - length - 1, (n_windows,), generator=g)  # (N,)
    return ids[starts[:, None] + torch.arange(length + 1)[None, :]]  # (N, L+1)


@torch.no_grad()
def per_position_loss(model: GPT, windows: Tensor, chunk: int = 16) -> Tensor:
    """Mean next-token cross-entropy at every position of ``windows`` (nats).

    Args:
        model: a trained model (put in eval mode here).
        windows: ``(N, L + 1)`` token ids from [`eval_windows`][llmkb.lab.topics.positional.eval_windows].
        chunk: windows per forward pass.

    Returns:
        Float tensor ``(L,)``: entry ``t`` is the loss of predicting token ``t + 1`` from tokens ``0..t``,
        averaged over the windows.
    """
    model.eval()
    total = torch.zeros(windows.shape[1] - 1, dtype=torch.float64)  # (L,)
    for part in windows.split(chunk):
        x, y = part[:, :-1], part[:, 1:]  # (b, L)
        logits = model(x).logits  # (b, L, V)
        loss = F.cross_entropy(logits.transpose(1, 2).float(), y, reduction="none")  # (b, L)
        total += loss.sum(0).double()
    return (total / windows.shape[0]).float()


def attention_entropy(weights: Tensor) -> Tensor:
    """Shannon entropy (nats) of every attention row: ``H_i = -sum_j a_ij ln a_ij``, with ``0 ln 0 = 0``.

    A row that puts all its mass on one key has entropy 0; a causal row ``i`` spread uniformly over its
    ``i + 1`` keys has the maximum, ``ln(i + 1)`` (see
    [`causal_entropy_bound`][llmkb.lab.topics.positional.causal_entropy_bound]).

    Args:
        weights: attention probabilities ``(..., T, S)`` (rows sum to 1).

    Returns:
        Tensor ``(..., T)``.
    """
    p = weights.float().clamp_min(0.0)
    return -(p * torch.log(p.clamp_min(1e-30))).sum(dim=-1)  # (..., T)


def causal_entropy_bound(T: int) -> Tensor:
    """The largest possible entropy of each causal attention row, ``ln(i + 1)`` for ``i = 0 .. T-1``."""
    return torch.log(torch.arange(1, T + 1, dtype=torch.float32))  # (T,)


def pca_3d(points: Tensor) -> tuple[Tensor, Tensor]:
    """Project ``points`` ``(N, d)`` onto their first three principal components.

    Args:
        points: one row per position.

    Returns:
        ``(coords (N, 3), explained (3,))``: centred coordinates and the fraction of the variance each
        component explains. Signs are fixed so that the first point has non-positive coordinates.
    """
    x = points.double() - points.double().mean(0, keepdim=True)  # (N, d)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)  # s (r,), vh (r, d)
    k = min(3, vh.shape[0])
    coords = x @ vh[:k].T  # (N, k)
    sign = torch.where(coords[0] > 0, -1.0, 1.0).to(coords.dtype)  # (k,)
    coords = coords * sign
    explained = (s[:k] ** 2) / (s**2).sum().clamp_min(1e-30)  # (k,)
    if k < 3:
        coords = F.pad(coords, (0, 3 - k))
        explained = F.pad(explained, (0, 3 - k))
    return coords.float(), explained.float()


# --------------------------------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------------------------------


def _model_config(cfg: dict[str, Any], variant: str, vocab_size: int, max_seq_len: int) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab_size,
        max_seq_len=max_seq_len,
        positional=variant,
        **{k: cfg[k] for k in _MODEL_KEYS},
    )


def _train_config(cfg: dict[str, Any], seq_len: int) -> TrainConfig:
    return TrainConfig(seq_len=seq_len, **{k: cfg[k] for k in _TRAIN_KEYS})


def _gap_text(delta: float) -> str:
    """``0.123 nats above`` / ``0.045 nats below`` / ``the same as``."""
    if abs(delta) < 5e-4:
        return "the same as"
    return f"{abs(delta):.3f} nats {'above' if delta > 0 else 'below'}"


def _rounded(t: Tensor, decimals: int = 4) -> np.ndarray:
    """A float64 copy rounded for export (keeps the widget's JSON small)."""
    return np.round(t.detach().double().numpy(), decimals)


def _table(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as ``{"columns", "rows"}``, the form ``lab.table`` renders in column order (the result cache
    sorts the keys of a dict, so a list of row dicts would come back with its columns alphabetized)."""
    columns = list(rows[0]) if rows else []
    return {"columns": columns, "rows": [[r.get(c, "") for c in columns] for r in rows]}


def _models_dir(res: Result) -> Any:
    return res.dir / "models"


def load_compare_model(res: Result, variant: str) -> GPT:
    """A checkpoint trained by ``positional/compare`` (in eval mode)."""
    model = GPT.load(_models_dir(res) / variant)
    model.eval()
    return model


# --------------------------------------------------------------------------------------------------
# 1. compare: five variants, same model, same data
# --------------------------------------------------------------------------------------------------

_LM = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "seed": 0,
    "max_mult": 4,
}


@experiment(
    COMPARE,
    topic=TOPIC,
    profiles={
        "quick": {
            **_LM,
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "seq_len": 32,
            "batch_size": 8,
            "steps": 12,
            "warmup_steps": 2,
            "eval_every": 6,
            "eval_batches": 1,
            "n_windows": 8,
        },
        "full": {
            **_LM,
            "seq_len": 64,
            "batch_size": 16,
            "steps": 300,
            "warmup_steps": 20,
            "eval_every": 30,
            "eval_batches": 4,
            "n_windows": 64,
        },
    },
    title="Train the same model with each positional encoding on pydoc (byte level)",
)
def compare(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train one model per variant; return validation curves, a results table and the checkpoints."""
    data = TokenDataset.from_corpus("pydoc")
    T = cfg["seq_len"]
    max_len = T * cfg["max_mult"]
    windows = eval_windows(data.val, T, cfg["n_windows"], seed=cfg["seed"])  # (N, T+1)
    curves: dict[str, dict[str, list[float]]] = {}
    rows: list[dict[str, Any]] = []
    learned_check: dict[str, float] = {}
    for variant in ctx.progress(VARIANTS, total=len(VARIANTS), desc="compare"):
        mcfg = _model_config(cfg, variant, data.vocab_size, max_len)
        res = train(mcfg, _train_config(cfg, T), data, progress=False)
        model = res.model.eval()
        model.save(ctx.out_dir / "models" / variant)
        steps, train_loss = res.series("train_loss")
        val_steps, val_loss = res.series("val_loss")
        curves[variant] = {
            "steps": steps,
            "train_loss": train_loss,
            "val_steps": val_steps,
            "val_loss": val_loss,
        }
        loss = float(per_position_loss(model, windows).mean())
        rows.append(
            {
                "variant": variant,
                "parameters": model.num_parameters(),
                "val loss (nats)": round(loss, 4),
                "bits per byte": round(loss / math.log(2), 4),
            }
        )
        if variant == "learned":
            torch.manual_seed(cfg["seed"])  # train() seeds the same way before building the model
            init = GPT(mcfg).pos_emb.weight.detach()  # (4T, d)
            trained = model.pos_emb.weight.detach()  # (4T, d)
            learned_check = {
                "untrained_rows_max_change": float((trained[T:] - init[T:]).abs().max()),
                "trained_rows_mean_change": float((trained[:T] - init[:T]).norm(dim=1).mean()),
                "trained_row_norm": float(trained[:T].norm(dim=1).mean()),
                "untrained_row_norm": float(trained[T:].norm(dim=1).mean()),
            }
    losses = {r["variant"]: r["val loss (nats)"] for r in rows}
    best = min(losses, key=losses.__getitem__)
    worst = max(losses, key=losses.__getitem__)
    return {
        "seq_len": T,
        "max_seq_len": max_len,
        "d_model": cfg["d_model"],
        "n_layers": cfg["n_layers"],
        "n_heads": cfg["n_heads"],
        "n_windows": cfg["n_windows"],
        "steps": cfg["steps"],
        "tokens_seen": cfg["steps"] * cfg["batch_size"] * T,
        "curves": curves,
        "rows": rows,
        "table": _table(rows),
        "losses": losses,
        "best": best,
        "worst": worst,
        "spread": round(losses[worst] - losses[best], 4),
        "none_vs_best": _gap_text(losses["none"] - losses[best]),
        "learned_table": learned_check,
    }


@figure(COMPARE, "val-loss", caption="Validation loss during training, one curve per positional encoding")
def _fig_val_loss(res: Result) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for variant in VARIANTS:
        c = res["curves"][variant]
        ax.plot(c["val_steps"], c["val_loss"], marker="o", ms=3, label=variant, color=_COLORS[variant])
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title(f"Same model, five positional encodings (T = {res['seq_len']} bytes)")
    ax.legend(loc="upper right")
    return fig


# --------------------------------------------------------------------------------------------------
# 2. extrapolation: 1x, 2x, 4x the training context
# --------------------------------------------------------------------------------------------------


@experiment(
    EXTRAPOLATION,
    topic=TOPIC,
    profiles={
        "quick": {"mults": [1, 2, 4], "n_windows": 8, "seed": 1},
        "full": {"mults": [1, 2, 4], "n_windows": 128, "seed": 1},
    },
    needs=[COMPARE],
    title="Evaluate the compare checkpoints at 1x, 2x and 4x their training length",
)
def extrapolation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Loss per position at 1x, 2x, 4x the training context for every variant."""
    comp = ctx.need(COMPARE)
    T = int(comp["seq_len"])
    mults = [int(m) for m in cfg["mults"]]
    longest = T * max(mults)
    if longest > int(comp["max_seq_len"]):
        raise ValueError(f"{longest} positions exceed the compare models' max_seq_len={comp['max_seq_len']}")
    data = TokenDataset.from_corpus("pydoc")
    windows = eval_windows(data.val, longest, cfg["n_windows"], seed=cfg["seed"])  # (N, 4T+1)
    curves: dict[str, Tensor] = {}
    rows: list[dict[str, Any]] = []
    prefix_gap = 0.0
    for variant in ctx.progress(VARIANTS, total=len(VARIANTS), desc="extrapolation"):
        model = load_compare_model(comp, variant)
        row: dict[str, Any] = {"variant": variant}
        by_mult: dict[int, Tensor] = {}
        for m in mults:
            by_mult[m] = per_position_loss(model, windows[:, : m * T + 1])  # (mT,)
            row[f"loss @ {m}x ({m * T} bytes)"] = round(float(by_mult[m].mean()), 4)
        full = by_mult[max(mults)]
        row["loss beyond T"] = round(float(full[T:].mean()), 4)
        # causality: the 1x run is the first T positions of the longest run
        prefix_gap = max(prefix_gap, float((by_mult[min(mults)] - full[: min(mults) * T]).abs().max()))
        curves[variant] = full
        rows.append(row)
    beyond = {r["variant"]: r["loss beyond T"] for r in rows}
    within = {r["variant"]: float(curves[r["variant"]][:T].mean()) for r in rows}
    ratio = {v: beyond[v] / within[v] for v in VARIANTS}
    best_long = min(beyond, key=beyond.__getitem__)
    worst_long = max(beyond, key=beyond.__getitem__)
    return {
        "seq_len": T,
        "mults": mults,
        "positions": np.arange(longest),
        "curves": curves,
        "rows": rows,
        "table": _table(rows),
        "within": within,
        "beyond": beyond,
        "degradation": {v: round(r, 3) for v, r in ratio.items()},
        "best_long": best_long,
        "worst_long": worst_long,
        "learned_beyond_vs_within": round(beyond["learned"] - within["learned"], 3),
        "prefix_max_abs_diff": prefix_gap,
        "uniform_loss": math.log(256),
    }


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    kernel = np.ones(k) / k
    padded = np.concatenate([np.full(k // 2, y[0]), y, np.full(k - 1 - k // 2, y[-1])])
    return np.convolve(padded, kernel, mode="valid")


@figure(EXTRAPOLATION, "per-position", caption="Loss at each position of windows 4x the training length")
def _fig_per_position(res: Result) -> Any:
    import matplotlib.pyplot as plt

    T = int(res["seq_len"])
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    pos = np.asarray(res["positions"])
    k = max(1, T // 4)
    for variant in VARIANTS:
        y = np.asarray(res["curves"][variant], dtype=float)
        ax.plot(pos, _smooth(y, k), label=variant, color=_COLORS[variant], lw=1.5)
    top = ax.get_ylim()[1]
    for m in res["mults"][:-1]:
        ax.axvline(m * T, color="0.4", ls="--", lw=1)
        ax.text(m * T, top, f" {m}x T", va="top", ha="left", fontsize=8, color="0.3")
    ax.set_xlabel("position in the window (bytes); trained on the first T")
    ax.set_ylabel(f"loss (nats), moving mean of {k}")
    ax.set_title(f"Trained on T = {T} bytes, evaluated on {max(res['mults']) * T}")
    ax.legend(ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# 3. animation data for the 3-D widget
# --------------------------------------------------------------------------------------------------


@experiment(
    ANIMATION,
    topic=TOPIC,
    profiles={
        "quick": {
            "n_positions": 32,
            "head_dim": 16,
            "d_model": 32,
            "text": "where am I? position 0 1 2 3 ..",
        },
        "full": {
            "n_positions": 64,
            "head_dim": 16,
            "d_model": 64,
            "text": "where am I? a byte only knows its position through the encoding.",
        },
    },
    needs=[COMPARE],
    title="Encoding vectors of a toy sequence for the 3-D animation",
)
def animation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """RoPE rotations, the sinusoidal table and the trained learned table of a toy sequence, for the widget."""
    comp = ctx.need(COMPARE)
    N, D = cfg["n_positions"], cfg["head_dim"]
    text = (cfg["text"] * (N // max(1, len(cfg["text"])) + 1))[:N]
    positions = torch.arange(N)  # (N,)

    rope = RotaryEmbedding(D, N)
    cos, sin = rope(positions)  # (N, D) each
    q = torch.cat([torch.ones(D // 2), torch.zeros(D // 2)])  # every pair starts on its x axis
    rotated = apply_rotary(q.expand(N, D), cos, sin)  # (N, D)
    theta = rope_inv_freq(D)  # (D/2,)
    # relative property: score(m, n) = q_m . k_n depends on m - n only
    k = torch.linspace(-1.0, 1.0, D)
    q_rot = apply_rotary(q.expand(N, D), cos, sin)  # (N, D)
    k_rot = apply_rotary(k.expand(N, D), cos, sin)  # (N, D)
    scores = q_rot @ k_rot.T  # (N, N)
    offsets = torch.arange(N)[:, None] - torch.arange(N)[None, :]  # (N, N)
    rel_spread = max(
        float(scores[offsets == d].std()) if int((offsets == d).sum()) > 1 else 0.0 for d in range(N)
    )

    d_sin = cfg["d_model"]
    table = sinusoidal_table(positions, d_sin)  # (N, d)
    sin_pca, sin_expl = pca_3d(table)

    T = int(comp["seq_len"])
    n_learned = min(N, T)
    learned = load_compare_model(comp, "learned").pos_emb.weight.detach()[:n_learned]  # (n, d)
    learned_pca, learned_expl = pca_3d(learned)

    widget = {
        "text": text,
        "n_positions": N,
        "rope": {
            "head_dim": D,
            "theta": _rounded(theta, 6),
            "q": _rounded(q),
            "rotated": _rounded(rotated),
            "pairs": [[i, i + D // 2] for i in range(D // 2)],
        },
        "sinusoidal": {
            "d_model": d_sin,
            "table": _rounded(table),
            "pca": _rounded(sin_pca),
            "explained": _rounded(sin_expl),
        },
        "learned": {
            "n_positions": n_learned,
            "train_len": T,
            "table": _rounded(learned),
            "pca": _rounded(learned_pca),
            "explained": _rounded(learned_expl),
        },
    }
    return {
        "widget": widget,
        "rope_relative_max_std": rel_spread,
        "sin_explained_3": float(sin_expl.sum()),
        "learned_explained_3": float(learned_expl.sum()),
    }


# --------------------------------------------------------------------------------------------------
# 4. ablation on an order-sensitive task: reversal
# --------------------------------------------------------------------------------------------------


def _answer_slice(task: ReverseTask) -> slice:
    """Query positions whose next token is an answer token."""
    return slice(task.prompt_len - 1, task.seq_len)


@torch.no_grad()
def _score(model: GPT, task: ReverseTask, x: Tensor, y: Tensor, n_attn: int) -> dict[str, Any]:
    model.eval()
    logits = model(x).logits  # (B, T, V)
    attn = model(x[:n_attn], return_attn=True).attn  # n_layers x (b, H, T, T)
    weights = torch.stack(attn, dim=1)  # (b, L, H, T, T)
    ent = attention_entropy(weights)[..., _answer_slice(task)]  # (b, L, H, A)
    return {
        "loss": float(task.loss(logits, y)),
        "accuracy": task.accuracy(logits, y),
        "token_accuracy": task.token_accuracy(logits, y),
        "entropy": ent.mean(dim=(0, 3)),  # (L, H)
        "example_attn": weights[0],  # (L, H, T, T)
    }


@experiment(
    ABLATION,
    topic=TOPIC,
    profiles={
        "quick": {
            "length": 4,
            "n_symbols": 6,
            "variants": ["none", "rope", "learned"],
            "map_variants": ["rope", "none"],
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "steps": 20,
            "batch_size": 16,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_steps": 2,
            "eval_every": 10,
            "eval_batches": 1,
            "seed": 0,
            "n_eval": 64,
            "n_attn": 16,
        },
        "full": {
            "length": 8,
            "n_symbols": 10,
            "variants": list(VARIANTS),
            "map_variants": ["rope", "none"],
            "d_model": 64,
            "n_layers": 2,
            "n_heads": 4,
            "steps": 300,
            "batch_size": 32,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_steps": 20,
            "eval_every": 50,
            "eval_batches": 2,
            "seed": 0,
            "n_eval": 512,
            "n_attn": 64,
        },
    },
    title="Reversal with and without positional information: loss, accuracy, attention entropy",
)
def ablation(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Train each variant on reversal; score it as trained and with its positional signal removed."""
    task = ReverseTask(length=cfg["length"], n_symbols=cfg["n_symbols"])
    T = task.seq_len
    x, y = task.make_batch(cfg["n_eval"], torch.Generator().manual_seed(cfg["seed"] + 12345))  # (B, T)
    bound = causal_entropy_bound(T)[_answer_slice(task)]  # (A,)
    uniform = float(bound.mean())
    rows: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    entropy: dict[str, Tensor] = {}
    maps: dict[str, Tensor] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for variant in ctx.progress(cfg["variants"], total=len(cfg["variants"]), desc="ablation"):
        mcfg = _model_config(cfg, variant, task.vocab_size, T)
        res = train(mcfg, _train_config(cfg, T), task, progress=False)
        model = res.model.eval()
        steps, loss = res.series("train_loss")
        curves[variant] = {"steps": steps, "train_loss": loss}
        s = _score(model, task, x, y, cfg["n_attn"])
        entropy[variant] = s["entropy"]
        if variant in cfg["map_variants"]:
            maps[variant] = s["example_attn"]
        row = {
            "variant": variant,
            "loss (nats)": round(s["loss"], 4),
            "exact match": round(s["accuracy"], 3),
            "token accuracy": round(s["token_accuracy"], 3),
            "attention entropy": round(float(s["entropy"].mean()), 3),
            **{f"entropy, layer {i}": round(float(e), 3) for i, e in enumerate(s["entropy"].mean(dim=1))},
        }
        rows.append(row)
        if variant != "none":
            with model.hooks(positional=False):
                a = _score(model, task, x, y, cfg["n_attn"])
            entropy[f"{variant} (removed)"] = a["entropy"]
            removed.append(
                {
                    "variant": variant,
                    "loss": row["loss (nats)"],
                    "loss, PE removed": round(a["loss"], 4),
                    "token accuracy": row["token accuracy"],
                    "token accuracy, PE removed": round(a["token_accuracy"], 3),
                    "entropy": row["attention entropy"],
                    "entropy, PE removed": round(float(a["entropy"].mean()), 3),
                }
            )
    by = {r["variant"]: r for r in rows}
    with_pe = [v for v in cfg["variants"] if v != "none"]
    best_pe = min(with_pe, key=lambda v: by[v]["loss (nats)"])
    mean = lambda key: float(np.mean([r[key] for r in removed]))  # noqa: E731
    loss_before, loss_after = mean("loss"), mean("loss, PE removed")
    ent_before, ent_after = mean("entropy"), mean("entropy, PE removed")
    return {
        "task": {
            "name": "reverse",
            "length": task.length,
            "n_symbols": task.n_symbols,
            "seq_len": T,
            "chance_loss": math.log(task.n_symbols),
            "example": f"{' '.join(map(str, x[0, : task.length].tolist()))} | "
            f"{' '.join(map(str, x[0, task.length + 1 :].tolist() + [int(y[0, -1])]))}",
        },
        "n_eval": cfg["n_eval"],
        "steps": cfg["steps"],
        "rows": rows,
        "table": _table(rows),
        "removed_rows": removed,
        "removed_table": _table(removed),
        "entropy": entropy,
        "entropy_bound": uniform,
        "maps": maps,
        "curves": curves,
        "best_pe": best_pe,
        "none_loss": by["none"]["loss (nats)"],
        "best_pe_loss": by[best_pe]["loss (nats)"],
        "none_entropy": by["none"]["attention entropy"],
        "best_pe_entropy": by[best_pe]["attention entropy"],
        "none_token_acc": by["none"]["token accuracy"],
        "best_pe_token_acc": by[best_pe]["token accuracy"],
        "none_vs_best": _gap_text(by["none"]["loss (nats)"] - by[best_pe]["loss (nats)"]),
        "none_first_layer_share": by["none"]["entropy, layer 0"] / uniform,
        "removal": {
            "loss_before": round(loss_before, 3),
            "loss_after": round(loss_after, 3),
            "entropy_before": round(ent_before, 3),
            "entropy_after": round(ent_after, 3),
            "loss_change": f"{'raises' if loss_after >= loss_before else 'lowers'} their mean loss from "
            f"{loss_before:.3f} to {loss_after:.3f} nats",
            "entropy_change": f"{'raises' if ent_after >= ent_before else 'lowers'} their mean attention "
            f"entropy from {ent_before:.3f} to {ent_after:.3f} nats",
        },
    }


@figure(
    ABLATION, "entropy", caption="Attention entropy per head on the answer positions of the reversal task"
)
def _fig_entropy(res: Result) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    variants = [r["variant"] for r in res["rows"]]
    L, H = np.asarray(res["entropy"][variants[0]]).shape
    fig, axes = plt.subplots(1, len(variants), figsize=(7.2, 2.8), sharey=True, squeeze=False)
    xs = np.arange(L * H)
    bound = float(res["entropy_bound"])
    for ax, variant in zip(axes[0], variants, strict=True):
        trained = np.asarray(res["entropy"][variant]).reshape(-1)
        ax.bar(xs - 0.2, trained, 0.4, color=_COLORS[variant], label="as trained")
        key = f"{variant} (removed)"
        if key in res["entropy"]:
            ablated = np.asarray(res["entropy"][key]).reshape(-1)
            ax.bar(
                xs + 0.2,
                ablated,
                0.4,
                color="none",
                edgecolor=_COLORS[variant],
                hatch="///",
                label="PE removed",
            )
        ax.axhline(bound, color="0.2", ls="--", lw=1)
        ax.set_title(variant, fontsize=9)
        ax.set_xticks(xs, [str(i % H) for i in xs], fontsize=7)
        for layer in range(1, L):
            ax.axvline(layer * H - 0.5, color="0.5", lw=0.8, ls=":")
    axes[0, 0].set_ylabel("entropy (nats)")
    handles = [Patch(facecolor="0.45"), Patch(facecolor="none", edgecolor="0.45", hatch="///")]
    fig.legend(handles, ["as trained", "PE removed at test time"], loc="upper center", ncol=2, fontsize=8,
               bbox_to_anchor=(0.5, 1.08))  # fmt: skip
    fig.supxlabel(
        "head index, layer 0 then layer 1 (dotted divider); dashed line: uniform attention over the past",
        fontsize=8,
        y=-0.06,
    )
    return fig


@figure(ABLATION, "maps", caption="Attention maps of one reversal example, every layer and head")
def _fig_maps(res: Result) -> Any:
    import matplotlib.pyplot as plt

    names = list(res["maps"])
    L, H = np.asarray(res["maps"][names[0]]).shape[:2]
    fig, axes = plt.subplots(
        len(names) * L, H, figsize=(1.7 * H + 0.6, 1.7 * L * len(names) + 0.4), squeeze=False
    )
    for r, name in enumerate(names):
        w = np.asarray(res["maps"][name])  # (L, H, T, T)
        for layer in range(L):
            for h in range(H):
                ax = axes[r * L + layer, h]
                ax.imshow(w[layer, h], vmin=0.0, vmax=1.0, cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if h == 0:
                    ax.set_ylabel(f"{name}\nlayer {layer}", fontsize=8)
                if r == 0 and layer == 0:
                    ax.set_title(f"head {h}", fontsize=8)
    fig.suptitle("rows: query position, columns: key position (brighter = more attention)", fontsize=9)
    return fig
