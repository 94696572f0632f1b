"""Per-topic requirements: every third-party import a topic's lab makes is a core dependency of llmkb or in an
extra the topic page declares (front matter ``extras``), so the page's "run this lab" line is enough.

What counts as "an import the lab makes": every import in the topic's lab package and notebook, and in the llmkb
modules they import by name (function-level imports included: that is where optional libraries are imported);
from there on, module-level imports, followed transitively. Imports under ``if TYPE_CHECKING`` never run.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from llmkb.site.pages import read_topics

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_ONLY = {"IPython"}  # display helpers, imported only inside a running notebook kernel


def _module_file(name: str) -> Path | None:
    for p in (ROOT / (name.replace(".", "/") + ".py"), ROOT / name.replace(".", "/") / "__init__.py"):
        if p.is_file():
            return p
    return None


def imports_of(path: Path, modname: str, deep: bool) -> set[str]:
    """Modules ``path`` imports: at module level, and inside functions too when ``deep``."""
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = modname.split(".")[: -1 if path.name != "__init__.py" else None]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if deep:
                    visit(node.body)
            else:
                for attr in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, attr, None) or [])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return out


def third_party_imports(start: dict[str, Path]) -> set[str]:
    """Top-level third-party modules reached from ``start`` (module name -> file), read deeply, and the llmkb
    modules they name, read deeply; beyond them module-level imports only."""
    direct = set()
    for name, path in start.items():
        direct |= imports_of(path, name, deep=True)
    deep = set(start) | {m for m in direct if m.startswith("llmkb") and _module_file(m)}
    seen: set[str] = set()
    todo = list(direct)
    third: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen or not m:
            continue
        seen.add(m)
        top = m.split(".")[0]
        if top != "llmkb":
            third.add(top)
            continue
        f = _module_file(m)
        if f is None:
            continue
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(imports_of(f, m, deep=m in deep))
    return third - set(sys.stdlib_module_names) - {"__future__"} - NOTEBOOK_ONLY


def _dist_names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def covered(extras: list[str]) -> set[str]:
    """Distribution names installed by ``pip install -e .[extras]`` (direct requirements only)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = _dist_names(project["dependencies"])
    for e in extras:
        out |= _dist_names(project["optional-dependencies"][e])
    return out


TOPICS = read_topics(ROOT / "docs")
_distributions = functools.cache(packages_distributions)


@pytest.mark.parametrize("tid", [t for t in TOPICS if TOPICS[t].has_lab])
def test_every_import_of_a_lab_is_covered_by_the_core_or_its_declared_extras(tid):
    t = TOPICS[tid]
    pkg = t.slug.replace("-", "_")
    start = {
        f"llmkb.lab.topics.{pkg}" + ("" if f.stem == "__init__" else f".{f.stem}"): f
        for f in sorted((ROOT / "llmkb" / "lab" / "topics" / pkg).glob("*.py"))
    }
    start[f"docs.{t.id}.lab"] = ROOT / "docs" / t.id / "lab.py"
    dists = _distributions()
    needed = {
        mod: {d.lower().replace("_", "-") for d in dists.get(mod, [mod])}
        for mod in third_party_imports(start)
    }
    have = covered(t.extras)
    missing = {mod: sorted(ds) for mod, ds in needed.items() if not ds & have}
    assert not missing, (
        f"{t.id}: imports {missing} — add an extra to pyproject.toml and list it under 'extras:'"
    )


def test_the_closure_sees_function_level_imports_and_skips_type_checking(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas\n"
        "import numpy\n\ndef g():\n    import gguf\n",
        encoding="utf-8",
    )
    assert {"numpy", "gguf"} <= imports_of(f, "m", deep=True)
    assert "gguf" not in imports_of(f, "m", deep=False)
    assert "pandas" not in imports_of(f, "m", deep=True)
    assert "gguf" in third_party_imports({"m": f})
    assert "datasketch" not in covered([]) and "datasketch" in covered(["data"])
