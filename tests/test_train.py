"""Tests of llmkb.train: schedule, AdamW groups, the loop, exact resumption, checkpoints, DDP."""

from __future__ import annotations

import fcntl
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from llmkb.data import TokenDataset, get_task
from llmkb.errors import UsageError
from llmkb.nn import GPT, GPTConfig
from llmkb.train import TrainConfig, load_train_state, lr_at, param_groups, train
from llmkb.train.checkpoint import STATE_NAME, recover, replace_dir_atomically
from llmkb.train.loop import TIMING_FIELDS, derive_seed, train_step

REPO = Path(__file__).resolve().parents[1]


def _micro(**kw: Any) -> GPTConfig:
    return GPTConfig.preset("tiny", **{"d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 32, **kw})


def _text_data() -> TokenDataset:
    text = "".join(f"line {i}: the quick brown fox {i * 7 % 13} jumps.\n" for i in range(200))
    return TokenDataset.from_text(text)


def _cfg(**kw: Any) -> TrainConfig:
    base = dict(steps=8, batch_size=4, seq_len=16, warmup_steps=2, eval_every=4, eval_batches=2, log_every=3)
    return TrainConfig(**{**base, **kw})


def _strip(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in history]


def _assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


# ----------------------------------------------------------------------------- schedule


def test_lr_schedule_warmup_then_cosine() -> None:
    cfg = TrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    lrs = [lr_at(s, cfg) for s in range(0, 101)]
    assert lrs[0] == 0.0
    assert lrs[5] == pytest.approx(5e-4) and lrs[10] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11], strict=True))  # warm-up climbs
    assert all(a > b for a, b in zip(lrs[10:100], lrs[11:101], strict=True))  # cosine decays
    assert lrs[100] == pytest.approx(1e-4)
    assert lrs[55] == pytest.approx(1e-4 + 0.5 * 9e-4)  # halfway through the decay
    assert lr_at(500, cfg) == pytest.approx(1e-4)


def test_lr_schedule_without_warmup() -> None:
    cfg = TrainConfig(steps=10, lr=1.0, min_lr=0.0, warmup_steps=0)
    assert lr_at(0, cfg) == 1.0
    assert lr_at(10, cfg) == 0.0
    assert lr_at(5, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


# ----------------------------------------------------------------------------- optimizer groups


@pytest.mark.parametrize("preset", ["tiny", "gpt2-style", "llama-style"])
def test_param_groups_decay_only_matrices(preset: str) -> None:
    model = GPT(GPTConfig.preset(preset, d_model=32, n_layers=1, n_heads=2))
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}  # shared tensors listed once
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in no_decay["params"]}
    assert not decayed & kept
    assert decayed | kept == set(names.values())
    assert all(p.dim() == 2 for p in decay["params"])
    assert all("emb" not in n for n in decayed)
    assert "tok_emb.weight" in kept
    assert all(p.dim() == 1 for n, p in model.named_parameters() if n in kept and "emb" not in n)
    if not model.config.tie_embeddings:
        assert "lm_head.weight" in decayed


def test_param_groups_skip_frozen() -> None:
    model = GPT(_micro())
    model.blocks[0].ffn.requires_grad_(False)
    groups = param_groups(model, 0.1)
    listed = {id(p) for g in groups for p in g["params"]}
    assert all(id(p) not in listed for p in model.blocks[0].ffn.parameters())


def test_train_config_validation_and_round_trip() -> None:
    cfg = TrainConfig(steps=5, betas=[0.8, 0.9])  # type: ignore[arg-type]
    assert cfg.betas == (0.8, 0.9)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"steps": 0}, {"lr": 0.0}, {"min_lr": 1.0}, {"device": "tpu"}, {"precision": "fp8"}):
        with pytest.raises(UsageError):
            TrainConfig(**bad)
    with pytest.raises(UsageError):
        TrainConfig.from_dict({"steps": 3, "bogus": 1})


def test_derive_seed_separates_purposes_and_ranks() -> None:
    seeds = {derive_seed(s, p, r) for s in (0, 1) for p in ("batch", "val") for r in (0, 1)}
    assert len(seeds) == 8


# ----------------------------------------------------------------------------- the loop


def test_train_learns_copy_task() -> None:
    task = get_task("copy", length=6, n_symbols=8)
    mcfg = GPTConfig.preset("tiny", vocab_size=task.vocab_size, max_seq_len=task.seq_len)
    cfg = TrainConfig(steps=60, batch_size=32, lr=3e-3, warmup_steps=10, eval_every=20, eval_batches=4)
    result = train(mcfg, cfg, task, progress=False)
    steps, val = result.series("val_loss")
    assert steps == [20, 40, 60]
    assert val[0] > val[-1]
    assert val[-1] < 0.25 * math.log(8)  # far below guessing the answer symbols (ln 8)
    assert result.series("val_accuracy")[1][-1] > 0.5
    assert [r["step"] for r in result.history] == list(range(1, 61))
    assert result.history[-1]["lr"] == pytest.approx(cfg.min_lr)


