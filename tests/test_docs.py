"""Docs hygiene: no code fence is silently skipped or dangerously executed by pytest-codeblocks, every
topic page has what a knowledge page needs, and page <-> module <-> test mirror each other."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

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
    assert "arxiv.org" in body.lower(), f"{tid}: cite primary papers (arXiv links)"
    assert re.search(r"^## Further reading", body, re.M), f"{tid}: needs a Further reading section"
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
