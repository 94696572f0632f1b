"""Tests of ``llmkb bpe train``, ``llmkb tokenize`` and ``llmkb bench bpe`` through ``llmkb.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkb.cli import main
from llmkb.tokenize import BPETokenizer

CORPUS = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.\n" * 40


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer trained through the CLI once for the module."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    out = root / "tok"
    assert (
        main(["bpe", "train", "--corpus", str(corpus), "--vocab-size", "300", "--out", str(out), "--quiet"])
        == 0
    )
    return out


def test_train_writes_a_loadable_tokenizer(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tok = BPETokenizer.load(saved)
    assert tok.vocab_size == 300 and tok.special_tokens == {"<|endoftext|>": 299}
    assert tok.pattern_name == "gpt4"
    assert sorted(p.name for p in saved.iterdir()) == [
        "tokenizer.json",
        "tokenizer.tiktoken",
        "tokenizer_meta.json",
    ]
    assert len(tok.encode(CORPUS)) < len(CORPUS) / 3


def test_train_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "gpt2"
    args = ["bpe", "train", "--corpus", str(corpus), "--vocab-size", "280", "--out", str(out), "--quiet"]
    assert main([*args, "--pattern", "gpt2", "--no-special"]) == 0
    tok = BPETokenizer.load(out)
    assert tok.pattern_name == "gpt2" and tok.special_tokens == {} and tok.vocab_size == 280
    assert "trained 24 merges" in capsys.readouterr().out
    # an existing, non-empty --out needs --force
    assert main([*args, "--special", "<a>", "--special", "<b>"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--special", "<a>", "--special", "<b>", "--force"]) == 0
    assert BPETokenizer.load(out).special_tokens == {"<a>": 278, "<b>": 279}


def test_train_reports_a_corpus_that_runs_out_of_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("ab ab ab")
    assert (
        main(
            [
                "bpe",
                "train",
                "--corpus",
                str(corpus),
                "--vocab-size",
                "400",
                "--out",
                str(tmp_path / "t"),
                "--quiet",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "ran out of pairs" in captured.err and BPETokenizer.load(tmp_path / "t").vocab_size < 400


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmkb: error: ") and needle in err and err.count("\n") == 1


def test_train_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.txt"
    good.write_text(CORPUS)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"))
    out = tmp_path / "out"

    def train(corpus: str, vocab: str = "300", *extra: str) -> list[str]:
        return [
            "bpe",
            "train",
            "--corpus",
            corpus,
            "--vocab-size",
            vocab,
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]

    _fails(train(str(good), "256"), capsys, "at least 256 bytes + 1 special")
    _fails(train(str(good), "257", "--special", "<a>", "--special", "<b>"), capsys, "= 258")
    _fails(train(str(good), "300", "--special", "<a>", "--special", "<a>"), capsys, "distinct")
    _fails(train(str(empty)), capsys, "empty")
    _fails(train(str(latin1)), capsys, "not UTF-8")
    _fails(train(str(tmp_path / "missing.txt")), capsys, "not found")
    _fails(train("pydocs"), capsys, "not found")
    assert not out.exists()
    (tmp_path / "afile").write_text("x")
    _fails(
        ["bpe", "train", "--corpus", str(good), "--vocab-size", "300", "--out", str(tmp_path / "afile")],
        capsys,
        "is a file",
    )
    with pytest.raises(SystemExit) as exc:
        main(train(str(good), "300", "--pattern", "gpt5"))
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "empty.txt", "good.txt", "latin1.txt"]


def test_train_unreadable_corpus_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "secret.txt"
    corpus.write_text(CORPUS)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == corpus:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    _fails(
        ["bpe", "train", "--corpus", str(corpus), "--vocab-size", "300", "--out", str(tmp_path / "o")],
        capsys,
        "cannot read",
    )
    assert not (tmp_path / "o").exists()


def test_train_on_pydoc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "bpe",
                "train",
                "--corpus",
                "pydoc",
                "--vocab-size",
                "320",
                "--out",
                str(tmp_path / "p"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "trained 63 merges" in capsys.readouterr().out


def test_tokenize_json_prints_the_ids(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "The lazy fox<|endoftext|>jumps"
    assert main(["tokenize", "--tokenizer", str(saved), "--format", "json", text]) == 0
    ids = json.loads(capsys.readouterr().out)
    tok = BPETokenizer.load(saved)
    assert ids == tok.encode(text, allowed_special="all") and 299 in ids


def test_tokenize_text_shows_tokens_and_ids(
    saved: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["tokenize", "--tokenizer", str(saved), "The fox\x1b[2J"]) == 0
    lines = capsys.readouterr().out.splitlines()
    tok = BPETokenizer.load(saved)
    ids = tok.encode("The fox\x1b[2J")
    assert lines[0].split("|") == [tok.token_bytes(i).decode().replace("\x1b", "\\u001b") for i in ids]
    assert lines[1] == f"{len(ids)} tokens: {json.dumps(ids)}"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("dog"))
    assert main(["tokenize", "--tokenizer", str(saved), "--format", "json", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == tok.encode("dog")


def test_tokenize_bad_tokenizer_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(
        ["tokenize", "--tokenizer", str(tmp_path / "nope"), "x"],
        capsys,
        "does not hold a saved BPE tokenizer",
    )
    with pytest.raises(SystemExit) as exc:
        main(["tokenize", "--tokenizer", str(tmp_path), "--format", "xml", "x"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_bench_bpe_runs_on_a_small_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text(CORPUS)
    assert main(["bench", "bpe", "--corpus", str(corpus), "--vocab-size", "300"]) == 0
    out = capsys.readouterr().out
    assert "train time ratio" in out and "encode throughput ratio" in out and "ids identical: yes" in out
