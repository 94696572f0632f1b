"""Synthetic text generators: determinism, provenance, validity of what they write, streaming to disk."""

from __future__ import annotations

import ast
import json
import random
import re
from pathlib import Path

import pytest
import torch

from llmkb.data.generate import GENERATORS, code, generate, grammar, read_texts, textbook, write_records
from llmkb.data.generate.model import prompts_from, sample_records
from llmkb.data.generate.records import atomic_writer, read_records
from llmkb.errors import UsageError
from llmkb.infer.sampling import SamplingConfig
from llmkb.nn import GPT, GPTConfig


def test_records_are_seeded_and_carry_provenance() -> None:
    a = list(generate("grammar", 5, seed=3, max_depth=4))
    b = list(generate("grammar", 5, seed=3, max_depth=4))
    assert a == b
    assert [r["text"] for r in generate("grammar", 5, seed=4, max_depth=4)] != [r["text"] for r in a]
    assert a[2] == {
        "text": a[2]["text"],
        "generator": "grammar",
        "seed": 3,
        "index": 2,
        "params": {"max_depth": 4},
    }
    # document i can be regenerated alone
    assert grammar.document(random.Random("3:2"), max_depth=4) == a[2]["text"]


def test_generate_rejects_bad_input() -> None:
    with pytest.raises(UsageError, match="unknown generator"):
        list(generate("poetry", 1))
    with pytest.raises(UsageError, match="bad parameter"):
        list(generate("code", 1, depth=3))
    with pytest.raises(UsageError, match=">= 0"):
        list(generate("code", -1))


def test_grammar_sentences_are_well_formed() -> None:
    rng = random.Random(0)
    words = {w for ws in grammar.LEXICON.values() for w in ws for w in w.split()} | {"that", ",", "."}
    for _ in range(200):
        s = grammar.sentence(rng, max_depth=5)
        assert s[0].isupper() and s.endswith(".") and ".." not in s
        tokens = re.findall(r"\w+", s.lower())
        assert all(t in {w.lower() for w in words} for t in tokens), s
    # depth is bounded: a shallow grammar makes short sentences on average
    shallow = sum(len(grammar.sentence(rng, 1).split()) for _ in range(200))
    deep = sum(len(grammar.sentence(rng, 8).split()) for _ in range(200))
    assert shallow < deep


def test_grammar_word_frequencies_fall_with_rank() -> None:
    rng = random.Random(1)
    text = " ".join(grammar.document(rng) for _ in range(300)).lower()
    nouns = grammar.LEXICON["N"]
    counts = [len(re.findall(rf"\b{n}\b", text)) for n in nouns]
    assert counts[0] > 3 * counts[-1] > 0  # Zipf weights 1/rank: the first noun is ~28× the last


@pytest.mark.parametrize("task", textbook.TASKS)
def test_textbook_examples_are_correct(task: str) -> None:
    rng = random.Random(task)
    for _ in range(50):
        prompt, answer = textbook.task_example(task, rng)
        body = prompt.split(": ", 1)[1].removesuffix(" -> ")
        if task == "recall":
            pairs, key = body.split(" ? ")
            table = dict(p.split("=") for p in pairs.split())
            assert len(table) == len(pairs.split()) and table[key] == answer
        else:
            digits = body.split()
            want = {"copy": digits, "reverse": digits[::-1], "sort": sorted(digits)}[task]
            assert answer == " ".join(want)
    with pytest.raises(ValueError, match="unknown task"):
        textbook.task_example("add", rng)


def test_textbook_lessons_work_examples_of_their_task() -> None:
    for rec in generate("textbook", 20, seed=0):
        lines = rec["text"].splitlines()
        task = next(t for t in textbook.TASKS if t in lines[0])
        examples = [ln for ln in lines if " -> " in ln]
        assert 2 <= len(examples) <= 5 and all(ln.startswith(f"{task}: ") for ln in examples)


def test_code_templates_compile() -> None:
    for rec in generate("code", 60, seed=2):
        ast.parse(rec["text"])
        assert rec["text"].startswith("def ")
    assert len(code.TEMPLATES) >= 5 and set(GENERATORS) == {"grammar", "textbook", "code"}


def test_write_and_read_jsonl_and_text(tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    assert write_records(generate("textbook", 7, seed=1), out) == 7
    recs = list(read_records(out))
    assert recs == list(generate("textbook", 7, seed=1))
    txt = tmp_path / "d.txt"
    write_records(generate("textbook", 7, seed=1), txt)
    assert len(txt.read_text().splitlines()) == 7  # one document per line, newlines escaped
    assert list(read_texts(txt)) == [r["text"] for r in recs]


def test_reading_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        list(read_texts(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": 1}\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2: .*string 'text'"):
        list(read_texts(bad))
    bad.write_text("not json\n")
    with pytest.raises(UsageError, match="not JSON"):
        list(read_texts(bad))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        list(read_texts(latin))


def test_atomic_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(UsageError, match="does not exist"), atomic_writer(tmp_path / "no" / "x.jsonl"):
        pass


def test_model_records_sweep_settings() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, d_model=32, n_layers=1, n_heads=2, max_seq_len=32)).eval()
    ids = torch.tensor(list(b"The quick brown fox jumps over the lazy dog. " * 4))
    prompts = prompts_from(ids, 3, 8, seed=1)
    assert prompts.shape == (3, 8)
    assert bytes(prompts[0].tolist()) in bytes(ids.tolist())
    settings = [SamplingConfig(temperature=0.0), SamplingConfig(temperature=1.0, top_p=0.9)]
    decode = lambda xs: bytes(xs).decode("utf-8", errors="replace")  # noqa: E731
    recs = list(sample_records(model, decode, prompts, 5, settings, seed=2, source="tiny"))
    assert len(recs) == 6 and [r["index"] for r in recs] == list(range(6))
    assert recs[0]["params"] == {"temperature": 0.0, "top_p": None, "new_tokens": 5, "source": "tiny"}
    assert recs[3]["params"]["top_p"] == 0.9 and recs[3]["prompt"] == decode(prompts[0].tolist())
    greedy = model.generate(prompts, 5, SamplingConfig(temperature=0.0))[:, 8:]
    assert [r["text"] for r in recs[:3]] == [decode(row.tolist()) for row in greedy]
    again = list(sample_records(model, decode, prompts, 5, settings, seed=2, source="tiny"))
    assert again == recs
    assert json.loads(json.dumps(recs)) == recs
    with pytest.raises(ValueError, match="need more"):
        prompts_from(ids[:8], 1, 8)
