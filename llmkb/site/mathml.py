"""Math at build time: LaTeX (as marked by ``pymdownx.arithmatex`` in generic mode) becomes MathML,
which browsers render natively, so the site needs no math script and requests nothing from elsewhere."""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((?P<tex>.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(?P<tex>.*?)\\\]</div>', re.S)


class MathError(ValueError):
    """A formula could not be converted."""


def _convert(tex: str, display: str) -> str:
    source = html.unescape(tex).strip()
    try:
        return convert(source, display=display)
    except Exception as exc:  # latex2mathml raises many exception types
        raise MathError(f"cannot convert formula {source!r}: {exc}") from None


def render_math(content: str) -> str:
    """Replace arithmatex's inline and block formulas in page HTML with MathML."""
    content = _BLOCK.sub(lambda m: f'<div class="llmkb-math">{_convert(m["tex"], "block")}</div>', content)
    return _INLINE.sub(lambda m: _convert(m["tex"], "inline"), content)
