"""Tests of llmkb.data: corpora, byte tokenizer, batching, synthetic tasks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from llmkb.data import (
    IGNORE_INDEX,
    TASKS,
    ByteTokenizer,
    TokenDataset,
    encode_corpus,
    get_batch,
    get_task,
    get_tokenizer,
    load_corpus,
    split_tokens,
)
from llmkb.data.synthetic import noisy_label_entropy, sequence_accuracy, task_loss, token_accuracy
from llmkb.errors import UsageError

# ----------------------------------------------------------------------------- corpora


def test_pydoc_corpus_is_the_pydoc_topics() -> None:
    from pydoc_data.topics import topics

    text = load_corpus("pydoc")
    assert 300_000 < len(text) < 2_000_000
    assert topics["if"].strip() in text
    # sorted by topic name
    assert text.index(topics["assert"].strip()) < text.index(topics["while"].strip())
    assert load_corpus("pydoc") == text


def test_stdlib_corpus_is_capped_and_deterministic() -> None:
    text = load_corpus("stdlib", max_chars=200_000)
    assert 0 < len(text) <= 200_000
    assert "def " in text and "import " in text
    assert load_corpus("stdlib", max_chars=200_000) == text
    bigger = load_corpus("stdlib", max_chars=400_000)
    assert bigger.startswith(text) and len(bigger) > len(text)


def test_stdlib_cap_must_be_positive() -> None:
    with pytest.raises(UsageError):
        load_corpus("stdlib", max_chars=0)


def test_path_corpus_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("second\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first é\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert load_corpus(tmp_path / "a.txt") == "first é\n"
    assert load_corpus(str(tmp_path)) == "first é\n\n\nsecond\n"


@pytest.mark.parametrize("kind", ["missing", "latin1", "empty", "empty_folder", "latin1_in_folder"])
def test_bad_corpus_raises_usage_error(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x.txt"
    if kind == "latin1":
        target.write_bytes("caf\xe9".encode("latin-1"))
    elif kind == "empty":
        target.write_text("  \n", encoding="utf-8")
    elif kind == "empty_folder":
        target = tmp_path / "folder"
        target.mkdir()
    elif kind == "latin1_in_folder":
        target = tmp_path / "folder"
        target.mkdir()
        (target / "ok.txt").write_text("fine", encoding="utf-8")
        (target / "bad.txt").write_bytes(b"caf\xe9")
    with pytest.raises(UsageError) as info:
        load_corpus(target)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- tokenizer


@given(st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_byte_tokenizer_round_trips(text: str) -> None:
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert ids == list(text.encode("utf-8"))
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_byte_tokenizer_decodes_invalid_utf8_with_replacement() -> None:
    tok = ByteTokenizer()
    assert tok.decode([104, 0xC3]) == "h\ufffd"
    with pytest.raises(ValueError):
        tok.decode([256])


def test_get_tokenizer_byte_and_saved_dir(tmp_path: Path) -> None:
    assert isinstance(get_tokenizer("byte"), ByteTokenizer)
    ByteTokenizer().save(tmp_path / "tok")
    assert isinstance(get_tokenizer(tmp_path / "tok"), ByteTokenizer)
    assert isinstance(ByteTokenizer.load(tmp_path / "tok"), ByteTokenizer)
    with pytest.raises(UsageError):
        get_tokenizer(tmp_path / "nope")
    with pytest.raises(UsageError):
        get_tokenizer("bpe-but-not-a-folder")


# ----------------------------------------------------------------------------- batching


def test_encode_corpus_matches_tokenizer() -> None:
    text = "héllo, wörld"
    ids = encode_corpus(text)
    assert ids.dtype == torch.long and ids.tolist() == ByteTokenizer().encode(text)
    assert encode_corpus("").numel() == 0


def test_split_tokens_is_contiguous_and_complete() -> None:
    ids = torch.arange(1000)
    train, val = split_tokens(ids, 0.1)
    assert len(train) == 900 and len(val) == 100
    assert torch.equal(torch.cat([train, val]), ids)
    train0, val0 = split_tokens(ids, 0.0)
    assert len(val0) == 0 and torch.equal(train0, ids)
    with pytest.raises(ValueError):
        split_tokens(ids, 1.0)


def test_get_batch_windows_are_shifted_and_deterministic() -> None:
    ids = torch.arange(500)
    x, y = get_batch(ids, 8, 16, torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (8, 16)
    # each row is a window of consecutive ids, y is x shifted by one
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(8, 15, dtype=torch.long))
    assert torch.equal(y, x + 1)
    x2, y2 = get_batch(ids, 8, 16, torch.Generator().manual_seed(3))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = get_batch(ids, 8, 16, torch.Generator().manual_seed(4))
    assert not torch.equal(x, x3)
    with pytest.raises(ValueError):
        get_batch(torch.arange(16), 1, 16)


def test_get_batch_covers_the_last_token() -> None:
    ids = torch.arange(10)
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        _, y = get_batch(ids, 4, 5, g)
        seen.update(y.flatten().tolist())
    assert 9 in seen and 0 not in seen


def test_token_dataset_from_text() -> None:
    ds = TokenDataset.from_text("abcdefghij" * 20, val_fraction=0.25)
    assert ds.vocab_size == 256
    assert len(ds.train) == 150 and len(ds.val) == 50
    x, y = ds.batch("val", 2, 8, torch.Generator().manual_seed(0))
    assert x.shape == (2, 8)
    ds.check_seq_len(40)
    with pytest.raises(UsageError):
        ds.check_seq_len(50)
    TokenDataset.from_text("abcdefghij" * 20, val_fraction=0.0).check_seq_len(100)  # no validation: fine


# ----------------------------------------------------------------------------- synthetic tasks


def _clean_answer(name: str, task, x: torch.Tensor) -> torch.Tensor:
    """Recompute the answer from the prompt independently of the task code."""
    if name == "recall":
        m = task.n_pairs
        pairs = x[:, : 2 * m].reshape(len(x), m, 2)
        query = x[:, 2 * m + 1]
        hit = pairs[:, :, 0] == query[:, None]
        return pairs[:, :, 1][hit].reshape(len(x), 1)
    if name == "passkey":
        lo, hi = task.answer_symbols
        prompt = x[:, : task.context]
        planted = (prompt >= lo) & (prompt < hi)
        assert planted.sum(1).eq(1).all()  # exactly one passkey among the filler
        return prompt[planted].reshape(len(x), 1)
    s = x[:, : task.length]
    return {"copy": s, "reverse": s.flip(1), "sort": s.sort(1).values}[name]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_layout_and_mask(name: str) -> None:
    task = get_task(name)
    x, y = task.make_batch(64, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (64, task.seq_len)
    assert int(x.max()) < task.vocab_size and int(x.min()) >= 0
    scored = y != IGNORE_INDEX
    assert scored.sum(1).eq(task.answer_len).all()
    # scored targets are the last answer_len positions and equal the recomputed answer
    assert scored[:, -task.answer_len :].all()
    assert torch.equal(y[:, -task.answer_len :], _clean_answer(name, task, x))
    # scored targets are the next input token (y is x shifted left by one)
    assert torch.equal(y[:, :-1][scored[:, :-1]], x[:, 1:][scored[:, :-1]])
    assert (x[:, task.prompt_len - 2 if name == "recall" else task.prompt_len - 1] == task.sep).all()
    x2, y2 = task.make_batch(64, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_recall_keys_are_distinct() -> None:
    task = get_task("recall", n_pairs=5, n_keys=6)
    x, _ = task.make_batch(200, torch.Generator().manual_seed(1))
    keys = x[:, : 2 * 5 : 2]
    assert all(len(set(row)) == 5 for row in keys.tolist())


def test_passkey_distances_cover_the_range_and_can_be_fixed() -> None:
    task = get_task("passkey", context=12, n_values=5, n_filler=3, min_distance=2, max_distance=9)
    assert task.vocab_size == 9 and task.seq_len == 13 and task.chance == pytest.approx(0.2)
    x, y = task.make_batch(2000, torch.Generator().manual_seed(3))
    lo, hi = task.answer_symbols
    pos = ((x >= lo) & (x < hi)).int().argmax(1)  # where the passkey sits
    dist = 12 - pos  # SEP is at index 12 of x
    assert sorted(set(dist.tolist())) == list(range(2, 10))  # every distance drawn, none outside the range
    assert torch.equal(y[:, -1], x[torch.arange(len(x)), pos])
    counts = torch.bincount(y[:, -1] - lo, minlength=5).float() / len(x)
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.04)  # passkeys uniform: chance is 1/5
    fixed = task.at_distance(7)
    xf, _ = fixed.make_batch(50, torch.Generator().manual_seed(4))
    assert ((xf[:, 12 - 7] >= lo) & (xf[:, 12 - 7] < hi)).all() and fixed.context == 12
    with pytest.raises(UsageError):
        get_task("passkey", context=8, max_distance=9)
    with pytest.raises(UsageError):
        get_task("passkey", min_distance=0)
    with pytest.raises(UsageError):
        get_task("passkey", n_values=1)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_oracle_reaches_best_loss_without_noise(name: str) -> None:
    task = get_task(name)
    x, y = task.make_batch(32, torch.Generator().manual_seed(0))
    logits = torch.zeros(*y.shape, task.vocab_size)
    logits[..., :] = -30.0
    logits.scatter_(2, y.clamp(min=0).unsqueeze(-1), 30.0)
    assert task.best_loss == 0.0
    assert task.loss(logits, y).item() < 1e-6
    assert task.accuracy(logits, y) == 1.0 and task.token_accuracy(logits, y) == 1.0


@pytest.mark.parametrize("name", sorted(TASKS))
def test_noisy_best_loss_is_the_oracle_loss(name: str) -> None:
    """The Bayes-optimal predictor's empirical loss matches ``best_loss``; a miscalibrated one is worse."""
    p = 0.3
    task = get_task(name, noise=p)
    x, y = task.make_batch(4000, torch.Generator().manual_seed(0))
    lo, hi = task.answer_symbols
    v = hi - lo
    answer = _clean_answer(name, task, x)  # (B, A)
    a = task.answer_len

    def loss_with(q_right: float) -> float:
        probs = torch.full((*answer.shape, task.vocab_size), 1e-12)
        probs[..., lo:hi] = (1.0 - q_right) / (v - 1)
        probs.scatter_(2, answer.unsqueeze(-1), q_right)
        logits = torch.full((*y.shape, task.vocab_size), 0.0)
        logits[:, -a:] = probs.log()
        return task.loss(logits, y).item()

    q = 1 - p + p / v
    best = loss_with(q)
    assert task.best_loss == pytest.approx(noisy_label_entropy(p, v))
    assert best == pytest.approx(task.best_loss, rel=0.05)
    assert loss_with(min(q + 0.15, 0.99)) > best and loss_with(q - 0.15) > best


