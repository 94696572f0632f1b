"""``{{ lab.<function>(...) }}`` placeholders: numbers, tables, figures and data from lab results.

Pages never type a measured number. They write, for example::

    The merged vocabulary compresses prose to {{ lab.value("tokenization/vocab-sweep", "prose.4096", ".2f") }}
    bytes per token.

    {{ lab.figure("tokenization/vocab-sweep", "bytes-per-token", "Bytes per token vs vocabulary size") }}

and the build fills them from the cached experiment results. Functions:

- ``lab.value(experiment, path, fmt="")``: one value, formatted with ``format(value, fmt)`` (HTML-escaped);
- ``lab.text(experiment, path)``: a string, HTML-escaped;
- ``lab.html(experiment, path)``: trusted HTML that llmkb code generated (e.g. the token visualizer,
  which escapes the text it shows); never for raw text from a corpus or a user;
- ``lab.code(experiment, path, lang="text")``: a string as a fenced (non-Python) code block;
- ``lab.table(experiment, path, fmt="")``: a Markdown table from a list of row dicts (or ``{"columns", "rows"}``);
- ``lab.figure(experiment, name, caption="")``: an image of a registered figure;
- ``lab.data_url(experiment, path)``: the URL of ``path`` of the result exported as JSON (for widgets).

A preview build (``make serve`` before the full labs are cached) marks what comes from the quick profile:
values and text in a ``<span class="llmkb-quick">``, tables, code and HTML in a ``<div class="llmkb-quick">``,
figures with the class and a caption note.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*lab\.(?P<fn>[a-z_]+)\((?P<args>.*?)\)\s*\}\}", re.S)
_CODE = re.compile(
    r"^[ \t]*(?P<f>`{3,}|~{3,})[^\n]*\n.*?^[ \t]*(?P=f)[ \t]*$|(?P<t>`+)[^`\n]+?(?P=t)", re.S | re.M
)


def outside_code(markdown: str, fn: Callable[[str], str]) -> str:
    """Apply ``fn`` to the parts of ``markdown`` outside fenced blocks and inline code spans, so that a
    page can show a placeholder's syntax in code without it being replaced."""
    out, pos = [], 0
    for m in _CODE.finditer(markdown):
        out.append(fn(markdown[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fn(markdown[pos:]))
    return "".join(out)


QUICK_CLASS = "llmkb-quick"
QUICK_TITLE = "quick-profile result: the full one is being computed"


def mark_inline(text: str) -> str:
    """Mark an inline (HTML) value as coming from the quick profile."""
    return f'<span class="{QUICK_CLASS}" title="{QUICK_TITLE}">{text}</span>'


def mark_block(markdown: str) -> str:
    """Mark a Markdown block (a table, a code block) as coming from the quick profile."""
    return f'<div class="{QUICK_CLASS}" title="{QUICK_TITLE}" markdown>\n\n{markdown}\n\n</div>'


class PlaceholderError(ValueError):
    """A placeholder names an unknown function, experiment, path or figure."""


def _fmt(value: Any, fmt: str) -> str:
    from llmkb.lab.kit.numbers import fmt as kit_fmt  # no negative zero, the labs' own formatting

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    try:
        return kit_fmt(value, fmt) if fmt else str(value)
    except (TypeError, ValueError) as exc:
        raise PlaceholderError(f"cannot format {value!r} with {fmt!r}: {exc}") from None


def markdown_table(data: Any, fmt: str = "") -> str:
    """A Markdown table from a list of row mappings, or from ``{"columns": [...], "rows": [[...]]}``."""
    if isinstance(data, Mapping) and "columns" in data:
        columns = list(data["columns"])
        rows = [list(r) for r in data["rows"]]
    elif isinstance(data, Sequence) and data and isinstance(data[0], Mapping):
        columns = list(data[0].keys())
        rows = [[r.get(c, "") for c in columns] for r in data]
    else:
        raise PlaceholderError("lab.table needs a list of row dicts or {'columns': [...], 'rows': [...]}")

    def cell(v: Any) -> str:
        if isinstance(v, float):
            s = _fmt(v, fmt or ".4g")
        else:
            s = str(v)
        return html.escape(s).replace("|", "&#124;").replace("\n", " ")

    out = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def substitute(
    markdown: str,
    *,
    lookup: Callable[[str, str], Any],
    figure: Callable[[str, str, str | None, bool], str],
    data_url: Callable[[str, str], str],
    quick: Callable[[str], bool] | None = None,
) -> str:
    """Replace every placeholder in ``markdown``.

    Args:
        markdown: page source.
        lookup: ``(experiment, dotted path) -> value``.
        figure: ``(experiment, figure name, caption or None for the registered one, from quick) -> HTML``
            of the figure (:func:`llmkb.site.figures.figure_html`).
        data_url: ``(experiment, dotted path) -> URL relative to the page URL``.
        quick: ``experiment -> True`` when its result comes from the quick profile in a full-profile
            preview; what it fills is then marked (see :func:`mark_inline`, :func:`mark_block`).

    Raises:
        PlaceholderError: naming the placeholder that failed.
    """

    def repl(m: re.Match) -> str:
        fn, raw = m.group("fn"), m.group("args")
        try:
            args = ast.literal_eval(f"({raw},)") if raw.strip() else ()
        except (ValueError, SyntaxError):
            raise PlaceholderError(f"cannot parse arguments of {m.group(0)!r}") from None
        try:
            q = quick is not None and bool(quick(args[0]))
            if fn == "value":
                value = html.escape(_fmt(lookup(args[0], args[1]), args[2] if len(args) > 2 else ""))
                return mark_inline(value) if q else value
            if fn == "html":
                value = lookup(args[0], args[1])
                if not isinstance(value, str):
                    raise PlaceholderError(
                        f"{m.group(0)}: lab.html needs a string, got {type(value).__name__}"
                    )
                return f'<div class="{QUICK_CLASS}" title="{QUICK_TITLE}">{value}</div>' if q else value
            if fn == "text":
                value = html.escape(str(lookup(args[0], args[1])))
                return mark_inline(value) if q else value
            if fn == "code":
                lang = args[2] if len(args) > 2 else "text"
                if lang in ("python", "py"):
                    raise PlaceholderError(
                        "lab.code is for output, not runnable Python; use 'text' or 'pycon'"
                    )
                body = str(lookup(args[0], args[1])).replace("```", "` ` `")
                return mark_block(f"```{lang}\n{body}\n```") if q else f"```{lang}\n{body}\n```"
            if fn == "table":
                table = markdown_table(lookup(args[0], args[1]), args[2] if len(args) > 2 else "")
                return mark_block(table) if q else table
            if fn == "figure":
                return figure(args[0], args[1], args[2] if len(args) > 2 else None, q)
            if fn == "data_url":
                return data_url(args[0], args[1])
        except PlaceholderError:
            raise
        except (KeyError, IndexError, TypeError) as exc:
            raise PlaceholderError(f"{m.group(0)}: {exc}") from None
        raise PlaceholderError(f"unknown placeholder function lab.{fn} in {m.group(0)!r}")

    return outside_code(markdown, lambda part: PLACEHOLDER.sub(repl, part))
