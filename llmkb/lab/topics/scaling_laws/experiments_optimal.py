"""The fit's compute-optimal model at the sweep's largest compute, trained once to check the prediction."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmkb.data import TokenDataset
from llmkb.lab import RunContext
from llmkb.lab.kit.evals import eval_windows
from llmkb.lab.topics.scaling_laws import text
from llmkb.lab.topics.scaling_laws.analysis import law, model_dict, nearest_width, non_embedding
from llmkb.lab.topics.scaling_laws.names import SWEEP, TOKENS_PER_PARAMETER, TOPIC
from llmkb.metrics.scaling import compute_optimal
from llmkb.train.shared_model import SHARED_CORPUS
from llmkb.train.sweep import SweepRun, train_point


@TOPIC.experiment(
    "optimal",
    profiles={
        "quick": {"widths": [8, 16, 24, 32], "max_steps": 8},
        "full": {"widths": [8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256], "max_steps": 1200},
    },  # fmt: skip
    needs=[SWEEP],
    title="Compute-optimal N and D from the fitted law vs the 20-tokens-per-parameter rule, one run to check",
)
def optimal(cfg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Recommend N, D at the sweep's largest compute; train the nearest width for C / (6 N) tokens."""
    sw = ctx.need(SWEEP)
    scfg, fits, p = sw["config"], sw["fits"], sw["points"]
    fit = law(fits["ND"], "ND")
    compute = float(max(p["compute"]))
    n_opt, d_opt = (float(v) for v in compute_optimal(fit, compute))
    width = nearest_width(scfg["model"], scfg["layers"], n_opt, cfg["widths"])
    n_run = non_embedding(scfg["model"], width, scfg["layers"])
    per_step = scfg["train"]["batch_size"] * scfg["train"]["seq_len"]
    steps = int(min(cfg["max_steps"], max(1, round(compute / (6 * n_run * per_step)))))
    train = {**scfg["train"], "steps": steps, "min_lr": scfg["train"]["lr"]}
    data = TokenDataset.from_corpus(SHARED_CORPUS)
    windows = eval_windows(data.val, scfg["train"]["seq_len"], scfg["n_windows"], seed=0)
    rec = train_point(SweepRun(f"optimal-d{width}", model_dict(scfg["model"], width, scfg["layers"]), train, (steps,)),
                      data, windows)  # fmt: skip
    d_run = rec["tokens"][0]
    residuals = np.log(np.array(p["loss"])) - np.log(fit.predict(np.array(p["n"]), np.array(p["d"])))
    n20 = float(np.sqrt(compute / (6 * TOKENS_PER_PARAMETER)))
    out = {
        "compute": compute,
        "n_opt": n_opt,
        "d_opt": d_opt,
        "tokens_per_parameter": d_opt / n_opt,
        "width": width,
        "n_run": n_run,
        "d_run": d_run,
        "steps": steps,
        "capped": steps == cfg["max_steps"],
        "measured": rec["loss"][0],
        "predicted": float(fit.predict(n_run, d_run)),
        "tolerance": float(np.sqrt(np.mean(residuals**2)) * np.mean(p["loss"])),
        "grid_best": float(min(p["loss"])),
        "rule": {
            "n": n20,
            "d": TOKENS_PER_PARAMETER * n20,
            "loss": float(fit.predict(n20, TOKENS_PER_PARAMETER * n20)),
        },
        "loss_opt": float(fit.predict(n_opt, d_opt)),
        "record": rec,
        "fit": fits["ND"]["params"],
    }
    return {**out, "text": text.optimal_phrase(out)}
