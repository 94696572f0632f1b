"""Helpers for tests that build small throw-away MkDocs projects with the llmkb plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from llmkb.site.plugin import MATH_FONT

ROOT = Path(__file__).resolve().parents[1]

MINIMAL_MKDOCS = """\
site_name: fixture
site_url: https://example.invalid/fixture/
docs_dir: docs
strict: true
validation:
  links: {not_found: warn, anchors: warn, absolute_links: warn, unrecognized_links: warn}
theme: {name: material, font: false}
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - tables
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.arithmatex: {generic: true}
plugins:
  - search
  - llmkb:
      lab_modules: %(lab_modules)s
      math_font: %(math_font)s
"""
# No mkdocstrings: the plugin still adds the API reference pages, which stay unrendered here (rendering the
# whole package's reference cost each fixture build about ten seconds; the real site's build renders it).


def topic_page(title: str, body: str = "", **front: object) -> str:
    """A topic page with YAML front matter."""
    import yaml

    meta = yaml.safe_dump({"title": title, **front}, sort_keys=False)
    return f"---\n{meta}---\n\n# {title}\n\n{textwrap.dedent(body)}\n"


def make_project(tmp: Path, pages: dict[str, str], lab_modules: list[str] | None = None) -> Path:
    """Write ``mkdocs.yml`` and the given pages (path -> text) under ``tmp``; return the project dir."""
    (tmp / "docs").mkdir(parents=True, exist_ok=True)
    (tmp / "mkdocs.yml").write_text(
        MINIMAL_MKDOCS
        % {
            "lab_modules": list(lab_modules or []),
            "math_font": json.dumps(str(ROOT / MATH_FONT)),
        },
        encoding="utf-8",
    )
    pages = {"index.md": "# Home\n\n<!-- llmkb:roadmap -->\n", **pages}
    for rel, text in pages.items():
        p = tmp / "docs" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp


def build(
    project: Path,
    *,
    profile: str = "quick",
    extra_env: dict[str, str] | None = None,
    pythonpath: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run ``mkdocs build --strict`` in ``project`` (a subprocess) and return the completed process."""
    env = {
        **os.environ,
        "LLMKB_PROFILE": profile,
        "NO_MKDOCS_2_WARNING": "1",
        "LLMKB_CACHE": str(project / ".cache" / "llmkb"),
    }
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
