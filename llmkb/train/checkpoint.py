"""Training checkpoints: one directory, replaced atomically, loadable with ``weights_only=True``.

A checkpoint directory holds

* ``model.safetensors`` and ``config.json``: the model, as written by :meth:`llmkb.nn.GPT.save` (so
  ``GPT.load(dir)`` and ``llmkb generate DIR`` read it directly);
* ``train_state.pt``: everything else needed to continue the run as if it had never stopped: the
  optimizer state, the step, the RNG states (the global torch generator, the CUDA one if used, and each
  process's batch-sampling generator) stored as ``uint8`` tensors, the training config and the history.
  It contains only tensors, numbers, strings, lists, tuples, dicts and ``None``, so
  ``torch.load(path, weights_only=True)`` reads it.

Writing is atomic as a whole: the new checkpoint is assembled in a temporary sibling directory
``.<name>.tmp-*``, flushed to disk (``fsync``), and swapped in with two renames (``<name>`` to
``.<name>.old``, the temporary to ``<name>``), so a reader, or a crash or ``SIGKILL`` at any instant, sees
either the old checkpoint or the new one, never a mixture. Entries of the old directory that the
checkpoint does not write (e.g. ``tokenizer/``) are copied into the new one before the swap. The first
write creates the directory with a single rename: it never exists half-written.

**Leftovers of a killed writer.** A process killed while writing leaves its temporary directory behind
(and, if cut between the two renames, ``.<name>.old`` without ``<name>``). :func:`recover` puts the old
checkpoint back and deletes the abandoned temporaries; it runs before every write. A writer holds an
exclusive ``flock`` on its temporary directory for as long as it works in it, and the kernel drops the
lock when the process ends, however it ends: a temporary whose lock can be taken is abandoned, one whose
lock is held belongs to a live process and is left alone. (Without ``flock``, i.e. off POSIX, every
leftover is taken for abandoned, and nothing is ``fsync``-ed.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from llmkb.errors import UsageError

if os.name == "posix":
    import fcntl
else:  # pragma: no cover - llmkb is developed and tested on Linux
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHECKPOINT_FILES",
    "STATE_NAME",
    "copy_missing",
    "has_checkpoint",
    "load_train_state",
    "locked_temp_dir",
    "recover",
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
    _finish_swap(root)
    return all((root / name).is_file() for name in CHECKPOINT_FILES)


def recover(directory: str | Path) -> None:
    """Repair what killed writers left around ``directory`` (see the module docstring).

    Puts back the old checkpoint of a swap cut between its two renames, and deletes the temporary
    siblings ``.<name>.tmp-*`` that no live process holds, with their own leftovers (earlier llmkb
    versions built a whole run inside such a temporary). Safe to call at any time.
    """
    target = Path(directory)
    _finish_swap(target)
    _sweep(target)


def replace_dir_atomically(
    directory: str | Path, write: Callable[[Path], None], *, create: bool = False
) -> Path:
    """Build a new version of ``directory`` with ``write(tmp_dir)`` and swap it in.

    Args:
        directory: The directory to create or replace.
        write: Fills the (empty, existing) temporary directory it is given.
        create: The directory must not exist yet (it is created by this write, never merged into a
            directory that someone else made).

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: ``create`` and the directory exists.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    if create and target.exists():
        raise UsageError(f"{str(target)!r} appeared while training: choose another directory")
    with locked_temp_dir(target) as tmp:
        write(tmp)
        replacing = target.exists()
        if replacing:
            copy_missing(target, tmp)
        _fsync_tree(tmp)
        if replacing:
            old = _old_name(target)
            os.rename(target, old)
            os.rename(tmp, target)
            _fsync_dir(target.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
            _fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def locked_temp_dir(target: str | Path) -> Iterator[Path]:
    """A new temporary sibling ``.<name>.tmp-*`` of ``target``, locked against :func:`recover` while in use.

    The directory is deleted on exit unless it was renamed away (e.g. to ``target``) meanwhile.
    """
    tmp, fd = _new_locked_temp(Path(target))
    try:
        yield tmp
    finally:
        _unlock(fd)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def copy_missing(source: Path, dest: Path) -> None:
    """Copy every entry of the directory ``source`` that ``dest`` does not have (symlinks as links)."""
    for entry in source.iterdir():
        target = dest / entry.name
        if target.exists() or target.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True)
        else:
            shutil.copy2(entry, target, follow_symlinks=False)


def save_train_state(directory: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus a format tag) to ``directory/train_state.pt``."""
    torch.save({"format": _FORMAT, **state}, directory / STATE_NAME)


def load_train_state(directory: str | Path) -> dict[str, Any]:
    """Read ``train_state.pt`` with ``weights_only=True``.

    Raises:
        UsageError: The file is missing, unreadable or of an unknown format.
    """
    path = Path(directory) / STATE_NAME
    _finish_swap(Path(directory))
    if not path.is_file():
        raise UsageError(f"no checkpoint in {str(directory)!r} ({STATE_NAME} missing): train first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise UsageError(f"cannot read checkpoint {str(path)!r}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise UsageError(f"{str(path)!r} is not a llmkb training checkpoint (format {_FORMAT})")
    return state


# ----------------------------------------------------------------------------------- leftovers


def _old_name(target: Path) -> Path:
    return target.parent / f".{target.name}.old"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def _temporaries(target: Path) -> list[Path]:
    """The temporary sibling directories of ``target``, live or abandoned."""
    prefix = _temp_prefix(target)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()]


def _finish_swap(target: Path) -> None:
    """Finish a swap that was cut between its two renames (the old version is put back)."""
    old = _old_name(target)
    if not old.exists():
        return
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
    elif not _writer_alive(target):  # a live writer is between its renames: it finishes the swap
        with contextlib.suppress(FileNotFoundError):  # someone else just put it back
            os.rename(old, target)


def _writer_alive(target: Path) -> bool:
    for tmp in _temporaries(target):
        fd = _lock(tmp, wait=False)
        if fd is None:
            return True
        _unlock(fd)
    return False


def _sweep(target: Path) -> None:
    """Delete the temporaries of ``target`` that no live process holds (holding their lock meanwhile)."""
    for tmp in _temporaries(target):
        fd = _lock(tmp, wait=False)
        if fd is None:
            continue
        try:
            _sweep(tmp)
            shutil.rmtree(_old_name(tmp), ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            _unlock(fd)


def _new_locked_temp(target: Path) -> tuple[Path, int]:
    """Make and lock a temporary of ``target`` with ordinary permissions (``mkdtemp`` makes it 0700)."""
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), dir=target.parent))
        fd = _lock(tmp, wait=True)
        if fd is not None and tmp.is_dir():
            break
        _unlock(fd)  # a sweep deleted it between its creation and the lock: make another
        if tmp.exists():
            raise OSError(f"cannot lock the temporary directory {str(tmp)!r}")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp, fd


def _lock(path: Path, *, wait: bool) -> int | None:
    """An open descriptor of ``path`` holding its exclusive ``flock``; ``None`` if it is held or gone."""
    if fcntl is None:  # pragma: no cover - no flock: nothing to hold, every leftover is abandoned
        return -1 if path.exists() else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # gone, or not ours to open: not to be touched either way
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


# ----------------------------------------------------------------------------------- durability


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk, so that publishing it by rename is durable."""
    if fcntl is None:  # pragma: no cover - directories cannot be opened for fsync off POSIX
        return
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync(os.path.join(dirpath, name))
        _fsync(dirpath)


def _fsync_dir(path: Path) -> None:
    if fcntl is not None:
        _fsync(str(path))


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
