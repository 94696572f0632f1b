"""The README stays true: its layout tree names paths that exist, and every top-level entry of the repository and
every subpackage of llmkb appears in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME_COLUMN = 27  # the layout's descriptions start at this column
PATHLIKE = re.compile(r"^(?:(?:\.?[\w<>{}*.,-]+/)+[\w<>{}*.,-]*|[\w<>{}*.,-]*\.\w+|Makefile)$")
SPLIT = re.compile(r"\s+|,\s+")  # names are separated by spaces or ", " (a comma inside {css,js} is not)


def layout_block(readme: str) -> str:
    m = re.search(r"^## Layout\n+```text\n(.*?)^```", readme, re.S | re.M)
    assert m, "README.md has a '## Layout' section with a ```text block"
    return m.group(1)


def layout_paths(block: str) -> list[str]:
    """Every path the tree names, joined to its parent folders (indentation gives the nesting)."""
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        text = re.sub(r'\s*\("[^"]*"\)', "", line.strip())
        tokens = [t.rstrip(",") for t in SPLIT.split(text) if t]
        if not all(PATHLIKE.match(t) for t in tokens):
            tokens = [t.rstrip(",") for t in SPLIT.split(line[:NAME_COLUMN].strip()) if t]
        if not tokens:
            continue  # a description continued from the line above
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        out += [parent + t for t in tokens]
        if len(tokens) == 1 and tokens[0].endswith("/"):
            stack.append((indent, parent + tokens[0]))
    return out


def _expand(path: str) -> list[str]:
    m = re.search(r"\{([^}]*)\}", path)
    if not m:
        return [re.sub(r"<[^>]+>", "*", path)]
    return [q for alt in m.group(1).split(",") for q in _expand(path[: m.start()] + alt + path[m.end() :])]


def test_every_path_in_the_layout_exists():
    paths = layout_paths(layout_block((ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(paths) >= 20
    missing = [p for p in paths for q in _expand(p.rstrip("/")) if not list(ROOT.glob(q))]
    assert not missing, f"README layout names paths that do not exist: {missing}"


def test_every_top_level_entry_and_llmkb_subpackage_is_in_the_layout():
    paths = set(layout_paths(layout_block((ROOT / "README.md").read_text(encoding="utf-8"))))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top = {line.split("/")[0] + ("/" if "/" in line else "") for line in tracked.splitlines()}
    top -= {"README.md", ".gitignore"}
    named_top = {p.split("/")[0] + ("/" if "/" in p else "") for p in paths}
    assert top <= named_top, f"not in the README layout: {sorted(top - named_top)}"
    subpackages = {f"llmkb/{d.name}/" for d in (ROOT / "llmkb").iterdir() if (d / "__init__.py").is_file()}
    assert subpackages <= paths, (
        f"llmkb subpackages missing from the README layout: {sorted(subpackages - paths)}"
    )


def test_the_layout_parser_nests_by_indentation_and_reads_several_names_per_line():
    block = (
        "docs/                      the site\n"
        '  a.md, b.md ("B"), c.md\n'
        "  sub/                     a folder\n"
        "    x.py                   a file\n"
        "                           continued\n"
        "  infer/  metrics/         two folders\n"
        "Makefile  .ci/run\n"
    )
    assert layout_paths(block) == [
        "docs/", "docs/a.md", "docs/b.md", "docs/c.md", "docs/sub/", "docs/sub/x.py", "docs/infer/",
        "docs/metrics/", "Makefile", ".ci/run",
    ]  # fmt: skip
