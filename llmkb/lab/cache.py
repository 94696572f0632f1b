"""The on-disk result cache of the lab pipeline.

Layout: ``<cache root>/<profile>/<experiment name>/<key>/`` holding ``result.json`` (the JSON part of
the result), ``arrays.npz`` (its arrays) and whatever artifacts the experiment wrote (checkpoints,
rendered figures). The key hashes the experiment's code, config, profile and the keys of the
experiments it needs; :func:`code_hash` follows the experiment module's imports of llmkb modules
transitively, so editing any code an experiment depends on re-runs it, and editing unrelated code
does not.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

_ARRAY_TAG = "__array__"


def cache_root() -> Path:
    """The cache root: ``$LLMKB_CACHE`` or ``.cache/llmkb`` under the current directory."""
    return Path(os.environ.get("LLMKB_CACHE", ".cache/llmkb")).resolve()


def run_log() -> Path:
    """The append-only log of experiment runs (one line per actual run, none for cache hits)."""
    return cache_root() / "runs.log"


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    return Path(spec.origin)


@cache
def _imported_modules(name: str, source: bytes, is_pkg: bool, roots: frozenset[str]) -> frozenset[str]:
    """Names of modules under the top-level packages ``roots`` that ``source`` (module ``name``) imports
    statically. Memoised on the source itself, so each file is parsed once per process however many
    experiments' closures contain it, and an edited file is parsed again."""
    tree = ast.parse(source)
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] in roots)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] not in roots:
                continue
            found.add(base)
            for alias in node.names:  # `from llmkb import nn` imports the submodule llmkb.nn
                found.add(f"{base}.{alias.name}")
    # every parent package's __init__ runs too
    for mod in list(found):
        parts = mod.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


@cache
def _closure(module: str) -> tuple[tuple[str, str], ...]:
    roots = frozenset({"llmkb", module.split(".")[0]})
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None or path.suffix != ".py":
            continue
        source = path.read_bytes()
        seen[name] = hashlib.sha256(source).hexdigest()
        todo.extend(_imported_modules(name, source, path.name == "__init__.py", roots) - seen.keys())
    return tuple(sorted(seen.items()))


def code_hash(module: str) -> str:
    """Hash of a module's source and of every module it imports from llmkb or from its own top-level
    package, transitively (static analysis of ``import`` statements anywhere in the source).

    Args:
        module: dotted module name, e.g. ``"llmkb.lab.topics.tokenization"``.

    Returns:
        A hex digest that changes whenever any of those sources changes.
    """
    h = hashlib.sha256()
    for name, digest in _closure(module):
        h.update(f"{name}={digest}\n".encode())
    return h.hexdigest()


def clear_code_hash_cache() -> None:
    """Forget memoised code hashes (after editing sources in a running process)."""
    _closure.cache_clear()
    _imported_modules.cache_clear()


