"""The scaling-laws lab (llmkb/lab/topics/scaling_laws/): its analysis, its prose and its registrations."""

from __future__ import annotations

import numpy as np
import pytest

from llmkb.lab.registry import figures_of, get_experiment
from llmkb.lab.topics.scaling_laws import analysis as A
from llmkb.lab.topics.scaling_laws import names as N
from llmkb.lab.topics.scaling_laws import text as X
from llmkb.nn import GPTConfig

BASE = {**N.LLAMA, "max_seq_len": 32}


def test_model_dict_keeps_heads_dividing_the_width_and_even():
    for w in (8, 16, 24, 48, 56, 80, 96, 112):
        cfg = GPTConfig.from_dict(A.model_dict(BASE, w, 2))
        assert cfg.d_model % cfg.n_heads == 0 and (cfg.d_model // cfg.n_heads) % 2 == 0
    assert A.model_dict(BASE, 96, 2)["n_heads"] == 6


def test_sweep_runs_use_a_constant_schedule_read_at_every_budget():
    cfg = {"model": BASE, "layers": 1, "widths": [8, 16], "budgets": [4, 2],
           "train": {"lr": 1e-2, "min_lr": 1e-3, "batch_size": 2, "seq_len": 16}}  # fmt: skip
    runs = A.sweep_runs(cfg)
    assert [r.name for r in runs] == ["d8", "d16"]
    assert all(r.train["min_lr"] == r.train["lr"] == 1e-2 and r.train["steps"] == 4 for r in runs)
    assert runs[0].eval_steps == (2, 4) and runs[0].key() != runs[1].key()
    assert runs[0].key("code-a") != runs[0].key("code-b")


def test_points_and_envelope():
    records = [
        {"non_embedding": 10, "tokens": [100, 200], "loss": [3.0, 2.5], "steps": [1, 2], "step_flops": 7},
        {"non_embedding": 40, "tokens": [100, 200], "loss": [2.8, 2.7], "steps": [1, 2], "step_flops": 20},
    ]
    p = A.points(records)
    assert p["compute"].tolist() == [6000, 12000, 24000, 48000] and p["counted"].tolist() == [7, 14, 20, 40]
    assert p["size"].tolist() == [0, 0, 1, 1]
    assert A.envelope(p["compute"], p["loss"]).tolist() == [0, 1]  # the bigger model never beats 2.5
    assert A.envelope(np.array([3.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0])).tolist() == [1, 2, 0]


def test_fit_all_recovers_a_law_and_brackets_it():
    n = np.repeat(np.geomspace(1e4, 1e6, 5), 4)
    d = np.tile(np.geomspace(1e5, 1e7, 4), 5)
    loss = 1.5 + 30 / n**0.3 + 60 / d**0.35
    p = {"n": n, "d": d, "loss": loss}
    fits = A.fit_all(p, n_boot=3)
    assert fits["ND"]["params"]["alpha"] == pytest.approx(0.3, abs=0.01)
    assert fits["ND"]["params"]["beta"] == pytest.approx(0.35, abs=0.01)
    lo, hi = fits["ND"]["ci"]["beta"]
    assert lo <= hi and fits["N"]["params"]["alpha"] > 0
    rows = X.exponent_rows(fits)
    assert [r["parameter"] for r in rows] == ["α", "β", "α", "β", "E (nats)"]
    assert rows[0]["Kaplan et al. 2020"] == "0.076" and rows[2]["Kaplan et al. 2020"] == "–"


def test_nearest_width_on_a_log_scale():
    sizes = {w: A.non_embedding(BASE, w, 2) for w in (16, 32, 64)}
    assert A.nearest_width(BASE, 2, sizes[32] * 1.1, [16, 32, 64]) == 32
    assert A.nearest_width(BASE, 2, sizes[64] * 5, [16, 32, 64]) == 64


def test_prose_follows_the_numbers():
    assert (
        X.order_phrase([3.0, 2.9, 2.8])
        == "every one of the 2 steps up in size lowers the loss at the largest budget"
    )
    assert X.order_phrase([3.0, 3.1, 2.8]).startswith("1 of the 2 steps up in size ends with a higher loss")
    fits = {"ND": {"params": {"alpha": 0.5, "beta": 0.2}, "ci": {"alpha": (0.3, 0.6), "beta": (0.1, 0.25)},
                   "level": 0.9}}  # fmt: skip
    s = X.exponent_phrase(fits)
    assert "α interval contains Chinchilla's 0.34" in s and "β interval excludes its 0.28" in s
    assert s.endswith("with parameters (α > β).")
    opt = {"compute": 1e12, "n_opt": 1e4, "d_opt": 1.6e7, "tokens_per_parameter": 1600.0, "n_run": 9000,
           "d_run": 1.5e7, "measured": 2.0, "predicted": 2.05, "tolerance": 0.1, "grid_best": 2.1}  # fmt: skip
    s = X.optimal_phrase(opt)
    assert "more than the rule's 20 tokens per parameter" in s and "within the fit's typical error" in s
    assert "0.100 nats below the sweep's best point" in s and "capped" not in s
    capped = X.optimal_phrase({**opt, "capped": True, "n_run": 1e4, "d_run": 4e6})
    assert "(N = 10,000, D = 4,000,000, capped by the lab's time budget: 24% of the compute C)" in capped
    assert X.flops_phrase([1.1, 1.6], [0.2, 0.9]).startswith(
        "Counted FLOPs of a training step are 1.10–1.60 × 6ND"
    )


def test_experiments_and_figures_are_registered_with_both_profiles():
    for name, figs in ((N.SWEEP, {"loss-vs-size", "loss-vs-compute"}), (N.PROFILES, {"memory"}),
                       (N.OPTIMAL, {"frontier"})):  # fmt: skip
        exp = get_experiment(name)
        assert set(exp.profiles) == {"quick", "full"}
        assert {f.name for f in figures_of(name)} == figs
    full = get_experiment(N.SWEEP).config("full")
    span = A.non_embedding(full["model"], max(full["widths"]), full["layers"]) / A.non_embedding(
        full["model"], min(full["widths"]), full["layers"]
    )
    assert span >= 30 and len(full["widths"]) >= 6 and len(full["budgets"]) >= 3


def _law_records(hardware: str) -> dict:
    """A ``llmkb bench scaling`` result whose losses follow Chinchilla's law exactly (no training)."""
    records = []
    for w, n in ((64, 2e5), (128, 8e5), (256, 3.2e6)):
        steps = [100, 200, 400, 800]
        tokens = [4096 * s for s in steps]
        loss = [1.69 + 406.4 / n**0.34 + 410.7 / t**0.28 for t in tokens]
        records.append({"name": f"d{w}", "non_embedding": n, "steps": steps, "tokens": tokens, "loss": loss,
                        "step_flops": 6 * n * 4096, "tokens_per_s": 1e6, "peak_bytes": 2**30})  # fmt: skip
    return {"hardware": hardware, "date": "2026-12-02", "torch": "2.13.0", "settings": {"layers": 4},
            "records": records}  # fmt: skip


def test_gpu_section_fits_a_kept_result_and_escapes_its_text():
    from llmkb.lab.topics.scaling_laws.experiments_gpu import file_digest, gpu_section

    out = gpu_section(_law_records("<b>H200</b>"), n_boot=2)
    assert (
        out["available"] and "&lt;b&gt;H200&lt;/b&gt;" in out["section"] and "<b>H200" not in out["section"]
    )
    assert out["section"].count("<tr>") == 1 + 3 + 1 + 5  # size table (head + 3) + exponent table (head + 5)
    assert out["fits"]["ND"]["params"]["alpha"] == pytest.approx(0.34, abs=0.05)
    missing = gpu_section(None, n_boot=2)
    assert not missing["available"] and "llmkb bench scaling --device cuda" in missing["section"]
    assert get_experiment(N.TOPIC.name("gpu")).config("quick")["file"] == file_digest()


def test_bench_scaling_writes_a_result_the_page_can_fit_and_refuses_bad_input(tmp_path, monkeypatch, capsys):
    import json

    from llmkb.cli import main
    from llmkb.lab.topics.scaling_laws.experiments_gpu import gpu_section

    argv = ["bench", "scaling", "--device", "cpu", "--out", str(tmp_path), "--no-progress", "--widths", "8", "12",
            "16", "--budgets", "1", "2", "3", "--batch-size", "2", "--seq-len", "8"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads((tmp_path / "scaling_cpu.json").read_text())
    assert [r["name"] for r in result["records"]] == ["d8", "d12", "d16"]
    assert all(len(r["loss"]) == 3 and r["device"] == "cpu" for r in result["records"])
    assert gpu_section(result, n_boot=2)["available"]
    assert main(["bench", "scaling", "--device", "tpu"]) == 2
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert main(["bench", "scaling", "--device", "cuda", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    assert "needs a CUDA GPU" in capsys.readouterr().err