def test_train_accepts_token_tensors() -> None:
    ds = _text_data()
    r1 = train(_micro(), _cfg(steps=3), (ds.train, ds.val), progress=False)
    r2 = train(_micro(), _cfg(steps=3), ds, progress=False)
    assert _strip(r1.history) == _strip(r2.history)
    r3 = train(_micro(), _cfg(steps=2), torch.cat([ds.train, ds.val]), progress=False)
    assert len(r3.history) == 2


def test_train_without_validation_and_in_bf16() -> None:
    ds = TokenDataset.from_text(_text_data().tokenizer.decode(_text_data().train.tolist()), val_fraction=0.0)
    result = train(_micro(), _cfg(steps=2, precision="bf16"), ds, progress=False)
    assert result.final_val_loss is None and math.isfinite(result.final_train_loss)


def test_train_rejects_mismatched_data() -> None:
    ds = _text_data()
    with pytest.raises(UsageError):
        train(_micro(vocab_size=100), _cfg(), ds, progress=False)
    with pytest.raises(UsageError):
        train(_micro(), _cfg(seq_len=64), ds, progress=False)
    with pytest.raises(UsageError):
        train(_micro(), _cfg(), "not data", progress=False)  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA"):
            train(_micro(), _cfg(device="cuda"), ds, progress=False)


@pytest.mark.parametrize("grad_clip", [1e-3, 0.0])
def test_train_step_clips_the_gradient_before_the_update(grad_clip: float) -> None:
    """With SGD(lr=1) the update is minus the gradient: clipped, its global norm is exactly ``grad_clip``."""
    torch.manual_seed(0)
    model = GPT(_micro())
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    x = torch.randint(0, model.config.vocab_size, (2, 8))
    optimizer = torch.optim.SGD(params, lr=0.5)  # train_step sets the lr it is given
    loss, grad_norm = train_step(model, optimizer, params, x, x, lr=1.0, grad_clip=grad_clip)
    moved = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.detach() - b) for p, b in zip(params, before, strict=True)])
    )
    assert grad_norm.item() > 10 * 1e-3 and math.isfinite(
        loss.item()
    )  # the raw gradient is well above the clip
    assert optimizer.param_groups[0]["lr"] == 1.0
    expected = grad_clip if grad_clip > 0 else grad_norm.item()
    assert moved.item() == pytest.approx(expected, rel=1e-4)
    assert all(p.grad is None for p in params)


def test_resume_reproduces_the_uninterrupted_run_bitwise(tmp_path: Path) -> None:
    """Train 8 steps straight vs 4 steps, stop, resume to 8: same history and same weights, bit for bit."""
    mcfg, ds = _micro(dropout=0.1), _text_data()  # dropout: the global RNG state must be restored too
    cfg = _cfg(checkpoint_every=3)
    straight = train(mcfg, cfg, ds, out_dir=tmp_path / "a", progress=False)

    stopped = train(
        mcfg, cfg, ds, out_dir=tmp_path / "b", progress=False, callback=lambda r, m: r["step"] == 4
    )
    assert stopped.stopped_early and stopped.step == 4
    assert load_train_state(tmp_path / "b")["step"] == 4
    resumed = train(mcfg, cfg, ds, out_dir=tmp_path / "b", resume=True, progress=False)
    assert resumed.step == 8 and not resumed.stopped_early
    assert _strip(resumed.history) == _strip(straight.history)
    _assert_same_weights(resumed.model, straight.model)
    _assert_same_weights(GPT.load(tmp_path / "b"), straight.model)
    sa = load_train_state(tmp_path / "a")
    sb = load_train_state(tmp_path / "b")
    for key in ("step", "batch_rng", "torch_rng"):
        assert torch.equal(torch.as_tensor(sa[key]), torch.as_tensor(sb[key])), key
    for pid, st in sa["optimizer"]["state"].items():
        for name, value in st.items():
            assert torch.equal(value, sb["optimizer"]["state"][pid][name])


def test_ctrl_c_finishes_the_step_checkpoints_and_resumes(tmp_path: Path) -> None:
    mcfg, ds, cfg = _micro(), _text_data(), _cfg(steps=6)
    straight = train(mcfg, cfg, ds, progress=False)
    # whatever handler the process had (a background job starts with SIGINT ignored) must be restored
    handler_before = signal.getsignal(signal.SIGINT)

    def press_ctrl_c(record: dict[str, Any], model: GPT) -> None:
        if record["step"] == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(mcfg, cfg, ds, out_dir=tmp_path / "run", progress=False, callback=press_ctrl_c)
    assert load_train_state(tmp_path / "run")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler_before
    resumed = train(mcfg, cfg, ds, out_dir=tmp_path / "run", resume=True, progress=False)
    assert _strip(resumed.history) == _strip(straight.history)
    _assert_same_weights(resumed.model, straight.model)


