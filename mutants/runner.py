"""Run the curated mutants of ``mutants/mutants.toml`` and report how many the tests kill.

Each mutant is one realistic bug: an exact ``find`` snippet of a library file (it must occur exactly once)
and its ``replace``. The runner copies the tracked files (``git ls-files``) into a temporary directory once
per worker, checks that the unmutated tests pass there (the baseline), then for each mutant writes the
mutated file, runs the mutant's tests with ``python -m pytest -x -q -p no:cacheprovider <tests>``
(``PYTHONPATH`` = the copy, a fresh ``LLMKB_CACHE``, quick profile) and restores the file. A mutant is

* **killed** when pytest reports a failing test (exit status 1),
* **survived** when every selected test passes (exit status 0),
* **timeout** when the run takes longer than ``timeout_s``,
* **error** for any other exit status (a selection that collects nothing, an internal error): a problem of
  the list, counted as not killed.

The kill rate is killed / run; the exit status is 0 when it reaches the list's ``threshold``, 1 when it does
not, 2 when the list is broken or the baseline fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

ROOT = Path(__file__).resolve().parents[1]
LIST_FILE = Path(__file__).with_name("mutants.toml")
_FIELDS = {"id", "file", "find", "replace", "description", "tests"}


class MutantError(Exception):
    """The mutant list is malformed or does not apply to the tree."""


@dataclass(frozen=True)
class Mutant:
    """One curated bug.

    Attributes:
        id: Short unique name (``area-what``).
        file: Path of the mutated file, relative to the repository root.
        find: Exact text that occurs exactly once in ``file``.
        replace: What ``find`` becomes.
        description: One line: the bug, as a reader would describe it.
        tests: pytest node ids (``tests/test_x.py::test_y``) or test files that should fail on it.
    """

    id: str
    file: str
    find: str
    replace: str
    description: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class MutantList:
    """The parsed ``mutants.toml``: the kill-rate threshold, the per-mutant timeout and the mutants."""

    threshold: float
    timeout_s: float
    mutants: tuple[Mutant, ...]


@dataclass(frozen=True)
class Outcome:
    """What happened to one mutant: ``killed``, ``survived``, ``timeout`` or ``error``."""

    mutant: Mutant
    result: str
    seconds: float
    output: str


def load_list(path: Path = LIST_FILE) -> MutantList:
    """Parse and validate a mutant list.

    Raises:
        MutantError: A field is missing, unknown or of the wrong type, an id repeats, or ``replace`` equals
            ``find``.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MutantError(f"cannot read {path}: {exc}") from None
    threshold, timeout_s = doc.get("threshold"), doc.get("timeout_s")
    if not isinstance(threshold, float) or not 0.0 < threshold <= 1.0:
        raise MutantError(f"{path.name}: threshold must be a number in (0, 1], got {threshold!r}")
    if not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise MutantError(f"{path.name}: timeout_s must be a positive number, got {timeout_s!r}")
    mutants: list[Mutant] = []
    for i, entry in enumerate(doc.get("mutant", [])):
        keys = set(entry)
        if keys != _FIELDS:
            raise MutantError(
                f"{path.name}: mutant {i} ({entry.get('id', '?')}): missing {sorted(_FIELDS - keys)}, "
                f"unknown {sorted(keys - _FIELDS)}"
            )
        tests = entry["tests"]
        strings = [entry[k] for k in ("id", "file", "find", "replace", "description")]
        if not all(isinstance(s, str) and s for s in strings[:3] + strings[4:]) or not isinstance(
            entry["replace"], str
        ):
            raise MutantError(
                f"{path.name}: mutant {entry['id']!r}: id, file, find, description must be text"
            )
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t for t in tests):
            raise MutantError(
                f"{path.name}: mutant {entry['id']!r}: tests must be a non-empty list of node ids"
            )
        if entry["find"] == entry["replace"]:
            raise MutantError(f"{path.name}: mutant {entry['id']!r}: replace equals find")
        mutants.append(Mutant(**{**entry, "tests": tuple(tests)}))
    ids = [m.id for m in mutants]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise MutantError(f"{path.name}: repeated mutant ids {repeated}")
    return MutantList(float(threshold), float(timeout_s), tuple(mutants))


def mutated_text(mutant: Mutant, root: Path) -> tuple[str, str]:
    """``(original, mutated)`` text of the mutant's file under ``root``.

    Raises:
        MutantError: The file is missing or ``find`` does not occur exactly once in it.
    """
    path = root / mutant.file
    if not path.is_file():
        raise MutantError(f"mutant {mutant.id!r}: no file {mutant.file}")
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.find)
    if count != 1:
        raise MutantError(
            f"mutant {mutant.id!r}: `find` occurs {count} times in {mutant.file}, expected once"
        )
    return text, text.replace(mutant.find, mutant.replace, 1)


def tracked_files(root: Path) -> list[str]:
    """The files git tracks (or has staged) under ``root`` that exist in the working tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=root, check=True, capture_output=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (root / f).is_file()]


def copy_tree(root: Path, files: Sequence[str], dest: Path) -> None:
    """Copy ``files`` (relative to ``root``) into ``dest``, keeping symbolic links as links."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)


