"""A sweep of training runs: a grid of model sizes × token budgets, each run cached on disk, resumable.

Each :class:`SweepRun` is one model trained for ``steps`` optimizer steps, its held-out loss read at the
token budgets ``eval_steps``. Reading several budgets from one run equals training one run per budget only
when the learning-rate schedule does not depend on the run's length: with ``min_lr == lr`` the schedule is
warm-up then constant, and the first ``s`` steps of a longer run *are* the ``s``-step run (same seed, same
batches). With a cosine decay to the end (Chinchilla's setting) the shorter budgets would be read mid-decay,
at a higher learning rate than their own run would end with; :func:`run_sweep` refuses that.

:func:`run_sweep` stores each finished run as ``<store>/<name>-<key>.json`` (``key`` hashes the run's spec and a
code fingerprint), writing through a temporary file and a rename, so a killed sweep resumes at the first
missing run. Each record holds the run's parameters (all and non-embedding), the held-out loss and tokens at
each budget, FLOPs of one training step counted with ``torch.utils.flop_counter.FlopCounterMode`` (and the
run's total), the ``6 N D`` estimate (Kaplan et al. 2020, arXiv 2001.08361, section 2.1), wall time, tokens/s
and the peak memory of the run (:func:`llmkb.bench.memory.peak_bytes`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from llmkb.bench.memory import peak_bytes
from llmkb.nn import GPT, GPTConfig, count_parameters
from llmkb.train.config import TrainConfig
from llmkb.train.loop import DataLike, train

__all__ = ["SweepRun", "budget_runs", "run_sweep", "step_flops", "train_point", "width_model"]


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes:
        name: a label (``"d64"``), part of the stored file's name.
        model: ``GPTConfig`` fields.
        train: ``TrainConfig`` fields; ``steps`` is the longest budget.
        eval_steps: steps after which the held-out loss is read (the token budgets).
    """

    name: str
    model: dict[str, Any]
    train: dict[str, Any]
    eval_steps: tuple[int, ...] = field(default=())

    def key(self, fingerprint: str = "") -> str:
        """A 12-hex-digit hash of the spec and ``fingerprint`` (e.g. a hash of the code that runs it)."""
        spec = json.dumps({**asdict(self), "fingerprint": fingerprint}, sort_keys=True, default=str)
        return hashlib.sha256(spec.encode()).hexdigest()[:12]


