"""``llmkb bpe train``: learn a byte-level BPE tokenizer from a corpus and save it to a directory."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from llmkb.cli import Parser

NAME = "bpe"
HELP = "Byte-level BPE tokenizers: 'llmkb bpe train' learns one from a corpus (pydoc, stdlib or a path)."

_DEFAULT_SPECIAL = "<|endoftext|>"
# Compression is reported on this many leading characters of the corpus.
_SAMPLE_CHARS = 200_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` sub-command and its options."""
    sub = parser.add_subparsers(dest="bpe_command", metavar="ACTION", parser_class=Parser)
    sub.required = True
    train = sub.add_parser("train", help="learn merges from a corpus and save the tokenizer")
    train.add_argument(
        "--corpus", required=True, help="pydoc, stdlib, or the path of a UTF-8 text file/folder"
    )
    train.add_argument(
        "--vocab-size", type=int, required=True, help="total ids: 256 bytes + merges + special tokens"
    )
    train.add_argument("--out", required=True, help="directory to write (tokenizer.json, .tiktoken, meta)")
    train.add_argument(
        "--pattern", choices=("gpt2", "gpt4"), default="gpt4", help="split pattern (default gpt4)"
    )
    train.add_argument(
        "--special",
        action="append",
        default=None,
        metavar="TOKEN",
        help=f"a special token (repeatable; default {_DEFAULT_SPECIAL})",
    )
    train.add_argument("--no-special", action="store_true", help="no special tokens at all")
    train.add_argument("--force", action="store_true", help="replace --out if it already holds files")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Validate the options and the corpus, train, then write ``--out`` atomically."""
    from llmkb.errors import UsageError

    specials = [] if args.no_special else (args.special or [_DEFAULT_SPECIAL])
    if len(set(specials)) != len(specials) or not all(specials):
        raise UsageError("special tokens must be distinct and non-empty: fix the --special options")
    floor = 256 + len(specials)
    if args.vocab_size < floor:
        raise UsageError(
            f"--vocab-size {args.vocab_size} is too small: it must be at least 256 bytes + "
            f"{len(specials)} special token(s) = {floor}"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file: give a directory path")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise UsageError(f"--out {str(out)!r} is not empty: pass --force to replace it")

    from llmkb.data.corpus import load_corpus
    from llmkb.tokenize import BPETokenizer

    text = load_corpus(args.corpus)
    start = time.perf_counter()
    tok = BPETokenizer.train(
        text, args.vocab_size, pattern=args.pattern, special_tokens=specials, progress=not args.quiet
    )
    seconds = time.perf_counter() - start
    tok.save(out)
    wanted = args.vocab_size - floor
    if len(tok.merges) < wanted:
        print(
            f"note: the corpus ran out of pairs after {len(tok.merges)} of {wanted} merges",
            file=sys.stderr,
        )
    sample = text[:_SAMPLE_CHARS]
    ratio = len(sample.encode("utf-8")) / max(1, len(tok.encode_ordinary(sample)))
    print(
        f"trained {len(tok.merges)} merges in {seconds:.1f} s: vocab_size={tok.vocab_size}, "
        f"pattern={args.pattern}, {ratio:.2f} bytes/token on the corpus; wrote {out}"
    )
    return 0