def test_noisy_label_entropy_limits() -> None:
    assert noisy_label_entropy(0.0, 10) == 0.0
    assert noisy_label_entropy(1.0, 10) == pytest.approx(math.log(10))


def test_accuracy_helpers() -> None:
    y = torch.tensor([[IGNORE_INDEX, 1, 2], [IGNORE_INDEX, 0, 0]])
    logits = F.one_hot(torch.tensor([[0, 1, 2], [0, 0, 1]]), 3).float()
    assert sequence_accuracy(logits, y) == 0.5
    assert token_accuracy(logits, y) == 0.75
    assert task_loss(logits * 50, torch.tensor([[IGNORE_INDEX, 1, 2], [IGNORE_INDEX, 0, 1]])) < 1e-6


def test_get_task_errors() -> None:
    with pytest.raises(UsageError):
        get_task("nope")
    with pytest.raises(UsageError):
        get_task("copy", bogus=1)
    with pytest.raises(UsageError):
        get_task("recall", n_pairs=10, n_keys=4)
    with pytest.raises(UsageError):
        get_task("copy", noise=1.5)
    assert get_task("associative-recall").name == "recall"


def test_get_tokenizer_loads_a_saved_bpe_tokenizer(tmp_path: Path) -> None:
    from llmkb.tokenize import BPETokenizer

    text = "the theme of the thesis is the theory of these themes. " * 20
    bpe = BPETokenizer.train(text, 270)
    bpe.save(tmp_path / "bpe")
    tok = get_tokenizer(tmp_path / "bpe")
    assert isinstance(tok, BPETokenizer) and tok.vocab_size == bpe.vocab_size
    ds = TokenDataset.from_text(text, tok, val_fraction=0.2)
    assert ds.vocab_size == bpe.vocab_size
    ids = torch.cat([ds.train, ds.val])
    assert ids.tolist() == bpe.encode(text) and len(ids) < len(text.encode())
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("not a tokenizer")
    with pytest.raises(UsageError):
        get_tokenizer(tmp_path / "junk")
