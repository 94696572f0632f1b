"""Docs hygiene: no code fence is silently skipped or dangerously executed by pytest-codeblocks, every
topic page has what a knowledge page needs, and page <-> module <-> test mirror each other."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
from pathlib import Path

import pytest

from llmkb.site import references
from llmkb.site.pages import read_topics, split_front_matter

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})(?P<info>[^`\n]*)$")
SKIP_MARK = re.compile(r"<!--\s*(pytest-codeblocks:skip|pytest\.mark\.skip)")
ALLOWED_NON_RUNNABLE = {
    "text",
    "pycon",
    "console",
    "shell",
    "json",
    "yaml",
    "toml",
    "javascript",
    "js",
    "html",
    "markdown",
    "md",
    "makefile",
    "ini",
    "diff",
    "",
}


def fence_problems(text: str) -> list[str]:
    """Fences that pytest-codeblocks would skip silently although they look like Python, or that it
    would execute as shell commands (``sh``/``bash``). Returns one message per offending fence."""
    problems = []
    lines = text.splitlines()
    in_fence: str | None = None
    for i, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if not m:
            continue
        if in_fence is not None:
            if m["ticks"].startswith(in_fence) and not m["info"].strip():
                in_fence = None
            continue
        in_fence = m["ticks"]
        info = m["info"]
        prev = lines[i - 2] if i >= 2 else ""
        if SKIP_MARK.search(prev):
            continue
        word = info.strip()
        if word == "python" and info == "python":
            continue
        if word in ("sh", "bash"):
            problems.append(f"line {i}: ```{info} would be executed as a shell command; use ```console")
        elif re.search(r"py", info, re.I) and word not in ALLOWED_NON_RUNNABLE:
            problems.append(
                f"line {i}: ```{info} looks like Python but pytest-codeblocks would skip it; "
                "write exactly ```python (runnable) or ```text/```pycon (not runnable)"
            )
        elif info != word:
            problems.append(f"line {i}: fence info {info!r} has stray spaces")
    return problems


@pytest.mark.parametrize(
    ("info", "bad"),
    [
        ("python", False),
        ("py", True),
        ("python title=x.py", True),
        (" python", True),
        ("Python", True),
        ("python3", True),
        ("pycon", False),
        ("text", False),
        ("bash", True),
        ("sh", True),
        ("console", False),
        ("ipython", True),
    ],
)
def test_fence_lint_catches_skipped_or_shell_fences(info, bad):
    text = f"intro\n\n```{info}\nx = 1\n```\n"
    assert bool(fence_problems(text)) is bad
    indented = f'??? question "Q"\n    ```{info}\n    x = 1\n    ```\n'
    assert bool(fence_problems(indented)) is bad


def test_fence_lint_respects_explicit_skip_marker():
    assert fence_problems("<!--pytest.mark.skip-->\n```py\nx\n```\n") == []


def _markdown_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_silently_skipped_fences(path):
    assert fence_problems(path.read_text(encoding="utf-8")) == []


TOPICS = read_topics(DOCS)


@pytest.mark.parametrize("tid", sorted(TOPICS))
def test_topic_page_is_a_full_knowledge_page(tid):
    t = TOPICS[tid]
    meta, body = split_front_matter((DOCS / t.src_uri).read_text(encoding="utf-8"))
    assert meta.get("summary"), f"{tid}: front matter needs a summary"
    assert body.count('??? question "') >= 6, f"{tid}: needs at least 6 collapsible Q&A"
    assert "```python" in body, f"{tid}: needs runnable code"
    papers = references.load_papers(DOCS / references.PAPERS_FILE)
    assert any("arxiv.org" in papers[c.key].url for c in t.papers if c.key in papers), (
        f"{tid}: cite primary papers (arXiv links) in front matter 'papers'"
    )
    assert re.search(r"^## Further reading\n+<!-- llmkb:repositories -->", body, re.M), (
        f"{tid}: needs a Further reading section listing its front matter 'repositories'"
    )
    assert re.search(r"^## Papers\n+<!-- llmkb:papers -->", body, re.M), (
        f"{tid}: the Papers section is generated"
    )
    for heading in ("Q&A", "Papers"):  # the same headings on every page
        assert re.search(rf"^## {re.escape(heading)}$", body, re.M), f"{tid}: needs a '## {heading}' section"
    linked = {m for m in re.findall(r"\]\(\.\./(\d\d-[a-z0-9-]+)/", body) if m != tid and m in TOPICS}
    assert len(linked) >= 3, f"{tid}: link at least 3 other topics in the body text, found {sorted(linked)}"
    assert re.search(r"\{\{\s*lab\.(figure|value|table)\(", body), (
        f"{tid}: show measured results from its lab"
    )
    assert t.has_lab, f"{tid}: needs a lab (lab.py)"
    assert t.modules, f"{tid}: front matter must name the llmkb modules it teaches"


@pytest.mark.parametrize("tid", sorted(TOPICS))
def test_page_module_and_test_mirror_each_other(tid):
    for mod in TOPICS[tid].modules:
        importlib.import_module(mod)
        last = mod.split(".")[-1]
        assert (ROOT / "tests" / f"test_{last}.py").is_file(), f"{mod} needs tests/test_{last}.py"


PRINT_LINE = re.compile(r"^\s*print\(.*?\)(?:  # (?P<shown>.*))?$")


def python_fences(text: str) -> list[tuple[int, str]]:
    """``(line of the fence, code)`` of every ```` ```python ```` fence, dedented as pytest-codeblocks runs it."""
    fences, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m["info"] == "python":
            indent, start, body = len(m["indent"]), i + 1, []
            i += 1
            while not lines[i].strip().startswith(m["ticks"]):
                body.append(lines[i][indent:])
                i += 1
            fences.append((start, "\n".join(body) + "\n"))
        i += 1
    return fences


def shown_outputs(code: str) -> list[str | None]:
    """What each ``print(...)`` line of ``code`` says it prints: the comment after ``  # ``, or ``None``."""
    return [m["shown"] for line in code.splitlines() if (m := PRINT_LINE.match(line))]


def test_print_comment_parsing():
    code = "x = 1\nprint(x)  # 1\nif x:\n    print([x, 2])  # [1, 2]\nprint(x)\n# print(no)\n"
    assert shown_outputs(code) == ["1", "[1, 2]", None]
    text = 'intro\n\n```python\nprint(1)  # 1\n```\n??? question "Q"\n    ```python\n    print(2)  # 2\n    ```\n'
    assert python_fences(text) == [(3, "print(1)  # 1\n"), (7, "print(2)  # 2\n")]


