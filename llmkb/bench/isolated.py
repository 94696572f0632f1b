"""Run a measurement in a fresh Python process and read back its JSON answer.

Memory high-water marks (``ru_maxrss``) and allocator state belong to a whole process, so a measurement that
must not see what the caller allocated before runs as ``python -m <module> <spec>``; the module prints its
result as JSON on its last line of standard output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

__all__ = ["run_module_json"]


def run_module_json(module: str, spec: str, env: dict[str, str], timeout: float, what: str) -> Any:
    """``python -m module spec`` under ``env``; the JSON of its last output line.

    Args:
        module: the module to run (its ``__main__`` block reads ``sys.argv[1]``).
        spec: the one argument, usually a JSON document.
        env: the child's environment.
        timeout: seconds before the child is killed.
        what: names the measurement in the error.

    Raises:
        RuntimeError: the child failed; the message ends with the last line it wrote to standard error.
    """
    proc = subprocess.run(
        [sys.executable, "-m", module, spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{what} subprocess failed ({proc.returncode}): {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
