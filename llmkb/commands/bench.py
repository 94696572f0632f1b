"""``llmkb bench <name>``: run a benchmark from :mod:`llmkb.bench`."""

from __future__ import annotations

import argparse

from llmkb.cli import Parser, command_modules

NAME = "bench"
HELP = "Run a benchmark (speed as a ratio against a reference measured in the same run)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per benchmark module."""
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", parser_class=Parser)
    sub.required = True
    for mod in command_modules("llmkb.bench"):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_bench_run=mod.run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen benchmark."""
    return int(args._bench_run(args) or 0)
