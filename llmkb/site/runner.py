"""The background lab run of ``make serve``: ``llmkb lab run <experiments> --profile full`` in a child process.

The preview build shows quick-profile results where full ones are missing (:mod:`llmkb.site.preview`);
this runner computes the missing full results into the shared cache and rewrites a *landed* file each time
a topic's results are all in. ``mkdocs serve`` watches that file's folder and rebuilds, and the rebuilt pages
use the full results. The runner prints its progress lines to the terminal of ``mkdocs serve`` and is stopped
when serve stops — by ``on_shutdown`` after Ctrl-C, or by itself when serve is killed (``--parent-pid``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def landed_file(cache: Path, profile: str) -> Path:
    """The file the runner rewrites when a topic's results land (in a folder of its own, to watch)."""
    return cache / "landed" / profile


def command(names: Sequence[str], profile: str, landed: Path, modules: Sequence[str] = ()) -> list[str]:
    """The command line of a background run of ``names`` (``modules``: extra lab modules to import)."""
    return [
        sys.executable,
        "-m",
        "llmkb.cli",
        "lab",
        "run",
        *names,
        "--profile",
        profile,
        "--keep-going",
        "--no-bars",
        "--landed",
        str(landed),
        f"--parent-pid={os.getpid()}",
        *(f"--lab-module={m}" for m in modules),
    ]


class LabRunner:
    """At most one background lab run at a time; a run of the same experiments that failed is not retried."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._names: tuple[str, ...] = ()

    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, names: Sequence[str], profile: str, cache: Path, modules: Sequence[str] = ()) -> bool:
        """Start a run of ``names`` under ``profile`` into the cache ``cache`` unless one is running.

        Args:
            names: experiments to run (their needs run first).
            profile: the profile to compute.
            cache: the cache root the build reads.
            modules: lab modules to import besides llmkb's own topics.

        Returns:
            True when a run was started.
        """
        if not names or self.running():
            return False
        if self._proc is not None and self._proc.returncode != 0 and tuple(names) == self._names:
            return False  # it failed on exactly these: the log says why; restarting serve retries
        env = {**os.environ, "LLMKB_CACHE": str(cache), "LLMKB_PROFILE": profile}
        self._names = tuple(names)
        self._proc = subprocess.Popen(
            command(names, profile, landed_file(cache, profile), modules), env=env, stdin=subprocess.DEVNULL
        )
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Interrupt the run (it discards the experiment in progress) and wait; kill it if it does not exit."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
