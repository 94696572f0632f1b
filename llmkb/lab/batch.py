"""Run many experiments with one progress line per experiment that actually runs.

Both the site build (the MkDocs plugin) and ``llmkb lab run`` go through :func:`run_batch`, so a cold build
and a background run print the same lines::

    lab [full] 3/20 positional/compare … started (elapsed 1m29s)
    lab [full] 3/20 positional/compare … 41.2 s (elapsed 2m10s)

``3/20`` counts the experiments that are not cached (needs included, in the order they run); cache hits
print nothing. An experiment that runs long also prints ``… running for 2m00s (elapsed 3m29s)`` every minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from llmkb.lab import cache
from llmkb.lab.registry import get_experiment, is_cached, run

Reporter = Callable[[str], None]


class ExperimentFailed(RuntimeError):
    """An experiment of a batch raised; the message names it and the original error (on one line).

    Attributes:
        name: the experiment that failed.
    """

    def __init__(self, name: str, error: str) -> None:
        super().__init__(f"experiment {name} failed: {error}")
        self.name = name


def format_elapsed(seconds: float) -> str:
    """``41s``, ``2m10s`` or ``1h02m``: a wall-clock duration for a progress line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def progress_line(
    profile: str,
    index: int,
    total: int,
    name: str,
    *,
    elapsed: float,
    seconds: float | None = None,
    error: str = "",
    running: bool = False,
) -> str:
    """One progress line: started (``seconds`` None), still running (``running``), done (``seconds`` given)
    or failed (``error`` given).

    Args:
        profile: the profile the experiment runs under.
        index: its 1-based position among the experiments that run.
        total: how many experiments run.
        name: the experiment.
        elapsed: seconds since the batch started.
        seconds: how long this experiment took, once it is done.
        error: a one-line reason, when it failed.
        running: the experiment is still running, for ``seconds`` so far.

    Returns:
        The line, without a newline.
    """
    head = f"lab [{profile}] {index}/{total} {name} …"
    if error:
        what = f"failed after {seconds or 0.0:.1f} s: {error}"
    elif seconds is None:
        what = "started"
    elif running:
        what = f"running for {format_elapsed(seconds)}"
    else:
        what = f"{seconds:.1f} s"
    return f"{head} {what} (elapsed {format_elapsed(elapsed)})"


def with_needs(names: Iterable[str]) -> list[str]:
    """``names`` and the experiments they need, transitively, each after its needs (otherwise in order)."""
    out: list[str] = []

    def visit(name: str) -> None:
        if name in out:
            return
        for need in get_experiment(name).needs:
            visit(need)
        out.append(name)

    for name in names:
        visit(name)
    return out


def pending(names: Iterable[str], profile: str) -> list[str]:
    """The experiments among ``names`` and their needs that have no cached result, in the order they run."""
    return [n for n in with_needs(names) if not is_cached(n, profile)]


@contextmanager
def _heartbeat(every: float | None, line: Callable[[float], str], report: Reporter) -> Iterator[None]:
    """Report ``line(seconds so far)`` every ``every`` seconds until the block ends (never if None)."""
    if not every:
        yield
        return
    stop = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            report(line(time.perf_counter() - start))

    thread = threading.Thread(target=beat, name="llmkb-lab-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes:
        results: the result of each requested experiment that has one (cached or run now).
        ran: experiments run now, in order.
        failed: a one-line error per experiment that failed, or that was skipped because a need failed.
    """

    results: dict[str, cache.Result] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def run_batch(
    names: Iterable[str],
    profile: str,
    *,
    report: Reporter,
    force: bool = False,
    keep_going: bool = False,
    show_progress: bool = False,
    on_result: Callable[[str], None] | None = None,
    heartbeat: float | None = 60.0,
) -> BatchResult:
    """Run ``names`` (and what they need) under ``profile``, reporting each experiment that runs.

    Args:
        names: experiments to make available.
        profile: ``quick`` or ``full``.
        report: called with each progress line (e.g. ``print`` to stderr or a logger's ``info``).
        force: re-run ``names`` themselves even when cached (their needs only when not cached).
        keep_going: record a failure and go on with the experiments that do not need the failed one,
            instead of raising.
        show_progress: let experiments show their own progress bars.
        on_result: called with the name of each experiment as soon as its result is stored.
        heartbeat: report an experiment still running every this many seconds (None: never).

    Returns:
        A :class:`BatchResult`.

    Raises:
        ExperimentFailed: on the first failure, unless ``keep_going``.
    """
    names = list(dict.fromkeys(names))
    chosen = set(names)
    todo = [n for n in with_needs(names) if (force and n in chosen) or not is_cached(n, profile)]
    out = BatchResult()
    t0 = time.perf_counter()
    for i, name in enumerate(todo, 1):
        broken = next((n for n in get_experiment(name).needs if n in out.failed), None)
        if broken is not None:
            out.failed[name] = f"needs {broken}, which failed"
            continue
        report(progress_line(profile, i, len(todo), name, elapsed=time.perf_counter() - t0))
        start = time.perf_counter()

        def still(seconds: float, i: int = i, name: str = name) -> str:
            return progress_line(
                profile, i, len(todo), name, elapsed=time.perf_counter() - t0, seconds=seconds, running=True
            )

        try:
            with _heartbeat(heartbeat, still, report):
                run(name, profile, force=force and name in chosen, show_progress=show_progress)
        except Exception as exc:
            took, now = time.perf_counter() - start, time.perf_counter() - t0
            error = " ".join(f"{type(exc).__name__}: {exc}".split())
            report(progress_line(profile, i, len(todo), name, elapsed=now, seconds=took, error=error))
            if not keep_going:
                raise ExperimentFailed(name, error) from exc
            out.failed[name] = error
            continue
        took = time.perf_counter() - start
        report(progress_line(profile, i, len(todo), name, elapsed=time.perf_counter() - t0, seconds=took))
        out.ran.append(name)
        if on_result is not None:
            on_result(name)
    for name in names:
        if name not in out.failed:
            out.results[name] = run(name, profile)
    return out
