"""Python-like code from templates: small functions with loops, conditions and docstrings.

Each template is a function skeleton whose names, operators and constants are drawn at random, so the
output is syntactically valid Python (the tests compile it) while covering the surface statistics of code:
indentation, keywords, brackets, identifiers with underscores.
"""

from __future__ import annotations

import random

__all__ = ["TEMPLATES", "document", "function"]

_NOUNS = ("count", "total", "value", "item", "size", "score", "index", "limit", "name", "word", "key", "row")
_VERBS = ("compute", "find", "count", "merge", "check", "scale", "collect", "parse", "clip", "sum")
_OPS = ("+", "-", "*", "//", "%")
_CMP = ("<", ">", "<=", ">=", "==", "!=")

#: Function templates; ``{f}`` is a function name, ``{a}``, ``{b}``, ``{v}`` identifiers, ``{n}`` a constant.
TEMPLATES: tuple[str, ...] = (
    'def {f}({a}, {b}):\n    """Return the {w} of {a} and {b}."""\n    {v} = {a} {op} {b}\n'
    "    if {v} {cmp} {n}:\n        return {v} {op2} {n}\n    return {v}\n",
    'def {f}({a}):\n    """{W} every {w} in {a}."""\n    {v} = 0\n    for {b} in {a}:\n'
    "        if {b} {cmp} {n}:\n            {v} += {b}\n    return {v}\n",
    'def {f}({a}, {b}={n}):\n    """Keep the items of {a} below {b}."""\n    return [{v} for {v} in {a} if {v} {cmp} {b}]\n',
    "def {f}({a}):\n    {v} = {{}}\n    for {b} in {a}:\n        {v}[{b}] = {v}.get({b}, 0) + 1\n    return {v}\n",
    "def {f}({a}, {b}):\n    while {a} {cmp} {b}:\n        {a} = {a} {op} {n}\n    return {a}\n",
)


def _ident(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = rng.choice(_NOUNS) + rng.choice(("", "", "_" + rng.choice(_NOUNS), str(rng.randrange(10))))
        if name not in taken:
            taken.add(name)
            return name


def function(rng: random.Random) -> str:
    """One function from a random template with fresh identifiers."""
    taken: set[str] = set()
    a, b, v = (_ident(rng, taken) for _ in range(3))
    w = rng.choice(_NOUNS)
    return rng.choice(TEMPLATES).format(
        f=f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}", a=a, b=b, v=v, n=rng.randrange(1, 100), w=w,
        W=rng.choice(_VERBS).capitalize(), op=rng.choice(_OPS[:3]), op2=rng.choice(_OPS), cmp=rng.choice(_CMP),
    )  # fmt: skip


def document(rng: random.Random, min_functions: int = 1, max_functions: int = 3) -> str:
    """A module body: ``min_functions`` … ``max_functions`` functions separated by blank lines."""
    return "\n\n".join(function(rng) for _ in range(rng.randint(min_functions, max_functions)))
