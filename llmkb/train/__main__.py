"""``python -m llmkb.train``: the ``llmkb train`` command, e.g. under ``torchrun --nproc_per_node=2``."""

from __future__ import annotations

import sys

from llmkb.cli import _Parser
from llmkb.commands import train as train_command
from llmkb.errors import UsageError


def main(argv: list[str] | None = None) -> int:
    """Parse ``llmkb train`` arguments and run it; bad input exits with status 2."""
    parser = _Parser(prog="python -m llmkb.train", description=train_command.HELP)
    train_command.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return train_command.run(args)
    except UsageError as exc:
        print(f"llmkb: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
