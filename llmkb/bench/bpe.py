"""``llmkb bench bpe``: our BPE trainer and encoder against Hugging Face ``tokenizers`` and tiktoken.

Two ratios, each against a reference measured in the same run on the same text:

* **train time ratio** = our ``BPETokenizer.train`` time / the time of ``tokenizers``' ``BpeTrainer``
  (Rust) with the same pre-tokenization (``Split`` on the same pattern, then ``ByteLevel``), the same
  vocabulary size and special token. Goal: at most 2.
* **encode throughput ratio** = our throughput / tiktoken's (Rust) with *our* ranks and pattern. Each side
  encodes the corpus twice, starting from a freshly loaded tokenizer (our per-piece cache starts empty, so
  the first pass pays for every distinct piece and the second mostly hits the cache). Goal: at least 0.5.

With ``--repeats N`` the measurements are interleaved (ours and the reference alternate, the order
rotating) and medians are compared. Wall-clock times are the ones compared; CPU times are printed too,
since a loaded machine inflates wall-clock times (and HF's trainer uses several threads).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["NAME", "HELP", "add_arguments", "run", "time_call"]

NAME = "bpe"
HELP = "BPE: train time vs HF tokenizers' BpeTrainer and encode throughput vs tiktoken (ratios, same run)."

_SPECIAL = "<|endoftext|>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``llmkb bench bpe``."""
    parser.add_argument("--corpus", default="pydoc", help="pydoc (default), stdlib, or a text file/folder")
    parser.add_argument("--vocab-size", type=int, default=4096, help="vocabulary size (default 4096)")
    parser.add_argument("--pattern", choices=("gpt2", "gpt4"), default="gpt4", help="split pattern")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repetitions (medians compared)")


def time_call(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` once; return ``(wall seconds, CPU seconds of this process, result)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _hf_train(text: str, vocab_size: int, expression: str) -> Any:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    from llmkb.tokenize.patterns import hf_pattern

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(hf_pattern(expression)), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[_SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer)
    return tok


def run(args: argparse.Namespace) -> int:
    """Measure and print both ratios."""
    from llmkb.data.corpus import load_corpus
    from llmkb.errors import UsageError
    from llmkb.tokenize import BPETokenizer, to_tiktoken
    from llmkb.tokenize.patterns import PATTERNS

    if args.vocab_size < 257:
        raise UsageError(f"--vocab-size must be at least 257 (256 bytes + {_SPECIAL}), got {args.vocab_size}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
    text = load_corpus(args.corpus)
    expression = PATTERNS[args.pattern]
    size = len(text.encode("utf-8"))
    print(f"corpus {args.corpus}: {size / 1e6:.2f} MB; vocab_size {args.vocab_size}; pattern {args.pattern}")

    def ours_train() -> BPETokenizer:
        return BPETokenizer.train(text, args.vocab_size, pattern=args.pattern, special_tokens=[_SPECIAL])

    def hf_train() -> Any:
        return _hf_train(text, args.vocab_size, expression)

    train: dict[str, list[tuple[float, float]]] = {"ours": [], "hf": []}
    tok: BPETokenizer | None = None
    hf_vocab = 0
    for r in range(args.repeats):
        order = [("ours", ours_train), ("hf", hf_train)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            wall, cpu, result = time_call(fn)
            train[name].append((wall, cpu))
            if name == "ours":
                tok = result
            else:
                hf_vocab = result.get_vocab_size()
    assert tok is not None

    with tempfile.TemporaryDirectory() as tmp:
        saved = tok.save(Path(tmp) / "tok")
        encode: dict[str, list[tuple[float, float]]] = {"ours": [], "tiktoken": []}
        same = True
        for r in range(args.repeats):
            fresh = BPETokenizer.load(saved)  # empty per-piece cache
            enc = to_tiktoken(fresh)

            def ours_encode(t: BPETokenizer = fresh) -> list[int]:
                t.encode_ordinary(text)
                return t.encode_ordinary(text)

            def tiktoken_encode(e: Any = enc) -> list[int]:
                e.encode_ordinary(text)
                return e.encode_ordinary(text)

            order = [("ours", ours_encode), ("tiktoken", tiktoken_encode)]
            ids: dict[str, list[int]] = {}
            for name, fn in order if r % 2 == 0 else order[::-1]:
                wall, cpu, ids[name] = time_call(fn)
                encode[name].append((wall, cpu))
            same = same and ids["ours"] == ids["tiktoken"]

    def med(rows: list[tuple[float, float]], k: int) -> float:
        return statistics.median(row[k] for row in rows)

    n_tokens = len(tok.encode_ordinary(text))
    print(
        f"train  ours {med(train['ours'], 0):7.3f} s (cpu {med(train['ours'], 1):.3f} s), vocab {tok.vocab_size}"
    )
    print(f"train  HF   {med(train['hf'], 0):7.3f} s (cpu {med(train['hf'], 1):.3f} s), vocab {hf_vocab}")
    train_ratio = med(train["ours"], 0) / med(train["hf"], 0)
    print(
        f"train time ratio (ours / HF): {train_ratio:.2f}  [goal <= 2]  (cpu: "
        f"{med(train['ours'], 1) / med(train['hf'], 1):.2f})"
    )
    for name in ("ours", "tiktoken"):
        wall = med(encode[name], 0)
        print(
            f"encode {name:8s} 2 passes {wall:7.3f} s = {2 * size / wall / 1e6:6.2f} MB/s (cpu {med(encode[name], 1):.3f} s)"
        )
    enc_ratio = med(encode["tiktoken"], 0) / med(encode["ours"], 0)
    print(
        f"encode throughput ratio (ours / tiktoken): {enc_ratio:.2f}  [goal >= 0.5]  (cpu: "
        f"{med(encode['tiktoken'], 1) / med(encode['ours'], 1):.2f})"
    )
    print(f"{n_tokens} tokens, {size / n_tokens:.2f} bytes/token; ids identical: {'yes' if same else 'NO'}")
    return 0 if same else 1