def _env(copy: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LLMKB_TEST_SITE", None)
    env.update(
        PYTHONPATH=str(copy),
        LLMKB_CACHE=str(cache),
        LLMKB_PROFILE="quick",
        OMP_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def check_copy_is_imported(copy: Path) -> None:
    """Make sure ``import llmkb`` in a test run reads the copy, not an installed or editable checkout.

    Raises:
        MutantError: ``llmkb`` would be imported from elsewhere.
    """
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run(
            [sys.executable, "-c", "import llmkb; print(llmkb.__file__)"],
            cwd=copy,
            env=_env(copy, Path(cache)),
            capture_output=True,
            text=True,
            check=False,
        )
    where = Path(out.stdout.strip() or "?").resolve()
    if out.returncode != 0 or copy.resolve() not in where.parents:
        raise MutantError(
            f"the test copy would import llmkb from {where}, not from {copy}: {out.stderr.strip()}"
        )


def run_pytest(copy: Path, tests: Sequence[str], timeout_s: float) -> tuple[str, float, str]:
    """Run ``tests`` in ``copy`` with a fresh lab cache: ``(result, seconds, output)``."""
    with tempfile.TemporaryDirectory(prefix="llmkb-mutant-cache-") as cache:
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=copy,
            env=_env(copy, Path(cache)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a timeout kills pytest and its children
        )
        try:
            output, _ = proc.communicate(timeout=timeout_s)
            result = {0: "survived", 1: "killed"}.get(proc.returncode, "error")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            result = "timeout"
        seconds = time.perf_counter() - start
    shutil.rmtree(
        copy / ".hypothesis", ignore_errors=True
    )  # no example found for one mutant replays on the next
    return result, seconds, output


def run_mutant(mutant: Mutant, copy: Path, timeout_s: float) -> Outcome:
    """Apply ``mutant`` in ``copy``, run its tests, restore the file."""
    original, mutated = mutated_text(mutant, copy)
    path = copy / mutant.file
    path.write_text(mutated, encoding="utf-8")
    try:
        result, seconds, output = run_pytest(copy, mutant.tests, timeout_s)
    finally:
        path.write_text(original, encoding="utf-8")
    return Outcome(mutant, result, seconds, output)


def format_table(outcomes: Sequence[Outcome]) -> str:
    """The report: one row per mutant (id, file, description, result, seconds) and the kill rate."""
    rows = [("id", "file", "description", "result", "s")]
    rows += [
        (o.mutant.id, o.mutant.file, o.mutant.description, o.result, f"{o.seconds:.1f}") for o in outcomes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    killed = sum(o.result == "killed" for o in outcomes)
    lines.append(f"\nkilled {killed} of {len(outcomes)} mutants: {kill_rate(outcomes):.1%}")
    return "\n".join(lines)


def kill_rate(outcomes: Sequence[Outcome]) -> float:
    """Killed / run (1.0 for no mutants)."""
    return sum(o.result == "killed" for o in outcomes) / len(outcomes) if outcomes else 1.0


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mutants [-j N] [--only ID ...] [--no-baseline]``."""
    parser = argparse.ArgumentParser(prog="python -m mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run in parallel (one copy each)")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this mutant")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated test run")
    parser.add_argument("--list", type=Path, default=LIST_FILE, help="the mutant list (TOML)")
    args = parser.parse_args(argv)
    try:
        spec = load_list(args.list)
        chosen = [m for m in spec.mutants if not args.only or m.id in args.only]
        unknown = sorted(set(args.only) - {m.id for m in spec.mutants})
        if unknown:
            raise MutantError(f"no mutant named {unknown}")
        for mutant in chosen:
            mutated_text(mutant, ROOT)
    except MutantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jobs = max(1, min(args.jobs, len(chosen)))
    with tempfile.TemporaryDirectory(prefix="llmkb-mutants-") as tmp:
        files = tracked_files(ROOT)
        copies: Queue[Path] = Queue()
        for i in range(jobs):
            copy = Path(tmp) / f"tree{i}"
            copy_tree(ROOT, files, copy)
            copies.put(copy)
        first = copies.queue[0]
        try:
            check_copy_is_imported(first)
        except MutantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not args.no_baseline:
            tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
            result, seconds, output = run_pytest(first, tests, spec.timeout_s * 4)
            print(f"baseline: {len(tests)} selections, unmutated: {result} in {seconds:.0f} s", flush=True)
            if result != "survived":
                print(
                    f"error: the selected tests do not pass on the unmutated tree\n{_tail(output)}",
                    file=sys.stderr,
                )
                return 2

        def work(mutant: Mutant) -> Outcome:
            copy = copies.get()
            try:
                outcome = run_mutant(mutant, copy, spec.timeout_s)
            finally:
                copies.put(copy)
            print(f"{outcome.result:>8}  {outcome.seconds:5.1f} s  {mutant.id}", flush=True)
            if outcome.result in ("error", "survived"):
                print(_tail(outcome.output, 6), flush=True)
            return outcome

        with ThreadPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(work, chosen))
    print()
    print(format_table(outcomes))
    rate = kill_rate(outcomes)
    verdict = "reaches" if rate >= spec.threshold else "is below"
    print(f"kill rate {rate:.1%} {verdict} the threshold {spec.threshold:.0%}")
    return 0 if rate >= spec.threshold else 1
