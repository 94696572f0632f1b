"""Results as ordered tables.

The lab cache stores results as JSON with sorted keys, so a list of row dicts comes back with its columns in
alphabetical order. :func:`table` stores ``{"columns": [...], "rows": [[...], ...]}`` instead, the form
``{{ lab.table(...) }}`` renders with the columns in the order the experiment wrote them.

A lab notebook shows a table with :func:`show_table`: an HTML table in a notebook, an aligned plain-text table
when the lab runs as a script; numbers go through :func:`~llmkb.lab.kit.numbers.readable` (or a format per
column), so no cell wraps in the middle of a dict dump or shows a negative zero.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral
from typing import Any

from llmkb.lab.kit.numbers import fmt, is_number, readable

__all__ = ["Table", "as_table", "html_table", "show_table", "table", "table_rows", "text_table"]

Table = dict[str, list[Any]]
"""``{"columns": [name, ...], "rows": [[value, ...], ...]}``."""


def table(
    rows: Sequence[Mapping[str, Any]], *, first: Iterable[str] = (), digits: int | None = None
) -> Table:
    """Row dicts as an ordered table.

    Args:
        rows: one mapping per row; the columns are the first row's keys, in insertion order (a key missing
            from a later row gives ``""``).
        first: columns to put first (those present), the rest follow in their order.
        digits: round float cells to this many decimals (``None`` keeps them).

    Returns:
        ``{"columns": [...], "rows": [[...], ...]}``.

    Example:
        ```python
        from llmkb.lab.kit import table, table_rows

        t = table([{"b": 2, "a": 1.23456}], first=["a"], digits=2)
        assert t == {"columns": ["a", "b"], "rows": [[1.23, 2]]}
        assert table_rows(t) == [{"a": 1.23, "b": 2}]
        ```
    """
    if not rows:
        return {"columns": [], "rows": []}
    lead = [c for c in first if c in rows[0]]
    columns = lead + [c for c in rows[0] if c not in lead]

    def cell(v: Any) -> Any:
        return round(v, digits) if digits is not None and isinstance(v, float) else v

    return {"columns": columns, "rows": [[cell(r.get(c, "")) for c in columns] for r in rows]}


def table_rows(t: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The inverse of :func:`table`: one dict per row.

    Raises:
        ValueError: a row's length differs from the number of columns.
    """
    return [dict(zip(t["columns"], row, strict=True)) for row in t["rows"]]


TableLike = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""What the display helpers accept: a :data:`Table`, a list of row dicts, or one dict of named values."""


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{name}."))
        else:
            out[name] = v
    return out


def as_table(data: TableLike) -> Table:
    """Any table-like value as a :data:`Table`.

    A :data:`Table` stays as it is; a list of row dicts goes through :func:`table`; any other mapping is one
    ``name | value`` row per entry, nested mappings flattened to dotted names (``circuit.exact``).

    Raises:
        TypeError: ``data`` is none of these.
    """
    if isinstance(data, Mapping):
        if "columns" in data and "rows" in data:
            return {"columns": list(data["columns"]), "rows": [list(r) for r in data["rows"]]}
        return {"columns": ["name", "value"], "rows": [[k, v] for k, v in _flatten(data).items()]}
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        rows = list(data)
        if all(isinstance(r, Mapping) for r in rows):
            return table(rows)
    raise TypeError(
        f"a table is a {{'columns', 'rows'}} dict, a list of row dicts or a dict, not {type(data).__name__}"
    )


def _cells(
    t: Table, formats: Mapping[str, str] | None, sig: int, decimals: int | None
) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, formatted cells, and which columns are numeric (every non-empty cell a number).

    A format applies to the column of its name or, in a ``name | value`` table, to the row of its name.
    """
    formats = formats or {}
    cols = [str(c) for c in t["columns"]]
    by_row = cols == ["name", "value"]
    known = set(cols) | ({str(r[0]) for r in t["rows"]} if by_row else set())
    unknown = sorted(set(formats) - known)
    if unknown:
        raise KeyError(f"formats name columns (or rows) the table does not have: {', '.join(unknown)}")

    def cell(spec: str | None, v: Any) -> str:
        if v is None:
            return ""
        if spec is None and decimals is not None and is_number(v) and not isinstance(v, Integral):
            spec = f",.{decimals}f"
        return fmt(v, spec) if spec is not None and is_number(v) else readable(v, sig)

    rows = [
        [
            cell(formats.get(str(r[0]) if by_row and c == "value" else c), v)
            for c, v in zip(cols, r, strict=True)
        ]
        for r in t["rows"]
    ]
    numeric = [
        any(is_number(r[i]) for r in t["rows"])
        and all(is_number(r[i]) or r[i] in ("", None) for r in t["rows"])
        for i in range(len(cols))
    ]
    return cols, rows, numeric


