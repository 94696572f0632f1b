"""``python -m llmkb.train``: the ``llmkb train`` command, e.g. under ``torchrun --nproc_per_node=2``."""

from __future__ import annotations

import sys

from llmkb.cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    """Run ``llmkb train`` with ``argv`` (default: the process arguments); bad input exits with status 2."""
    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