def width_model(base: dict[str, Any], width: int, layers: int, head_dim: int = 16) -> dict[str, Any]:
    """``GPTConfig`` fields of a model of ``width`` and ``layers`` on ``base``: heads of width about ``head_dim``
    (at least two; the largest count up to ``max(2, width // head_dim)`` that divides ``width``)."""
    heads = max(2, width // head_dim)
    while width % heads:
        heads -= 1
    return {**base, "d_model": width, "n_layers": layers, "n_heads": heads}


def budget_runs(
    base: dict[str, Any],
    train: dict[str, Any],
    widths: Sequence[int],
    layers: int,
    budgets: Sequence[int],
    head_dim: int = 16,
) -> list[SweepRun]:
    """One constant-schedule run per width (named ``d<width>``), its held-out loss read at every budget (steps).

    The learning rate is held at ``train["lr"]`` after warm-up (``min_lr = lr``), so the first ``s`` steps of the
    longest run are the ``s``-step run and one run per size serves every budget.
    """
    tcfg = {**train, "steps": max(budgets), "min_lr": train["lr"]}
    return [
        SweepRun(f"d{w}", width_model(base, w, layers, head_dim), tcfg, tuple(sorted(budgets)))
        for w in widths
    ]


def step_flops(config: GPTConfig, batch_size: int, seq_len: int) -> int:
    """FLOPs of one training step's forward and backward pass as ``FlopCounterMode`` counts them (matmuls).

    For a dense model this is close to ``6 N_m B T`` with ``N_m`` the parameters of every matrix a token is
    multiplied by (embedding lookups are free, a tied output head is not), plus the attention scores and
    weighted sums when the kernel shows them to the counter as matmuls (``naive``; fused SDPA on CPU is not
    counted).
    """
    model = GPT(config)
    x = torch.randint(0, config.vocab_size, (batch_size, seq_len))
    with FlopCounterMode(display=False) as counter:
        model(x, x).loss.backward()
    return int(counter.get_total_flops())


def train_point(run: SweepRun, data: DataLike, windows: torch.Tensor, device: str = "cpu") -> dict[str, Any]:
    """Train ``run`` and measure it (the record described in the module docstring).

    Args:
        run: the run.
        data: training data (anything :func:`llmkb.train.train` accepts).
        windows: fixed held-out windows ``(n, T + 1)`` (:func:`llmkb.lab.kit.evals.eval_windows` makes them).
        device: ``"cpu"`` or ``"cuda"``.

    Raises:
        ValueError: ``eval_steps`` are not within ``1 … steps``, or the schedule decays while budgets are read
            before the end.
    """
    config = GPTConfig.from_dict(run.model)
    tcfg = TrainConfig(**{**run.train, "device": device})
    budgets = sorted(run.eval_steps) or [tcfg.steps]
    if budgets[0] < 1 or budgets[-1] != tcfg.steps:
        raise ValueError(f"eval_steps must lie in 1..steps and end at steps={tcfg.steps}, got {budgets}")
    if len(budgets) > 1 and tcfg.min_lr != tcfg.lr:
        raise ValueError(
            "reading several budgets from one run needs a constant schedule after warm-up (min_lr == lr)"
        )
    losses: dict[int, float] = {}
    win = windows.to(device)

    def held_out(model: GPT) -> float:
        with torch.no_grad():
            model.eval()
            out = float(model(win[:, :-1], win[:, 1:]).loss)
            model.train()
        return out

    def callback(record: dict[str, Any], model: GPT) -> bool:
        if record["step"] in budgets:
            losses[record["step"]] = held_out(model)
        return False

    peak, result = peak_bytes(lambda: train(config, tcfg, data, progress=False, callback=callback), device)
    tokens_per_step = tcfg.batch_size * tcfg.seq_len
    flops = step_flops(config, tcfg.batch_size, tcfg.seq_len)
    n_all, n_non = count_parameters(config), count_parameters(config, exclude_embeddings=True)
    d = tokens_per_step * tcfg.steps
    seconds = float(result.history[-1]["elapsed_s"])  # training time (wall_time also holds one-time setup)
    return {
        "name": run.name,
        "params": n_all,
        "non_embedding": n_non,
        "steps": budgets,
        "tokens": [tokens_per_step * s for s in budgets],
        "loss": [losses[s] for s in budgets],
        "step_flops": flops,
        "flops": flops * tcfg.steps,
        "flops_6nd": 6 * n_non * d,
        "wall_s": seconds,
        "tokens_per_s": d / seconds,
        "s_per_step": seconds / tcfg.steps,
        "peak_bytes": peak,
        "device": device,
    }


def run_sweep(
    runs: Sequence[SweepRun],
    measure: Callable[[SweepRun], dict[str, Any]],
    store: str | Path,
    *,
    fingerprint: str = "",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every run of the sweep not yet stored in ``store`` and return all their records, in order.

    Args:
        runs: the runs (e.g. sizes × one constant-schedule run each, budgets read at ``eval_steps``).
        measure: trains and measures one run (e.g. ``lambda r: train_point(r, data, windows)``).
        store: directory of finished runs (created).
        fingerprint: part of each run's key; change it when the code that runs them changes.
        progress: show a tqdm bar over the runs.
    """
    from tqdm import tqdm

    root = Path(store)
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for run in tqdm(runs, desc="sweep", disable=not progress, leave=False):
        path = root / f"{run.name}-{run.key(fingerprint)}.json"
        if path.exists():
            records.append(json.loads(path.read_text()))
            continue
        record = measure(run)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)
        records.append(record)
    return records
