"""The shape of the package: data flows one way, no import cycles, one name per topic, lab files stay short,
and labs ablate through hooks instead of reassigning a model's attributes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "llmkb"
CORE = ("llmkb.tokenize", "llmkb.nn", "llmkb.train", "llmkb.data", "llmkb.infer", "llmkb.metrics")
"""Library subpackages: they never import the lab, the site plugin or the CLI."""
MAX_LAB_LINES = 300


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


def _runtime_imports(path: Path, module: str, mods: dict[str, Path]) -> set[str]:
    """llmkb modules imported by ``path`` when it runs (function-level imports included, ``if TYPE_CHECKING``
    blocks excluded), each resolved to the module that defines it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x / from ..y import z
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if not base.startswith("llmkb"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in mods else resolve(base))
        elif isinstance(node, ast.Import):
            out |= {resolve(a.name) for a in node.names if a.name.startswith("llmkb")}
    out.discard(module)
    out.discard("")
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _runtime_imports(p, m, mods) for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_library_never_imports_the_lab_the_site_or_the_cli() -> None:
    bad = {
        (m, d)
        for m, deps in _graph().items()
        if m.startswith(CORE) and not m.endswith(".__main__")  # `python -m llmkb.train` is a CLI entry
        for d in deps
        if d.startswith(("llmkb.lab", "llmkb.site", "llmkb.commands", "llmkb.cli"))
    }
    assert bad == set()


def test_nothing_imports_private_names_of_another_module() -> None:
    offenders = []
    for p in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llmkb"):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                own_package = p.parent.relative_to(ROOT).as_posix().replace("/", ".")
                if private and not node.module.startswith(own_package):
                    offenders.append(f"{p.relative_to(ROOT)}: {node.module} {private}")
    assert offenders == []


def test_each_topic_has_one_name() -> None:
    """A topic's slug names its page folder, its lab package and its experiments."""
    from llmkb.lab import experiments

    pages = {re.sub(r"^\d+-", "", d.name): d for d in (ROOT / "docs").iterdir() if re.match(r"^\d+-", d.name)}
    lab_topics = {e.topic for e in experiments().values()} - {"shared-model"}
    assert lab_topics <= set(pages), lab_topics - set(pages)
    for name, exp in experiments().items():
        assert name.startswith(exp.topic + "/"), name
        if exp.topic in pages:
            package = exp.topic.replace("-", "_")
            assert exp.module.startswith(f"llmkb.lab.topics.{package}"), (name, exp.module)
            assert (ROOT / "tests" / f"test_lab_{package}.py").is_file(), f"tests/test_lab_{package}.py"


def test_lab_files_stay_short() -> None:
    """Each file of a topic's lab and of the lab kit does one job and stays readable."""
    long = {
        str(p.relative_to(ROOT)): n
        for part in ("topics", "kit")
        for p in (PKG / "lab" / part).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LAB_LINES
    }
    assert long == {}


def test_labs_never_reassign_a_model_attribute() -> None:
    """Ablations go through hooks (``model.hooks(...)``), not ``model.rope = None``."""
    offenders = []
    for p in (PKG / "lab").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and re.search(r"model|attn|block", ast.unparse(t.value)):
                    offenders.append(f"{p.relative_to(ROOT)}:{node.lineno}: {ast.unparse(t)}")
    assert offenders == []
