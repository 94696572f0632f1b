"""Training a language model on a corpus into a run directory, with nothing ever half-written.

A *run directory* is a checkpoint directory (see :mod:`llmkb.train.checkpoint`) plus

* ``tokenizer/``: the tokenizer, as written by its ``save`` (so ``llmkb generate DIR`` can decode);
* ``run.json``: how the run was made (preset, corpus, tokenizer spec), so ``--resume`` can rebuild the
  data without being told again.

The run directory is created by the first checkpoint of a fresh run, complete (the tokenizer and
``run.json`` are staged beforehand in a locked temporary sibling and copied into every checkpoint), and
every later checkpoint replaces it with an atomic directory swap (see :mod:`llmkb.train.checkpoint`).
So ``--resume`` finds every checkpoint once written, however the process ended (Ctrl-C, an exception, the
OOM killer, a preempted machine); a run that ends before its first checkpoint leaves nothing. Temporaries
left by a killed run are deleted by the next run into the same directory.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from llmkb.data.batching import TokenDataset
from llmkb.errors import UsageError
from llmkb.nn import GPTConfig
from llmkb.train.checkpoint import copy_missing, has_checkpoint, locked_temp_dir, recover
from llmkb.train.config import TrainConfig
from llmkb.train.loop import Callback, TrainResult, train

__all__ = ["RUN_INFO_NAME", "TOKENIZER_DIR", "read_run_info", "train_run"]

#: File of a run directory describing how it was made.
RUN_INFO_NAME = "run.json"
#: Sub-directory of a run directory holding the tokenizer.
TOKENIZER_DIR = "tokenizer"


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """Return ``run.json`` of a run directory (an empty dict if absent or unreadable)."""
    try:
        info = json.loads((Path(run_dir) / RUN_INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def train_run(
    model_config: GPTConfig,
    train_config: TrainConfig,
    dataset: TokenDataset,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    run_info: dict[str, Any] | None = None,
    callback: Callback | None = None,
) -> TrainResult:
    """Train on ``dataset`` into the run directory ``out_dir`` (see the module docstring).

    Whatever ends training (Ctrl-C, an exception, a signal), every checkpoint already written stays in
    ``out_dir``, ready for ``resume``.

    Args:
        model_config: The architecture (ignored in favour of the checkpoint's when resuming).
        train_config: Optimization settings.
        dataset: Tokenized corpus; its tokenizer is saved in ``out_dir/tokenizer``.
        out_dir: The run directory; must not exist unless ``resume``.
        resume: Continue the checkpoint in ``out_dir``.
        progress: Show a progress bar.
        run_info: JSON-serializable facts stored in ``run.json``.
        callback: Passed to :func:`~llmkb.train.train`.

    Returns:
        The :class:`~llmkb.train.TrainResult`; ``result.out_dir`` is ``out_dir``.

    Raises:
        UsageError: ``out_dir`` exists and ``resume`` is false, or ``resume`` without a checkpoint.
        KeyboardInterrupt: After Ctrl-C; the checkpoint of the last finished step is in ``out_dir``.
    """
    out = Path(out_dir)
    dataset.check_seq_len(train_config.seq_len)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:  # only rank 0 writes, so only it cleans up
        recover(out)
    if resume:
        if not has_checkpoint(out):
            raise UsageError(f"no checkpoint to resume in {str(out)!r}: train without --resume first")
        result = train(
            model_config,
            train_config,
            dataset,
            out_dir=out,
            resume=True,
            progress=progress,
            callback=callback,
        )
        result.out_dir = out
        return result
    if out.exists():
        raise UsageError(f"{str(out)!r} already exists: pass --resume to continue it, or choose a new --out")
    if rank != 0:  # the others need a path that is never created
        work = out.parent / f".{out.name}.rank{rank}-unused"
        return train(model_config, train_config, dataset, out_dir=work, progress=False, callback=callback)
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked_temp_dir(out) as staged:
        _write_run_files(staged, dataset, run_info)
        return train(
            model_config,
            train_config,
            dataset,
            out_dir=out,
            progress=progress,
            callback=callback,
            checkpoint_extras=functools.partial(copy_missing, staged),
        )


def _write_run_files(directory: Path, dataset: TokenDataset, run_info: dict[str, Any] | None) -> None:
    """Write ``tokenizer/`` and ``run.json`` of a run into ``directory``."""
    dataset.tokenizer.save(directory / TOKENIZER_DIR)
    info = {**(run_info or {}), "vocab_size": dataset.vocab_size}
    (directory / RUN_INFO_NAME).write_text(
        json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
