"""The curated mutant list stays valid as the code changes, and the runner classifies mutants correctly.

The mutants themselves run only with ``make mutants`` (minutes), never in ``make test``.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_runner() -> ModuleType:
    """``mutants/runner.py`` by path: the dev tool is not part of the installed package."""
    spec = importlib.util.spec_from_file_location("llmkb_mutants_runner", ROOT / "mutants" / "runner.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
SPEC = runner.load_list()


def test_the_list_is_large_enough_and_demands_95_percent() -> None:
    assert len(SPEC.mutants) >= 30
    assert SPEC.threshold >= 0.95
    areas = {m.file for m in SPEC.mutants}
    for part in ("nn/attention", "nn/positional", "nn/kv_cache", "nn/norm", "nn/ffn", "tokenize/", "infer/"):
        assert any(part in f for f in areas), part
    for part in ("train/", "lab/cache", "lab/registry", "metrics/"):
        assert any(part in f for f in areas), part


@pytest.mark.parametrize("mutant", SPEC.mutants, ids=lambda m: m.id)
def test_each_mutant_applies_exactly_once_to_library_code(mutant: runner.Mutant) -> None:
    assert mutant.file.startswith("llmkb/") and mutant.file.endswith(".py")
    original, mutated = runner.mutated_text(mutant, ROOT)
    assert mutated != original
    ast.parse(mutated)  # a mutant is a realistic bug, never a syntax error


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        names |= {f"{cls.name}::{n.name}" for n in cls.body if isinstance(n, ast.FunctionDef)}
    return {n for n in names if n.rsplit("::", 1)[-1].startswith("test")}


@pytest.mark.parametrize("mutant", SPEC.mutants, ids=lambda m: m.id)
def test_each_mutant_names_existing_fast_tests(mutant: runner.Mutant) -> None:
    for node in mutant.tests:
        path, _, name = node.partition("::")
        assert path.startswith("tests/test_") and (ROOT / path).is_file(), node
        assert "browser" not in path, f"{node}: browser tests build the site; too slow for a mutant"
        if name:
            assert name.split("[")[0] in _test_names(ROOT / path), f"{node}: no such test"


def test_the_list_loader_rejects_broken_entries(tmp_path: Path) -> None:
    good = (
        'id = "a"\nfile = "f.py"\nfind = "x"\nreplace = "y"\ndescription = "d"\ntests = ["tests/test_a.py"]\n'
    )
    head = "threshold = 0.95\ntimeout_s = 10\n"
    cases = {
        "missing": head + "[[mutant]]\n" + good.replace('description = "d"\n', ""),
        "repeated": head + ("[[mutant]]\n" + good) * 2,
        "no-op": head + "[[mutant]]\n" + good.replace('"y"', '"x"'),
        "no tests": head + "[[mutant]]\n" + good.replace('["tests/test_a.py"]', "[]"),
        "threshold": "threshold = 2.0\ntimeout_s = 10\n[[mutant]]\n" + good,
    }
    for text in cases.values():
        (tmp_path / "m.toml").write_text(text)
        with pytest.raises(runner.MutantError):
            runner.load_list(tmp_path / "m.toml")
    (tmp_path / "m.toml").write_text(head + "[[mutant]]\n" + good)
    (mutant,) = runner.load_list(tmp_path / "m.toml").mutants
    (tmp_path / "f.py").write_text("x = x\n")
    with pytest.raises(runner.MutantError, match="occurs 2 times"):
        runner.mutated_text(mutant, tmp_path)


def test_the_runner_tells_killed_from_survived_and_restores_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the toy needs no plugin: seconds faster
    (tmp_path / "toy.py").write_text("def double(x):\n    return 2 * x  # doubled\n")
    (tmp_path / "test_toy.py").write_text(
        textwrap.dedent(
            """
            from toy import double

            def test_double():
                assert double(3) == 6
            """
        )
    )
    killer = runner.Mutant("k", "toy.py", "2 * x", "x + x + 1", "off by one", ("test_toy.py",))
    harmless = runner.Mutant("h", "toy.py", "# doubled", "# twice", "a comment", ("test_toy.py",))
    empty = runner.Mutant(
        "e", "toy.py", "# doubled", "# twice", "selects nothing", ("test_toy.py::test_nothing",)
    )
    assert [runner.run_mutant(m, tmp_path, 60).result for m in (killer, harmless, empty)] == [
        "killed",
        "survived",
        "error",
    ]
    assert (tmp_path / "toy.py").read_text() == "def double(x):\n    return 2 * x  # doubled\n"
    outcomes = [runner.Outcome(killer, "killed", 1.0, ""), runner.Outcome(harmless, "survived", 2.0, "")]
    table = runner.format_table(outcomes)
    assert runner.kill_rate(outcomes) == 0.5 and "killed 1 of 2 mutants: 50.0%" in table
    assert "off by one" in table and "toy.py" in table
