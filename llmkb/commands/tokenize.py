"""``llmkb tokenize``: show how a saved BPE tokenizer cuts a text (coloured tokens, or the ids as JSON)."""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = "tokenize"
HELP = "Show how a saved BPE tokenizer splits TEXT: coloured tokens and ids, or --format json for the ids."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``llmkb tokenize``."""
    parser.add_argument("--tokenizer", required=True, help="directory written by 'llmkb bpe train'")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default): tokens + ids; json: ids"
    )
    parser.add_argument("text", metavar="TEXT", help="the text to tokenize ('-' reads standard input)")


def run(args: argparse.Namespace) -> int:
    """Load the tokenizer, encode ``TEXT`` (special tokens allowed) and print it."""
    from llmkb.tokenize import BPETokenizer, render_ansi

    tok = BPETokenizer.load(args.tokenizer)
    text = sys.stdin.read() if args.text == "-" else args.text
    ids = tok.encode(text, allowed_special="all")
    if args.format == "json":
        print(json.dumps(ids))
        return 0
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(render_ansi(tok, text, color=color))
    print(f"{len(ids)} tokens: {json.dumps(ids)}")
    return 0
