"""Training checkpoints: one directory, replaced atomically, loadable with ``weights_only=True``.

A checkpoint directory holds

* ``model.safetensors`` and ``config.json``: the model, as written by :meth:`llmkb.nn.GPT.save` (so
  ``GPT.load(dir)`` and ``llmkb generate DIR`` read it directly);
* ``train_state.pt``: everything else needed to continue the run as if it had never stopped: the
  optimizer state, the step, the RNG states (the global torch generator, the CUDA one if used, and each
  process's batch-sampling generator) stored as ``uint8`` tensors, the training config and the history.
  It contains only tensors, numbers, strings, lists, tuples, dicts and ``None``, so
  ``torch.load(path, weights_only=True)`` reads it.

Writing is atomic as a whole: the new checkpoint is assembled in a temporary sibling directory and
swapped in with two renames, so a reader (or a crash) sees either the old checkpoint or the new one,
never a mixture. Entries of the old directory that the checkpoint does not write (e.g. ``tokenizer/``)
are copied into the new one before the swap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from llmkb.errors import UsageError

__all__ = [
    "CHECKPOINT_FILES",
    "STATE_NAME",
    "has_checkpoint",
    "load_train_state",
    "make_temp_dir",
    "replace_dir_atomically",
    "save_train_state",
]

#: Name of the non-model part of a checkpoint.
STATE_NAME = "train_state.pt"
#: Files every checkpoint directory holds.
CHECKPOINT_FILES: tuple[str, ...] = ("model.safetensors", "config.json", STATE_NAME)
_FORMAT = 1


def has_checkpoint(directory: str | Path) -> bool:
    """Whether ``directory`` holds every file of a training checkpoint."""
    root = Path(directory)
    _recover(root)
    return all((root / name).is_file() for name in CHECKPOINT_FILES)


def replace_dir_atomically(directory: str | Path, write: Callable[[Path], None]) -> Path:
    """Build a new version of ``directory`` with ``write(tmp_dir)`` and swap it in.

    Args:
        directory: The directory to create or replace.
        write: Fills the (empty, existing) temporary directory it is given.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    tmp = make_temp_dir(target)
    try:
        write(tmp)
        if not target.exists():
            os.rename(tmp, target)
            return target
        for entry in target.iterdir():
            dest = tmp / entry.name
            if dest.exists() or dest.is_symlink():
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, dest, symlinks=True)
            else:
                shutil.copy2(entry, dest, follow_symlinks=False)
        old = _old_name(target)
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def make_temp_dir(target: Path) -> Path:
    """An empty hidden sibling of ``target`` with ordinary permissions (``mkdtemp`` makes it 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def save_train_state(directory: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus a format tag) to ``directory/train_state.pt``."""
    torch.save({"format": _FORMAT, **state}, directory / STATE_NAME)


def load_train_state(directory: str | Path) -> dict[str, Any]:
    """Read ``train_state.pt`` with ``weights_only=True``.

    Raises:
        UsageError: The file is missing, unreadable or of an unknown format.
    """
    path = Path(directory) / STATE_NAME
    _recover(Path(directory))
    if not path.is_file():
        raise UsageError(f"no checkpoint in {str(directory)!r} ({STATE_NAME} missing): train first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise UsageError(f"cannot read checkpoint {str(path)!r}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise UsageError(f"{str(path)!r} is not a llmkb training checkpoint (format {_FORMAT})")
    return state


def _old_name(target: Path) -> Path:
    return target.parent / f".{target.name}.old"


def _recover(target: Path) -> None:
    """Finish a swap that was cut between its two renames (the old version is put back)."""
    old = _old_name(target)
    if old.exists():
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, target)