SNIPPETS = [
    pytest.param(path, line, code, id=f"{path.parent.name}:{line}")
    for path in sorted(DOCS.glob("*/index.md"))
    for line, code in python_fences(path.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(("path", "line", "code"), SNIPPETS)
def test_snippets_print_what_their_comments_say(path, line, code):
    """Every snippet of a topic page shows its result: a ``print(...)  # output`` whose comment is exactly
    the line it prints (the snippet runs here; pytest-codeblocks runs it again, unchanged, in ``make test``)."""
    shown = shown_outputs(code)
    assert shown, f"{path.name}:{line}: print the snippet's result, with the output as a comment beside it"
    assert None not in shown, f"{path.name}:{line}: every print needs its output written beside it"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{path}:{line}", "exec"), {"__name__": "__main__"})
    assert out.getvalue().splitlines() == shown


LABS = sorted(DOCS.glob("*/lab.py"))


def dumped_values(source: str) -> list[str]:
    """Lines of a lab that would show a result as a raw dump: a bare ``x["key"]`` statement (a cell ending in
    one shows its repr) or a ``print`` of a loop's row."""
    tree = ast.parse(source)
    rows = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.For)
        for t in ast.walk(node.target)
        if isinstance(t, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Subscript):
            found.append(f"line {node.lineno}: {ast.unparse(node.value)} shown as a dump")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            for arg in node.args:
                if isinstance(arg, ast.Name) and arg.id in rows:
                    found.append(f"line {node.lineno}: print({ast.unparse(arg)}) dumps a row")
    return found


def test_dump_check_catches_raw_results():
    source = 'res["table"]\nprint(res["note"])\nfor row in rows:\n    print(row)\nprint(f"{x:.2f}")\nshow_table(res["t"])\n'
    assert [p.split(":")[0] for p in dumped_values(source)] == ["line 1", "line 4"]


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.parent.name)
def test_labs_show_results_as_tables_not_dumps(path):
    """A lab shows a result table with ``kit.show_table`` (HTML in the notebook) and prints sentences or
    formatted numbers, never a dict or a row as Python writes it."""
    assert dumped_values(path.read_text(encoding="utf-8")) == []
    assert "show_table(" in path.read_text(encoding="utf-8")