def test_checkpoint_is_weights_only_and_guarded(tmp_path: Path) -> None:
    mcfg, ds, cfg = _micro(), _text_data(), _cfg(steps=2)
    result = train(mcfg, cfg, ds, out_dir=tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run" / STATE_NAME, weights_only=True)
    assert state["step"] == 2 and state["world_size"] == 1
    assert state["batch_rng"].dtype == torch.uint8 and state["batch_rng"].shape[0] == 1
    assert len(state["history"]) == 2 and state["train_config"] == cfg.to_dict()
    _assert_same_weights(GPT.load(tmp_path / "run"), result.model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary left behind
    with pytest.raises(UsageError, match="already holds a checkpoint"):
        train(mcfg, cfg, ds, out_dir=tmp_path / "run", progress=False)
    with pytest.raises(UsageError, match="batch_size"):
        train(mcfg, cfg.replace(batch_size=8), ds, out_dir=tmp_path / "run", resume=True, progress=False)
    with pytest.raises(UsageError, match="model configuration"):
        train(_micro(d_model=64), cfg, ds, out_dir=tmp_path / "run", resume=True, progress=False)
    done = train(mcfg, cfg, ds, out_dir=tmp_path / "run", resume=True, progress=False)
    assert done.step == 2 and len(done.history) == 2  # nothing left to do
    longer = train(mcfg, cfg.replace(steps=3), ds, out_dir=tmp_path / "run", resume=True, progress=False)
    assert longer.step == 3 and len(longer.history) == 3


def test_replace_dir_atomically(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"

    def write(version: str) -> Any:
        return lambda d: (d / "model.txt").write_text(version)

    replace_dir_atomically(target, write("v1"))
    (target / "tokenizer").mkdir()
    (target / "tokenizer" / "t.json").write_text("{}")
    replace_dir_atomically(target, write("v2"))
    assert (target / "model.txt").read_text() == "v2"
    assert (target / "tokenizer" / "t.json").read_text() == "{}"  # carried over

    def fail(d: Path) -> None:
        (d / "model.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        replace_dir_atomically(target, fail)
    assert (target / "model.txt").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_recover_undoes_a_cut_swap_unless_its_writer_lives(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    replace_dir_atomically(target, lambda d: (d / "model.txt").write_text("v1"))
    os.rename(target, tmp_path / ".ckpt.old")  # the state after the first rename of a swap
    live = tmp_path / ".ckpt.tmp-writer"  # its writer, alive, holds the lock on the new version
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        recover(target)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".ckpt.old", ".ckpt.tmp-writer"]
    finally:
        os.close(fd)  # the writer dies before its second rename
    recover(target)
    assert (target / "model.txt").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    with pytest.raises(UsageError, match="appeared"):
        replace_dir_atomically(target, lambda d: None, create=True)


def test_ddp_two_processes_train_and_checkpoint(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node=2 -m llmkb.train`` completes; rank 0 writes a 2-process checkpoint."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"the cat sat on mat number {i}.\n" for i in range(300)), encoding="utf-8")
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "llmkb.train", "--preset", "tiny", "--corpus", str(corpus), "--steps", "6",
        "--batch-size", "4", "--seq-len", "32", "--lr", "1e-2", "--warmup-steps", "1",
        "--eval-every", "3", "--out", str(out), "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = load_train_state(out)
    assert state["world_size"] == 2 and state["step"] == 6
    assert state["batch_rng"].shape[0] == 2
    assert not torch.equal(state["batch_rng"][0], state["batch_rng"][1])  # ranks sample different data
    losses = [r["train_loss"] for r in state["history"]]
    assert losses[-1] < losses[0] < math.log(256) + 0.5
    assert state["history"][-1]["val_loss"] < state["history"][2]["val_loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "run"]
    assert proc.stdout.count("trained to step 6") == 1  # rank 0 only


# ----------------------------------------------------------------------------- benchmark


@pytest.mark.parametrize("preset", ["tiny", "shared", "gpt2-style", "llama-style"])
def test_bench_reference_has_the_same_shape(preset: str) -> None:
    from llmkb.bench.train import ReferenceGPT

    cfg = GPTConfig.preset(preset, n_layers=1)
    ref = ReferenceGPT(cfg)
    assert sum(p.numel() for p in ref.parameters()) == GPT(cfg).num_parameters()
    idx, targets = torch.randint(0, cfg.vocab_size, (2, 2, 8), generator=torch.Generator().manual_seed(0))
    loss = ref(idx, targets)
    assert loss.shape == () and abs(loss.item() - math.log(cfg.vocab_size)) < 0.5  # near-uniform at init


def test_bench_train_reports_a_ratio(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from llmkb.cli import main

    out = tmp_path / "bench.json"
    argv = ["bench", "train", "--preset", "tiny", "--batch-size", "2", "--seq-len", "8", "--steps", "1"]
    assert main([*argv, "--rounds", "2", "--warmup", "0", "--json", str(out)]) == 0
    assert "ratio llmkb/reference" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert len(result["samples_tokens_per_s"]["llmkb"]) == 2 and result["ratio"] > 0
    assert main([*argv, "--rounds", "0"]) == 2
    assert main(["bench", "train", "--preset", "nope"]) == 2
