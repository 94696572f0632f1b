"""``llmkb import hf DIR OUT``: read a Hugging Face Transformers directory back into an llmkb checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "import"
HELP = "Import a checkpoint from another format (hf: a Llama or GPT-2 Transformers directory)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``FORMAT DIR OUT``: the format (``hf``), the directory to read and the checkpoint directory to write."""
    parser.add_argument("format", choices=("hf",), metavar="FORMAT", help="source format: hf")
    parser.add_argument("dir", metavar="DIR", help="Transformers directory (config.json + model.safetensors)")
    parser.add_argument("out", metavar="OUT", help="checkpoint directory to create (must not exist)")


def run(args: argparse.Namespace) -> int:
    """Read, convert and save with ``GPT.save`` (atomic); errors are one line."""
    from llmkb.errors import UsageError
    from llmkb.export.hf import import_hf

    out = Path(args.out)
    if out.exists():
        raise UsageError(f"{out} already exists; choose a new directory")
    try:
        model = import_hf(args.dir)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot import {args.dir!r}: {exc}") from None
    model.save(out)
    print(f"wrote {out} ({model.num_parameters():,} parameters)")
    return 0
