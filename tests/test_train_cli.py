"""Tests of ``llmkb train`` / ``llmkb generate`` and of run directories (llmkb.train.runs)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from llmkb.cli import main
from llmkb.data import TokenDataset
from llmkb.errors import UsageError
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig
from llmkb.train import TrainConfig, load_train_state, read_run_info, train_run
from llmkb.train.checkpoint import STATE_NAME
from llmkb.train.loop import TIMING_FIELDS

REPO = Path(__file__).resolve().parents[1]
#: What a finished run directory holds.
RUN_ENTRIES = ["config.json", "model.safetensors", "run.json", "tokenizer", "train_state.pt"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(150)), encoding="utf-8")
    return path


_FAST = ["--preset", "tiny", "--batch-size", "4", "--seq-len", "32", "--warmup-steps", "1", "--quiet"]


def _train(corpus: Path, out: Path, *extra: str) -> int:
    return main(["train", "--corpus", str(corpus), "--out", str(out), *_FAST, *extra])


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_train_resume_and_generate(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _train(corpus, out, "--steps", "3") == 0
    assert "trained to step 3" in capsys.readouterr().out
    assert _entries(out) == RUN_ENTRIES
    assert _entries(tmp_path) == ["corpus.txt", "run"]
    info = read_run_info(out)
    assert info["corpus"] == str(corpus.resolve()) and info["preset"] == "tiny"

    # resume: the corpus and settings come from the run directory
    assert main(["train", "--out", str(out), "--resume", "--steps", "5", "--quiet"]) == 0
    state = load_train_state(out)
    assert state["step"] == 5 and [r["step"] for r in state["history"]] == [1, 2, 3, 4, 5]
    assert state["train_config"]["batch_size"] == 4
    capsys.readouterr()

    args = ["generate", str(out), "--prompt", "def f", "--max-new-tokens", "12"]
    assert main([*args, "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--seed", "1"]) == 0
    assert capsys.readouterr().out == first  # seeded sampling is reproducible
    assert first.startswith("def f")

    assert main([*args, "--temperature", "0"]) == 0
    greedy = capsys.readouterr().out.rstrip("\n")
    model = GPT.load(out)
    expected = model.generate(torch.tensor([list(b"def f")]), 12, SamplingConfig(temperature=0.0))
    assert greedy == bytes(expected[0].tolist()).decode("utf-8", errors="replace")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset", "huge"], "unknown preset"),
        (["--steps", "0"], "steps must be"),
        (["--batch-size", "0"], "batch_size must be"),
        (["--lr", "-1"], "lr must be"),
        (["--seq-len", "100"], "max_seq_len"),
        (["--val-fraction", "1.5"], "val-fraction"),
        (["--tokenizer", "no/such/dir"], "tokenizer"),
    ],
)
def test_train_rejects_bad_options(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert _train(corpus, tmp_path / "run", "--steps", "2", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmkb: error:") and message in err and err.count("\n") == 1
    assert _entries(tmp_path) == ["corpus.txt"]  # nothing written


@pytest.mark.parametrize("kind", ["missing", "latin1", "empty", "too_short"])
def test_train_rejects_bad_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    bad = tmp_path / "bad.txt"
    if kind == "latin1":
        bad.write_bytes("r\xe9sum\xe9 ".encode("latin-1") * 50)
    elif kind == "empty":
        bad.write_text("")
    elif kind == "too_short":
        bad.write_text("short text")
    assert _train(bad, tmp_path / "run", "--steps", "2") == 2
    assert capsys.readouterr().err.startswith("llmkb: error:")
    assert not (tmp_path / "run").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_train_refuses_existing_out_and_resume_without_checkpoint(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert _train(corpus, out, "--steps", "2") == 2
    assert "already exists" in capsys.readouterr().err
    assert _train(corpus, out, "--steps", "2", "--resume") == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert _entries(out) == ["keep.txt"]


def test_resume_rejects_changed_settings(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train(corpus, out, "--steps", "2") == 0
    before = (out / "train_state.pt").read_bytes()
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--lr", "0.1", "--quiet"]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--preset", "shared", "--quiet"]) == 2
    assert (out / "train_state.pt").read_bytes() == before


def _strip(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in history]


@pytest.mark.slow  # a fresh interpreter imports torch: 5-15 s on two shared cores
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path: Path, corpus: Path) -> None:
    """``SIGKILL`` (as the OOM killer sends) after a checkpoint: ``--resume`` ends where a straight run does."""
    settings = ["--steps", "24", "--checkpoint-every", "2", "--eval-every", "8", "--seed", "3"]
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "llmkb.train", "--corpus", str(corpus), "--out", str(out), *_FAST, *settings]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        # the run directory appears whole, by a rename, with its first checkpoint (step 2)
        while not (out / STATE_NAME).is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        checkpointed = (out / STATE_NAME).is_file()
    finally:
        proc.kill()  # SIGKILL: no handler runs, nothing is written on the way out
        _, err = proc.communicate(timeout=60)
    assert checkpointed and proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    killed_at = load_train_state(out)["step"]
    assert 2 <= killed_at < 24 and killed_at % 2 == 0  # killed mid-run, after a checkpoint

    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert _train(corpus, tmp_path / "straight", *settings) == 0
    resumed, straight = load_train_state(out), load_train_state(tmp_path / "straight")
    # Exactly equal, not approximately: one torch thread in both processes (OMP_NUM_THREADS=1 there,
    # conftest here), so every step runs the same kernels in the same order on the same machine; the
    # checkpoint holds the fp32 weights, AdamW moments and all RNG states bit for bit, so steps
    # killed_at+1 ... 24 after resuming are the uninterrupted run's steps.
    assert resumed["step"] == 24
    assert resumed["history"][-1]["train_loss"] == straight["history"][-1]["train_loss"]
    assert _strip(resumed["history"]) == _strip(straight["history"])
    weights, expected = GPT.load(out).state_dict(), GPT.load(tmp_path / "straight").state_dict()
    assert all(torch.equal(weights[k], v) for k, v in expected.items())
    assert _entries(out) == RUN_ENTRIES
    assert _entries(tmp_path) == ["corpus.txt", "run", "straight"]  # the killed run's temporaries are gone


def test_next_run_deletes_what_killed_runs_left(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "run"
    # llmkb before item 7 built the whole run in .run.tmp-*; killed in a checkpoint swap, it also left these
    (tmp_path / ".run.tmp-oldstyle" / "tokenizer").mkdir(parents=True)
    (tmp_path / ".run.tmp-oldstyle" / STATE_NAME).write_bytes(b"whole")
    (tmp_path / "..run.tmp-oldstyle.tmp-inner").mkdir()
    (tmp_path / "..run.tmp-oldstyle.old").mkdir()
    (tmp_path / ".run.tmp-halfckpt").mkdir()  # a checkpoint half written when its process died
    (tmp_path / ".run.tmp-halfckpt" / "model.safetensors").write_bytes(b"half")
    live = tmp_path / ".run.tmp-live"  # a temporary whose writer lives (holds the flock): kept
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 2  # nothing to resume ...
        assert _entries(tmp_path) == [".run.tmp-live", "corpus.txt"]  # ... but the dead are cleaned
        assert _train(corpus, out, "--steps", "2") == 0
        assert _entries(tmp_path) == [".run.tmp-live", "corpus.txt", "run"]
    finally:
        os.close(fd)
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--quiet"]) == 0
    assert _entries(tmp_path) == ["corpus.txt", "run"] and _entries(out) == RUN_ENTRIES


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--top-p", "0"], "top-p"),
        (["--top-k", "0"], "top-k"),
        (["--temperature", "-1"], "temperature"),
        (["--max-new-tokens", "-2"], "max-new-tokens"),
        (["--prompt", ""], "prompt"),
    ],
)
def test_generate_rejects_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    GPT(GPTConfig.preset("tiny", d_model=32, n_layers=1)).save(tmp_path / "m")
    assert main(["generate", str(tmp_path / "m"), "--prompt", "x", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmkb: error:") and message in err


def test_generate_without_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "nothing"), "--prompt", "x"]) == 2
    assert "no trained model" in capsys.readouterr().err


# ----------------------------------------------------------------------------- run directories


def _run_args(tmp_path: Path) -> tuple[GPTConfig, TrainConfig, TokenDataset]:
    text = "".join(f"item {i} costs {i * 3} coins.\n" for i in range(200))
    mcfg = GPTConfig.preset("tiny", d_model=32, n_layers=1, max_seq_len=32)
    return mcfg, TrainConfig(steps=5, batch_size=4, seq_len=16, warmup_steps=1), TokenDataset.from_text(text)


def test_interrupted_fresh_run_publishes_its_checkpoint(tmp_path: Path) -> None:
    mcfg, tcfg, ds = _run_args(tmp_path)

    def ctrl_c(record: dict[str, Any], model: GPT) -> None:
        if record["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_run(mcfg, tcfg, ds, tmp_path / "run", progress=False, callback=ctrl_c)
    assert _entries(tmp_path) == ["run"]
    assert load_train_state(tmp_path / "run")["step"] == 2
    result = train_run(mcfg, tcfg, ds, tmp_path / "run", resume=True, progress=False)
    assert result.step == 5 and (tmp_path / "run" / "tokenizer" / "byte_tokenizer.json").is_file()


def test_failed_fresh_run_leaves_nothing(tmp_path: Path) -> None:
    mcfg, tcfg, ds = _run_args(tmp_path)

    def boom(record: dict[str, Any], model: GPT) -> None:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        train_run(mcfg, tcfg.replace(checkpoint_every=1), ds, tmp_path / "run", progress=False, callback=boom)
    assert _entries(tmp_path) == []
    with pytest.raises(UsageError):
        train_run(mcfg, tcfg, ds, tmp_path / "run", resume=True, progress=False)


def test_failed_fresh_run_keeps_its_checkpoints(tmp_path: Path) -> None:
    mcfg, tcfg, ds = _run_args(tmp_path)

    def boom(record: dict[str, Any], model: GPT) -> None:
        if record["step"] == 3:
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        train_run(mcfg, tcfg.replace(checkpoint_every=1), ds, tmp_path / "run", progress=False, callback=boom)
    assert _entries(tmp_path) == ["run"] and _entries(tmp_path / "run") == RUN_ENTRIES
    assert load_train_state(tmp_path / "run")["step"] == 2
    assert train_run(mcfg, tcfg, ds, tmp_path / "run", resume=True, progress=False).step == 5


def test_fresh_run_never_merges_into_a_directory_made_meanwhile(tmp_path: Path) -> None:
    mcfg, tcfg, ds = _run_args(tmp_path)

    def squat(record: dict[str, Any], model: GPT) -> None:
        if record["step"] == 1:
            (tmp_path / "run").mkdir()
            (tmp_path / "run" / "theirs.txt").write_text("theirs")

    with pytest.raises(UsageError, match="appeared while training"):
        train_run(mcfg, tcfg, ds, tmp_path / "run", progress=False, callback=squat)
    assert _entries(tmp_path) == ["run"] and _entries(tmp_path / "run") == ["theirs.txt"]


def test_shared_model_quick_profile(tmp_path: Path) -> None:
    from llmkb.train import SHARED_STEPS_QUICK, shared_train_config, train_shared_model

    cfg = shared_train_config(SHARED_STEPS_QUICK)
    assert cfg.warmup_steps <= SHARED_STEPS_QUICK // 10 + 1 and cfg.eval_every <= SHARED_STEPS_QUICK
    result = train_shared_model(3, tmp_path / "site", batch_size=2, seq_len=32, eval_batches=1)
    assert result.step == 3 and result.final_val_loss is not None
    assert GPT.load(tmp_path / "site").config == GPTConfig.preset("shared")
    assert json.loads((tmp_path / "site" / "run.json").read_text())["corpus"] == "pydoc"


def test_train_and_generate_with_a_bpe_tokenizer(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmkb.tokenize import BPETokenizer

    bpe = BPETokenizer.train(corpus.read_text(), 300)
    bpe.save(tmp_path / "bpe")
    out = tmp_path / "run"
    assert _train(corpus, out, "--steps", "2", "--tokenizer", str(tmp_path / "bpe")) == 0
    assert GPT.load(out).config.vocab_size == bpe.vocab_size
    capsys.readouterr()
    assert (
        main(["generate", str(out), "--prompt", "def f1", "--max-new-tokens", "5", "--temperature", "0"]) == 0
    )
    text = capsys.readouterr().out
    model = GPT.load(out)
    expected = model.generate(torch.tensor([bpe.encode("def f1")]), 5, SamplingConfig(temperature=0.0))
    assert text.rstrip("\n") == bpe.decode(expected[0].tolist())
