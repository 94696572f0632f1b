"""Results as ordered tables.

The lab cache stores results as JSON with sorted keys, so a list of row dicts comes back with its columns in
alphabetical order. :func:`table` stores ``{"columns": [...], "rows": [[...], ...]}`` instead, the form
``{{ lab.table(...) }}`` renders with the columns in the order the experiment wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Table", "table", "table_rows"]

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
