"""Tests of ``llmkb train`` / ``llmkb generate`` and of run directories (llmkb.train.runs)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from llmkb.cli import main
from llmkb.data import TokenDataset
from llmkb.errors import UsageError
from llmkb.generate import SamplingConfig
from llmkb.nn import GPT, GPTConfig
from llmkb.train import TrainConfig, load_train_state, read_run_info, train_run


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
    assert {"model.safetensors", "config.json", "train_state.pt", "tokenizer", "run.json"} <= set(
        _entries(out)
    )
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
    assert main(["train", "--out", str(out), "--resume", "--preset", "site", "--quiet"]) == 2
    assert (out / "train_state.pt").read_bytes() == before


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


def test_site_model_quick_profile(tmp_path: Path) -> None:
    from llmkb.train import SITE_STEPS_QUICK, site_train_config, train_site_model

    cfg = site_train_config(SITE_STEPS_QUICK)
    assert cfg.warmup_steps <= SITE_STEPS_QUICK // 10 + 1 and cfg.eval_every <= SITE_STEPS_QUICK
    result = train_site_model(3, tmp_path / "site", batch_size=2, seq_len=32, eval_batches=1)
    assert result.step == 3 and result.final_val_loss is not None
    assert GPT.load(tmp_path / "site").config == GPTConfig.preset("site")
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
