"""``shared-model/onnx``: export the shared model for the in-browser playground and check it with ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from llmkb.export.onnx import OrtDecoder, export_onnx
from llmkb.infer.sampling import SamplingConfig
from llmkb.lab import RunContext
from llmkb.lab.shared_model import SHARED_MODEL, load_shared_model
from llmkb.lab.topic import Topic

TOPIC = Topic("shared-model")
ONNX = TOPIC.name("onnx")
MODEL_FILE = "model.onnx"

PROMPTS = [
    "The ",
    "def open(file, mode):\n    ",
    "Return the number of ",
    "Größe: naïve café — ",
    "日本語のテキスト: ",
]
"""Example prompts of the playground (two not ASCII: multi-byte UTF-8 in the prompt)."""


@TOPIC.experiment(
    "onnx",
    profiles={"quick": {"check_tokens": 16}, "full": {"check_tokens": 48}},
    needs=[SHARED_MODEL],
    title="Export the shared model to ONNX for the browser playground",
)
def export_shared(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Export, then check greedy ONNX Runtime decoding against ``GPT.generate`` on every example prompt."""
    model, tok = load_shared_model(ctx.need(SHARED_MODEL))
    path = export_onnx(model, ctx.out_dir / MODEL_FILE)
    ort = OrtDecoder.for_model(path, model, threads=1)
    n = int(cfg["check_tokens"])
    greedy = SamplingConfig(temperature=0.0)
    diffs = []
    for prompt in PROMPTS:
        ids = torch.tensor([tok.encode(prompt)])  # (1, T)
        with torch.no_grad():
            ours = model.generate(ids, n, greedy).numpy()
            ref = model(ids).logits.numpy()
        if not np.array_equal(ort.generate(ids.numpy(), n), ours):
            raise AssertionError(f"ONNX Runtime's greedy tokens differ from GPT.generate on {prompt!r}")
        diffs.append(float(np.abs(ort.logits(ids.numpy()) - ref).max()))
    c = model.config
    size = path.stat().st_size
    return {
        "bytes": size,
        "megabytes": size / 1e6,
        "n_params": model.num_parameters(),
        "max_logit_diff": max(diffs),
        "checked_prompts": len(PROMPTS),
        "checked_tokens": n,
        "widget": {
            "artifacts": {"model": MODEL_FILE},
            "n_layers": c.n_layers,
            "n_heads": c.n_heads,
            "kv_heads": c.kv_heads,
            "head_dim": c.head_dim,
            "d_model": c.d_model,
            "vocab_size": c.vocab_size,
            "max_seq_len": c.max_seq_len,
            "sliding_window": c.sliding_window,
            "prompts": PROMPTS,
        },
    }
