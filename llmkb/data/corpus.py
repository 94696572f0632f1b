"""Text corpora that need no download: CPython's own documentation and sources, or your files.

Three kinds of corpus are understood by :func:`load_corpus`:

* ``"pydoc"``: the topic help texts shipped with CPython (``pydoc_data.topics.topics``), the pages
  ``help("if")`` shows. About 0.46 MB of English prose about Python, sorted by topic name and joined with
  blank lines. This is the default corpus of the shared model.
* ``"stdlib"``: the ``.py`` sources of the standard library this interpreter runs on (tests, ``idlelib``,
  ``lib2to3``, ``turtledemo``, ``ensurepip`` and ``site-packages`` left out), in sorted path order and
  joined with blank lines, stopping before the file that would make the text exceed ``max_chars``
  (:data:`STDLIB_MAX_CHARS`, 4 million characters, by default). Deterministic for a given Python version.
* a path: a UTF-8 text file, or a folder read recursively in sorted path order (hidden entries skipped,
  files containing a NUL byte treated as binary and skipped).
"""

from __future__ import annotations

import functools
import os
import sysconfig
from pathlib import Path

from llmkb.errors import UsageError

__all__ = ["BUILTIN_CORPORA", "STDLIB_MAX_CHARS", "load_corpus"]

#: Names :func:`load_corpus` understands without a path.
BUILTIN_CORPORA: tuple[str, ...] = ("pydoc", "stdlib")

#: Default cap on the size of the ``"stdlib"`` corpus, in characters.
STDLIB_MAX_CHARS: int = 4_000_000

_STDLIB_SKIP_DIRS = frozenset(
    {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "ensurepip"}
)


def load_corpus(name_or_path: str | Path, *, max_chars: int | None = None) -> str:
    """Return the text of a corpus.

    Args:
        name_or_path: ``"pydoc"``, ``"stdlib"``, or the path of a UTF-8 text file or of a folder of them.
        max_chars: For ``"stdlib"`` only: the size cap in characters (default :data:`STDLIB_MAX_CHARS`).
            Whole files are kept; the first file that would cross the cap ends the corpus.

    Returns:
        The corpus as one string.

    Raises:
        UsageError: The name is neither a built-in corpus nor an existing path, a file is not valid
            UTF-8, or the corpus is empty.
    """
    if isinstance(name_or_path, str) and name_or_path == "pydoc":
        return _pydoc_corpus()
    if isinstance(name_or_path, str) and name_or_path == "stdlib":
        cap = STDLIB_MAX_CHARS if max_chars is None else max_chars
        if cap < 1:
            raise UsageError(f"max_chars must be at least 1, got {cap}")
        return _stdlib_corpus(cap)
    path = Path(name_or_path)
    if not path.exists():
        raise UsageError(
            f"corpus {str(name_or_path)!r} not found: use {' or '.join(BUILTIN_CORPORA)}, "
            "or the path of an existing text file or folder"
        )
    if path.is_dir():
        return _folder_corpus(path)
    text = _read_utf8(path)
    if not text.strip():
        raise UsageError(f"corpus file {str(path)!r} is empty: give a file with some text in it")
    return text


@functools.cache
def _pydoc_corpus() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n"


@functools.cache
def _stdlib_corpus(max_chars: int) -> str:
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for path in _stdlib_sources(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not text.strip():
            continue
        cost = len(text) + (2 if parts else 0)
        if total + cost > max_chars:
            break
        parts.append(text)
        total += cost
    if not parts:
        raise UsageError(f"no standard-library source fits in max_chars={max_chars}: raise the cap")
    return "\n\n".join(parts)


def _stdlib_sources(root: Path) -> list[Path]:
    """``.py`` files under ``root`` in sorted relative-path order, skipped folders pruned."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if d not in _STDLIB_SKIP_DIRS and not d.startswith(".") and d != "__pycache__"
        ]
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(".py"))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _folder_corpus(folder: Path) -> str:
    parts: list[str] = []
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\x00" in data:
            continue  # binary file
        text = _decode_utf8(data, path)
        if text.strip():
            parts.append(text)
    if not parts:
        raise UsageError(f"corpus folder {str(folder)!r} holds no non-empty text file: add some .txt files")
    return "\n\n".join(parts)


def _read_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read corpus file {str(path)!r}: {exc.strerror}") from None
    return _decode_utf8(data, path)


def _decode_utf8(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"corpus file {str(path)!r} is not UTF-8 (byte {exc.start}): convert it, e.g. with iconv"
        ) from None
