"""Per-topic requirements: the pyproject extras a topic's lab needs beyond the core, and the line to install them.

A topic page declares them in its front matter (``extras: [quant]``); each name must be an extra of
``pyproject.toml`` (``[project.optional-dependencies]``). The page shows :func:`run_box` under its title: the
exact ``pip install`` line (from a clone of the repository) and the command that runs the lab.
``tests/test_requirements.py`` checks that every third-party import a lab makes is a core dependency or in one
of its declared extras.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

__all__ = ["pyproject_extras", "check_extras", "install_line", "run_box"]


def pyproject_extras(pyproject: Path) -> dict[str, list[str]]:
    """The optional-dependency groups of a ``pyproject.toml`` (none if there is no file)."""
    if not pyproject.is_file():
        return {}
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return dict(data.get("project", {}).get("optional-dependencies", {}))


def check_extras(declared: dict[str, list[str]], known: dict[str, list[str]]) -> None:
    """Raise when a page declares an extra that ``pyproject.toml`` does not define.

    Args:
        declared: page id -> the extras its front matter names.
        known: the pyproject's extras.

    Raises:
        ValueError: naming the page and the unknown extras.
    """
    for pid, names in sorted(declared.items()):
        bad = sorted(set(names) - set(known))
        if bad:
            have = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"{pid}: front matter 'extras' names {', '.join(bad)}, not in pyproject.toml ({have})"
            )


def install_line(extras: list[str]) -> str:
    """``pip install -e .`` with the extras, run from a clone of the repository."""
    return "pip install -e ." if not extras else f'pip install -e ".[{",".join(sorted(extras))}]"'


def run_box(slug: str, extras: list[str]) -> str:
    """A collapsed Material admonition: how to install what the lab needs and run it."""
    return (
        '??? tip "Run this lab yourself"\n'
        "    From a clone of the repository, in a Python 3.11 environment:\n\n"
        "    ```text\n"
        f"    {install_line(extras)}\n"
        f"    llmkb lab run {slug} --profile quick\n"
        "    ```\n\n"
        "    `--profile full` runs what this page shows; results are cached, so a second run is instant.\n"
    )
