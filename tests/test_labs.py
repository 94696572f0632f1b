"""Every lab notebook (docs/<topic>/lab.py) executes top to bottom in the quick profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted((ROOT / "docs").glob("*/lab.py"))

pytestmark = pytest.mark.xdist_group("site")


def test_there_are_labs():
    assert LABS, "no docs/*/lab.py found"


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.parent.name)
def test_lab_executes_in_quick_profile(lab, tmp_path):
    env = {**os.environ, "LLMKB_PROFILE": "quick", "MPLBACKEND": "Agg",
           "LLMKB_CACHE": os.environ.get("LLMKB_CACHE", str(ROOT / ".cache" / "llmkb"))}
    proc = subprocess.run([sys.executable, str(lab)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
