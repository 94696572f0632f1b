"""``llmkb data generate|clean|dedup`` through ``llmkb.cli.main``: outputs, reports, errors, streaming."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import torch

from llmkb.cli import main
from llmkb.nn import GPT, GPTConfig

GOOD = (
    "The library keeps its modules small. Each module has one job, and its tests say what that job is. "
    "A reader who opens a file should find the formula, the paper it comes from, and the shapes of every "
    "tensor written beside the code. When a number appears on a page, the build computed it; nobody typed it "
    "by hand, so it cannot drift away from the code that produced it."
)


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)))
    return path


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def test_generate_writes_seeded_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.jsonl"
    args = [
        "data",
        "generate",
        "--generator",
        "grammar",
        "-n",
        "12",
        "--seed",
        "5",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main([*args, "--param", "max_depth=3"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 12 and recs[0]["generator"] == "grammar" and recs[0]["params"] == {"max_depth": 3}
    assert "wrote 12 grammar documents" in capsys.readouterr().out
    first = out.read_text()
    assert main([*args, "--param", "max_depth=3"]) == 0 and out.read_text() == first
    assert main([*args, "--param", "depth"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main([*args, "--param", "colour=3"]) == 2
    assert "bad parameter" in capsys.readouterr().err
    assert out.read_text() == first  # a failed run leaves the old output alone


def test_generate_from_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    GPT(GPTConfig(vocab_size=256, d_model=32, n_layers=1, n_heads=2, max_seq_len=64)).save(tmp_path / "m")
    corpus = tmp_path / "c.txt"
    corpus.write_text(GOOD * 3)
    out = tmp_path / "s.jsonl"
    args = ["data", "generate", "--generator", "model", "-n", "3", "--model", str(tmp_path / "m"), "--prompts",
            str(corpus), "--prompt-len", "8", "--new-tokens", "6", "--temperature", "0.5,1", "--top-p", "0.9",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 6 and {r["params"]["temperature"] for r in recs} == {0.5, 1.0}
    assert all(r["prompt"] in GOOD and r["params"]["top_p"] == 0.9 for r in recs)
    assert main([*args[:-3], "--temperature", "-1", "--out", str(out)]) == 2
    assert "temperature" in capsys.readouterr().err
    assert main(["data", "generate", "--generator", "model", "-n", "1", "--out", str(out)]) == 2
    assert "--model" in capsys.readouterr().err


def test_clean_keeps_good_documents_and_reports_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [GOOD, "Too short.", GOOD + " \x00", GOOD + " " + " ".join(["buy cheap pills now"] * 12)]
    src = _jsonl(tmp_path / "in.jsonl", docs)
    out, rej, rep = tmp_path / "out.jsonl", tmp_path / "rej.jsonl", tmp_path / "rep.json"
    assert main(["data", "clean", str(src), "--out", str(out), "--rejected", str(rej), "--report", str(rep),
                 "--quiet"]) == 0  # fmt: skip
    assert _texts(out) == [GOOD] and json.loads(out.read_text().splitlines()[0])["id"] == 0  # fields kept
    reasons = [json.loads(line)["reasons"] for line in rej.read_text().splitlines()]
    assert reasons == [["too_short"], ["nonprintable"], ["top_ngram", "duplicate_ngrams"]]
    report = json.loads(rep.read_text())
    assert report["seen"] == 4 and report["kept"] == 1
    assert {r["rule"]: r["removed"] for r in report["rules"]}["nonprintable"] == 1
    assert "kept 1 of 4" in capsys.readouterr().out
    assert main(["data", "clean", str(src), "--out", str(out), "--min-words", "1", "--quiet"]) == 0
    assert len(_texts(out)) == 2
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps({"min_words": None, "max_nonprintable": None, "top_ngram": None, "dup_ngram": None})
    )
    assert main(["data", "clean", str(src), "--out", str(out), "--config", str(cfg), "--quiet"]) == 0
    assert len(_texts(out)) == 4


def test_dedup_drops_exact_and_near_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = GOOD.split()
    near = " ".join(words[:-1] + ["file."])  # one word changed
    other = "A completely different document about rivers, bridges and the lamps of a quiet city at night."
    src = _jsonl(tmp_path / "in.jsonl", [GOOD, GOOD.upper(), near, other, other])
    out = tmp_path / "out.jsonl"
    assert main(["data", "dedup", str(src), "--out", str(out), "--quiet"]) == 0
    assert _texts(out) == [GOOD, other]
    assert "kept 2 of 5 documents (2 exact, 1 near duplicates)" in capsys.readouterr().out
    assert main(["data", "dedup", str(src), "--out", str(out), "--exact-only", "--quiet"]) == 0
    assert _texts(out) == [GOOD, near, other]
    txt = tmp_path / "out.txt"
    assert main(["data", "dedup", str(src), "--out", str(txt), "--quiet"]) == 0
    assert txt.read_text().splitlines() == [GOOD, other]


@pytest.mark.parametrize("action", ["clean", "dedup"])
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [GOOD])
    before = src.read_text()
    assert main(["data", action, str(src), "--out", str(src), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is the input file" in err and err.count("\n") == 1 and src.read_text() == before
    assert main(["data", action, str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": GOOD}) + "\n{oops\n")
    out = tmp_path / "o.jsonl"
    assert main(["data", action, str(bad), "--out", str(out), "--quiet"]) == 2
    assert "bad.jsonl:2: not JSON" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "in.jsonl"]  # no partial output
    assert main(["data", action, str(src), "--out", str(tmp_path), "--quiet"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_dedup_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [GOOD])
    assert main(["data", "dedup", str(src), "--out", str(tmp_path / "o.jsonl"), "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err
    assert main(["data", "dedup", str(src), "--out", str(tmp_path / "o.jsonl"), "--bands", "0"]) == 2


def _clean_peak(tmp_path: Path, lines: int) -> tuple[int, int]:
    """Peak bytes Python allocates while cleaning a file of ``lines`` documents, and the file's size."""
    big = tmp_path / f"big{lines}.txt"
    with big.open("w") as f:
        for i in range(lines):
            f.write(f"Document {i}. " + GOOD * 4 + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"top_ngram": None, "dup_ngram": None, "max_dup_line_frac": None}))
    args = ["data", "clean", str(big), "--out", str(tmp_path / "o.txt"), "--config", str(cfg), "--quiet"]
    tracemalloc.start()
    try:
        assert main(args) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "o.txt").stat().st_size == big.stat().st_size  # every line went through
    return peak, big.stat().st_size


def test_clean_streams_with_bounded_memory(tmp_path: Path) -> None:
    """Peak memory does not grow with the input: 16× the lines, about the same peak (lines are read one at a time).

    The peak is ~200 kB whatever the size, with ~10 % noise from allocations elsewhere in the process; a reader
    that held the file would peak above the file's 3.5 MB, so the bounds leave room for the noise only.
    """
    _clean_peak(tmp_path, 5)  # imports happen here, outside the measurements
    small, _ = _clean_peak(tmp_path, 150)
    big, size = _clean_peak(tmp_path, 2400)
    assert big < 1.5 * small + 50_000
    assert big < size / 8
