"""Numbers written for readers: one formatter for page prose, lab tables and notebook prints.

Two rules everywhere a number meets a reader:

* no negative zero: a value that rounds to zero never keeps its sign (``-0.0001`` with ``.3f`` is ``0.000``,
  and so is ``-0.0``, the entropy of a one-hot distribution as torch computes it);
* no surprise exponents: :func:`readable` writes ``12,704`` and ``0.0127``, and keeps scientific notation
  for the really tiny (``3.1e-08``), where it is the readable form.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["fmt", "is_number", "readable"]


def is_number(v: Any) -> bool:
    """Whether ``v`` is a real number a table should right-align (``bool`` is not; numpy scalars are)."""
    return isinstance(v, Real) and not isinstance(v, bool)


def fmt(x: Any, spec: str = "") -> str:
    """``format(x, spec)``, except that a number whose formatted digits are all zeros (``0.0``, ``-0.0``,
    ``-0.0001`` at three decimals) is written ``0`` (``0%`` for a percentage): never ``-0.000``, and no
    precision that a zero does not have. Anything that is not a real number is formatted as it is.

    Args:
        x: the value.
        spec: a format spec (``".3f"``, ``".0%"``, ``","``, ``".1e"``, ``""``).

    Example:
        ```python
        from llmkb.lab.kit import fmt

        assert fmt(-0.0, ".3f") == "0" and fmt(-0.004, ".0%") == "0%"
        assert fmt(0.0004, ".3f") == "0" and fmt(-0.25, ".2f") == "-0.25"
        ```
    """
    out = format(x, spec)
    if not is_number(x):
        return out
    if not any(c in "123456789" for c in out.split("e")[0].split("E")[0]):
        return "0%" if out.endswith("%") else "0"
    return out


def readable(x: Any, sig: int = 4) -> str:
    """A number for a table cell or a print: ``sig`` significant digits, thousands separators, no
    exponent from 0.001 on and no negative zero; anything else as ``str``.

    Integers are written in full with separators (``512``, ``4,352``); floats from 1,000 on are rounded to a
    whole number with separators; from 0.001 to 1,000 they keep ``sig`` significant digits without
    trailing zeros (``0.5``, ``2.123``); below 0.001 they switch to ``3.14e-08``.

    Example:
        ```python
        from llmkb.lab.kit import readable

        cells = [readable(v) for v in (12704, 512, 34150.3, 2.12345, 0.5, -0.0, 3.14e-8, "text")]
        assert cells == ["12,704", "512", "34,150", "2.123", "0.5", "0", "3.14e-08", "text"]
        ```
    """
    if not is_number(x):
        return str(x)
    if x == 0:
        return "0"
    if isinstance(x, Integral):
        return f"{int(x):,}"
    v = float(x)
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 1e-3:
        out = fmt(v, f".{sig}g")
        return fmt(v, ",.0f") if abs(float(out)) >= 1000 else out  # 999.96 rounds up to 1,000
    return fmt(v, f".{max(sig - 2, 0)}e")
