"""The sweep measured on a GPU, when a run of ``llmkb bench scaling --device cuda`` has been kept.

The file ``llmkb/bench/results/scaling_cuda.json`` is written on a GPU machine and committed; this experiment
fits it like the CPU sweep and renders a section for the page. Without the file the section says how to produce
one. The file's hash is part of the experiment's config, so a new file re-runs it.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

import llmkb.bench
from llmkb.lab import RunContext, kit
from llmkb.lab.kit.memory import human_bytes
from llmkb.lab.kit.tables import html_table
from llmkb.lab.topics.scaling_laws import text
from llmkb.lab.topics.scaling_laws.analysis import fit_all, points
from llmkb.lab.topics.scaling_laws.names import TOPIC

GPU_FILE = Path(llmkb.bench.__file__).parent / "results" / "scaling_cuda.json"
"""Where a kept GPU sweep lives."""


def file_digest(path: Path = GPU_FILE) -> str:
    """A short hash of the kept file's bytes, or ``"none"`` without a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "none"


def gpu_section(result: dict[str, Any] | None, n_boot: int) -> dict[str, Any]:
    """The page's "measured on GPU" section from a ``llmkb bench scaling`` result (``None``: not recorded)."""
    if result is None:
        note = (
            "No GPU sweep is recorded in this build. On a machine with a CUDA GPU, "
            "<code>llmkb bench scaling --device cuda</code> runs the same sweep with larger models and writes "
            "<code>scaling_cuda.json</code>; kept in <code>llmkb/bench/results/</code>, it appears here, fitted "
            "the same way, labelled with its hardware and date."
        )
        return {"available": False, "section": f"<p>{note}</p>"}
    records = result["records"]
    fits = fit_all(points(records), n_boot)
    rows = [
        {
            "model": f"d = {r['name'][1:]}",
            "N (non-embedding)": r["non_embedding"],
            f"loss @ {kit.readable(r['tokens'][-1])} tokens": round(r["loss"][-1], 3),
            "tokens / s": round(r["tokens_per_s"]),
            "peak memory": human_bytes(r["peak_bytes"]),
        }
        for r in records
    ]
    head = (
        f"<p><strong>Measured on GPU</strong>: {html.escape(result['hardware'])}, {html.escape(result['date'])}, "
        f"torch {html.escape(result['torch'])} — {html.escape(kit.plural(len(records), 'size'))}, "
        f"{html.escape(kit.plural(result['settings']['layers'], 'layer'))} each. "
        f"{html.escape(text.exponent_phrase(fits))}</p>"
    )
    return {
        "available": True,
        "section": head + html_table(kit.table(rows)) + html_table(kit.table(text.exponent_rows(fits))),
        "fits": fits,
        "hardware": result["hardware"],
    }


@TOPIC.experiment(
    "gpu",
    profiles={"quick": {"file": file_digest(), "n_boot": 4}, "full": {"file": file_digest(), "n_boot": 100}},
    title="The sweep at larger sizes on a GPU, from a kept `llmkb bench scaling` result (when there is one)",
)
def gpu(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Fit and render the kept GPU sweep, or say that none is kept."""
    result = json.loads(GPU_FILE.read_text(encoding="utf-8")) if cfg["file"] != "none" else None
    return {"config": cfg, **gpu_section(result, cfg["n_boot"])}
