"""The ``llmkb`` command line.

Every sub-command is a module in :mod:`llmkb.commands` that exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Modules are discovered, so adding a
command is adding a file. A :class:`llmkb.errors.UsageError` becomes a one-line message
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from llmkb.errors import UsageError


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors follow the llmkb one-line convention (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"llmkb: error: {message} (see '{self.prog} --help')\n")


def command_modules(package: str) -> list:
    """The modules of ``package`` that define a sub-command (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""
    pkg = importlib.import_module(package)
    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{package}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every discovered sub-command."""
    parser = Parser(prog="llmkb", description="llmkb: LLM engineering knowledge base that runs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for mod in command_modules("llmkb.commands"):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UsageError as exc:
        print(f"llmkb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmkb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