def make_key(parts: Mapping[str, Any]) -> str:
    """A short stable key from a JSON-able mapping."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _to_numpy(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray):
        return value
    mod = type(value).__module__
    if mod.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return None


def _split(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    """Replace arrays inside ``value`` with tags, collecting them into ``arrays``."""
    arr = _to_numpy(value)
    if arr is not None:
        arrays[path] = arr
        return {_ARRAY_TAG: path}
    if isinstance(value, Mapping):
        return {str(k): _split(v, arrays, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY_TAG}:
            return arrays[value[_ARRAY_TAG]]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def to_jsonable(value: Any) -> Any:
    """Convert a result (or part of one) to plain JSON types: arrays become nested lists."""
    arr = _to_numpy(value)
    if arr is not None:
        return arr.tolist()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Result(Mapping[str, Any]):
    """A cached experiment result: a read-only mapping plus the directory of its artifacts.

    Attributes:
        name: experiment name.
        profile: profile it ran under.
        key: cache key.
        dir: directory holding ``result.json``, ``arrays.npz`` and artifacts.
        ran: True when this call actually ran the experiment (False on a cache hit).
    """

    def __init__(self, name: str, profile: str, key: str, directory: Path, data: dict, ran: bool) -> None:
        self.name, self.profile, self.key, self.dir, self.ran = name, profile, key, directory, ran
        self._data = data

    def __getitem__(self, k: str) -> Any:
        return self._data[k]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def path(self, dotted: str) -> Any:
        """Look up ``"a.b.0.c"``-style paths (list indices allowed)."""
        cur: Any = self._data
        for part in dotted.split("."):
            if isinstance(cur, (list, tuple)) or (isinstance(cur, np.ndarray) and part.lstrip("-").isdigit()):
                cur = cur[int(part)]
            else:
                cur = cur[part]
        return cur

    def __repr__(self) -> str:
        return f"Result({self.name!r}, profile={self.profile!r}, key={self.key!r}, keys={list(self._data)})"


def result_dir(name: str, profile: str, key: str) -> Path:
    """Where the result of ``name`` under ``profile`` with ``key`` lives."""
    return cache_root() / profile / name / key


def load(name: str, profile: str, key: str) -> Result | None:
    """Load a cached result, or None when there is none (or it is incomplete)."""
    d = result_dir(name, profile, key)
    meta = d / "result.json"
    if not meta.is_file():
        return None
    data = json.loads(meta.read_text(encoding="utf-8"))
    arrays: dict[str, np.ndarray] = {}
    if (d / "arrays.npz").is_file():
        with np.load(d / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return Result(name, profile, key, d, _join(data, arrays), ran=False)


def staging_dir(name: str, profile: str) -> Path:
    """A fresh temporary directory, beside the final one, for an experiment to write artifacts into."""
    parent = cache_root() / profile / name
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))


def store(
    name: str, profile: str, key: str, data: Mapping[str, Any], staging: Path, *, replace: bool = False
) -> Result:
    """Write ``data`` into ``staging`` and move it into place atomically; log the run.

    A complete result directory is never deleted while another process may be reading it: when a
    concurrent run of the same experiment (same key, hence the same inputs) got there first, its result
    is kept and ours is dropped. Only ``replace=True`` (a forced re-run) swaps an existing result out.

    Args:
        name: experiment name.
        profile: profile the result belongs to.
        key: cache key of the run.
        data: what the experiment returned.
        staging: the run's staging directory (from `staging_dir`); it is consumed.
        replace: replace an existing complete result instead of keeping it.

    Returns:
        The stored result, loaded back from the cache.
    """
    arrays: dict[str, np.ndarray] = {}
    plain = _split(dict(data), arrays, "")
    (staging / "result.json").write_text(json.dumps(plain, indent=1, sort_keys=True), encoding="utf-8")
    if arrays:
        np.savez_compressed(staging / "arrays.npz", **arrays)
    final = result_dir(name, profile, key)
    if final.exists() and (replace or not (final / "result.json").is_file()):
        _discard(final)  # forced re-run, or a directory left incomplete by a crash
    try:
        os.rename(staging, final)
    except OSError:
        if not (final / "result.json").is_file():
            raise
        # a concurrent identical run finished first: keep its result
        shutil.rmtree(staging, ignore_errors=True)
    with run_log().open("a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {profile} {name} {key}\n")
    res = load(name, profile, key)
    assert res is not None
    res.ran = True
    return res


def _discard(directory: Path) -> None:
    """Move ``directory`` aside atomically, then delete it (readers never see it half-deleted)."""
    trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=directory.parent))
    try:
        os.rename(directory, trash / "old")
    except FileNotFoundError:
        pass  # someone else discarded it already
    shutil.rmtree(trash, ignore_errors=True)


def count_runs(names: Iterable[str] | None = None) -> int:
    """How many runs the run log records (optionally only of ``names``)."""
    log = run_log()
    if not log.is_file():
        return 0
    wanted = set(names) if names is not None else None
    n = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and (wanted is None or parts[2] in wanted):
            n += 1
    return n


def environment_fingerprint() -> dict[str, str]:
    """Versions that can change results: Python, numpy, torch (when importable)."""
    fp = {"python": sys.version.split()[0], "numpy": np.__version__}
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch  # noqa: F401
        except ImportError:  # pragma: no cover - torch is a hard dependency
            torch = None
    if torch is not None:
        fp["torch"] = torch.__version__
    return fp
