"""Records with provenance, the generator registry, and streaming datasets to and from disk.

A record is one JSON object per line::

    {"text": "...", "generator": "grammar", "seed": 0, "index": 17, "params": {"max_depth": 6}}

so every document says where it came from and can be regenerated (:func:`generate` draws document ``i`` of
``seed`` from ``random.Random(f"{seed}:{i}")``). Writing goes to a temporary file in the target folder that is
renamed over the target at the end: an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from llmkb.data.generate import code, grammar, textbook
from llmkb.errors import UsageError

__all__ = ["GENERATORS", "atomic_writer", "generate", "read_records", "read_texts", "write_records"]

#: Template generators by name: ``(rng, **params) -> one document``.
GENERATORS: dict[str, Callable[..., str]] = {
    "grammar": grammar.document,
    "textbook": textbook.document,
    "code": code.document,
}


def generate(name: str, n: int, seed: int = 0, **params: Any) -> Iterator[dict[str, Any]]:
    """Stream ``n`` records of the template generator ``name``.

    Raises:
        UsageError: an unknown generator, ``n < 0`` or a parameter the generator does not take.
    """
    if name not in GENERATORS:
        raise UsageError(f"unknown generator {name!r}: choose from {', '.join(GENERATORS)}")
    if n < 0:
        raise UsageError(f"the number of documents must be >= 0, got {n}")
    fn = GENERATORS[name]
    try:
        fn(random.Random(0), **params)  # validate the parameters once, before anything is yielded
    except TypeError as exc:
        raise UsageError(f"bad parameter for generator {name!r}: {exc}") from None
    for i in range(n):
        yield {"text": fn(random.Random(f"{seed}:{i}"), **params), "generator": name, "seed": seed,
               "index": i, "params": params}  # fmt: skip


class atomic_writer:  # noqa: N801 - used like open()
    """``with atomic_writer(path) as f:`` writes text to a temporary sibling, renamed to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Any:
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"output folder {str(folder)!r} does not exist: create it first")
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        self._f = os.fdopen(fd, "w", encoding="utf-8")
        return self._f

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._f.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)


def write_records(records: Iterable[dict[str, Any]], path: str | Path, *, progress: bool = False,
                  total: int | None = None) -> int:  # fmt: skip
    """Write records as JSONL (``.jsonl``) or their texts one per line (other suffixes, newlines escaped as
    ``\\n``), atomically; a tqdm bar on stderr if ``progress``. Returns the number written."""
    from tqdm import tqdm

    as_json = Path(path).suffix == ".jsonl"
    n = 0
    with atomic_writer(path) as f:
        for rec in tqdm(records, total=total, disable=not progress, file=sys.stderr, unit="doc"):
            f.write(json.dumps(rec, ensure_ascii=False) if as_json else rec["text"].replace("\n", "\\n"))
            f.write("\n")
            n += 1
    return n


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the records of a ``.jsonl`` file (each needs a string ``text``) or of a text file (one document
    per line, ``\\n`` escapes undone), line by line: memory stays bounded on any size of file.

    Raises:
        UsageError: the file is missing, not UTF-8, or a JSONL line is not an object with a string ``text``.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"input {str(p)!r} not found: give an existing .jsonl or text file")
    as_json = p.suffix == ".jsonl"
    with p.open(encoding="utf-8") as f:
        try:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if not as_json:
                    yield {"text": line.rstrip("\n").replace("\\n", "\n")}
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"{p}:{lineno}: not JSON ({exc.msg}): each line must be one object"
                    ) from None
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    raise UsageError(f"{p}:{lineno}: each line must be an object with a string 'text' field")
                yield rec
        except UnicodeDecodeError:
            raise UsageError(f"input {str(p)!r} is not UTF-8: convert it, e.g. with iconv") from None


def read_texts(path: str | Path) -> Iterator[str]:
    """The ``text`` of every record of :func:`read_records`."""
    for rec in read_records(path):
        yield rec["text"]
