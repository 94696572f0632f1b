"""The scaling-laws sweep on a chosen device: larger models than a CPU build can afford, when a GPU is there.

The same sweep as the scaling-laws lab (:func:`llmkb.train.sweep.budget_runs`, :func:`~llmkb.train.sweep.train_point`:
one constant-learning-rate run per width, its held-out loss read at several token budgets, FLOPs counted, wall
time, peak memory through the same code path as on CPU), written with the hardware and date to
``<out>/scaling_<device>.json``. The scaling-laws page shows a file of that name kept in
``llmkb/bench/results/`` as "measured on GPU" — fitted by the lab, never typed. Runs are stored under
``<out>/scaling-runs/`` as they finish, so an interrupted sweep resumes.

Usage: ``llmkb bench scaling --device cuda [--out DIR]`` (defaults sized for one GPU in a few minutes);
``--device cpu`` with small ``--widths``/``--budgets`` checks the plumbing anywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from llmkb.errors import UsageError

__all__ = ["NAME", "HELP", "DEFAULTS", "RESULT_NAME", "sweep_on", "add_arguments", "run"]

NAME = "scaling"
HELP = "The scaling-laws sweep on a device (a GPU for larger models); writes scaling_<device>.json."
RESULT_NAME = "scaling_{device}.json"
DEFAULTS: dict[str, dict[str, Any]] = {
    "cuda": {"widths": [64, 96, 128, 192, 256, 384], "layers": 4, "budgets": [250, 500, 1000, 2000],
             "batch_size": 32, "seq_len": 128, "n_windows": 256},
    "cpu": {"widths": [16, 24, 32], "layers": 1, "budgets": [2, 3, 4], "batch_size": 4, "seq_len": 32, "n_windows": 8},
}  # fmt: skip
"""Per device kind: widths, layers, token budgets (steps), batch, sequence length, held-out windows."""
_BASE = {"vocab_size": 256, "positional": "rope", "norm": "rmsnorm", "bias": False}
_TRAIN = {
    "lr": 2e-3,
    "warmup_steps": 10,
    "weight_decay": 0.1,
    "eval_every": 0,
    "eval_batches": 1,
    "log_every": 50,
}


def _hardware(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def sweep_on(device: str, settings: dict[str, Any], store: Path, progress: bool = True) -> dict[str, Any]:
    """Run the sweep on ``device`` with ``settings`` (keys of :data:`DEFAULTS`) and return the result record.

    Args:
        device: ``"cpu"`` or ``"cuda[:N]"``.
        settings: widths, layers, budgets, batch_size, seq_len, n_windows.
        store: folder for the finished runs (resume).
        progress: show progress bars.
    """
    from llmkb.data import TokenDataset
    from llmkb.train.shared_model import SHARED_CORPUS
    from llmkb.train.sweep import budget_runs, run_sweep, train_point

    seq, batch = settings["seq_len"], settings["batch_size"]
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    gen = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(data.val) - seq - 1, (settings["n_windows"],), generator=gen)
    windows = torch.stack([torch.as_tensor(data.val[s : s + seq + 1]) for s in starts.tolist()]).long()
    base = {**_BASE, "max_seq_len": seq}
    train = {**_TRAIN, "batch_size": batch, "seq_len": seq}
    runs = budget_runs(base, train, settings["widths"], settings["layers"], settings["budgets"])
    records = run_sweep(
        runs, lambda r: train_point(r, data, windows, device=device), store, progress=progress
    )
    return {
        "device": device,
        "hardware": _hardware(device),
        "date": dt.date.today().isoformat(),
        "torch": torch.__version__,
        "settings": settings,
        "model": base,
        "train": train,
        "records": records,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--out`` and overrides of the default sizes."""
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: $OUT or .)")
    parser.add_argument("--widths", type=int, nargs="+", help="model widths (d_model)")
    parser.add_argument("--layers", type=int, help="layers of every model")
    parser.add_argument("--budgets", type=int, nargs="+", help="steps at which the held-out loss is read")
    parser.add_argument("--batch-size", type=int, dest="batch_size")
    parser.add_argument("--seq-len", type=int, dest="seq_len")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Check the device and settings, run the sweep, write ``scaling_<device>.json`` atomically."""
    kind = "cuda" if args.device.startswith("cuda") else args.device
    if kind not in DEFAULTS:
        raise UsageError(f"--device must be cuda, cuda:N or cpu, not {args.device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "--device cuda needs a CUDA GPU and none is visible; use --device cpu to test the sweep"
        )
    settings = dict(DEFAULTS[kind])
    for key in ("widths", "layers", "budgets", "batch_size", "seq_len"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if min(settings["widths"]) < 2 or min(settings["budgets"]) < 1 or settings["layers"] < 1:
        raise UsageError("--widths, --layers and --budgets must be positive (widths at least 2)")
    out = args.out if args.out is not None else Path(os.environ.get("OUT", "."))
    out.mkdir(parents=True, exist_ok=True)
    result = sweep_on(args.device, settings, out / "scaling-runs", progress=not args.no_progress)
    path = out / RESULT_NAME.format(device=kind)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    tmp.replace(path)
    last = [r["loss"][-1] for r in result["records"]]
    print(
        f"wrote {path}: {len(last)} sizes on {result['hardware']}, final held-out loss {min(last):.3f}…{max(last):.3f}"
    )
    return 0
