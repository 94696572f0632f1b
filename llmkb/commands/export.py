"""``llmkb export <format>``: write a checkpoint in another format, one module of :mod:`llmkb.export` each."""

from __future__ import annotations

import argparse

from llmkb.cli import Parser, command_modules

NAME = "export"
HELP = "Export a checkpoint to another format (GGUF, Hugging Face, ONNX, ...)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per export format module."""
    sub = parser.add_subparsers(dest="format", metavar="FORMAT", parser_class=Parser)
    sub.required = True
    for mod in command_modules("llmkb.export"):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_export_run=mod.run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen format."""
    return int(args._export_run(args) or 0)