def text_table(
    data: TableLike,
    *,
    formats: Mapping[str, str] | None = None,
    sig: int = 4,
    decimals: int | None = None,
) -> str:
    """A plain-text table: a header, a rule, one line per row; numbers right-aligned, text left-aligned.

    Args:
        data: a :data:`Table`, row dicts or a dict of values (see :func:`as_table`).
        formats: a format spec per column name (``{"share": ".1%"}``), or per row name in a table made from a
            dict of values; other numbers are :func:`~llmkb.lab.kit.numbers.readable` with ``sig``
            significant digits.
        sig: significant digits of numbers without a format.
        decimals: write every float without a format with this many decimals instead (a column of losses
            reads better as ``1.00, 1.67`` than as ``1, 1.67``).

    Example:
        ```python
        from llmkb.lab.kit import text_table

        t = {"columns": ["variant", "loss"], "rows": [["rope", 1.23456], ["none", -0.0]]}
        assert text_table(t).splitlines() == ["variant   loss", "-------  -----", "rope     1.235", "none         0"]
        ```
    """
    cols, rows, numeric = _cells(as_table(data), formats, sig, decimals)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(cols), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def html_table(
    data: TableLike,
    *,
    formats: Mapping[str, str] | None = None,
    sig: int = 4,
    decimals: int | None = None,
    caption: str | None = None,
) -> str:
    """The same table as HTML (every header and cell escaped; numeric columns right-aligned).

    Args:
        data: a :data:`Table`, row dicts or a dict of values (see :func:`as_table`).
        formats: a format spec per column name; see :func:`text_table`.
        sig: significant digits of numbers without a format.
        decimals: fixed decimals for floats without a format; see :func:`text_table`.
        caption: a caption above the table (escaped).
    """
    cols, rows, numeric = _cells(as_table(data), formats, sig, decimals)
    align = ["" if not num else ' style="text-align: right"' for num in numeric]
    head = "".join(f"<th{a}>{html.escape(c)}</th>" for c, a in zip(cols, align, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{a}>{html.escape(c)}</td>" for c, a in zip(r, align, strict=True)) + "</tr>"
        for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="llmkb-lab-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (where ``display`` renders HTML), not a plain interpreter."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show_table(
    data: TableLike,
    *,
    formats: Mapping[str, str] | None = None,
    sig: int = 4,
    decimals: int | None = None,
    caption: str | None = None,
) -> None:
    """Show a result table in a lab: an HTML table in a notebook, :func:`text_table` printed in a script.

    Args:
        data: a :data:`Table`, row dicts or a dict of values (see :func:`as_table`).
        formats: a format spec per column name (``{"tokens_per_char": ".2f", "gain": ".1%"}``).
        sig: significant digits of numbers without a format.
        decimals: fixed decimals for floats without a format; see :func:`text_table`.
        caption: a line above the table.
    """
    if in_notebook():
        from IPython.display import HTML, display

        display(HTML(html_table(data, formats=formats, sig=sig, decimals=decimals, caption=caption)))
        return
    if caption:
        print(caption)
    print(text_table(data, formats=formats, sig=sig, decimals=decimals))
