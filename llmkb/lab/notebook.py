"""What a lab notebook calls to show a registered figure: drawn in the site's style, displayed once."""

from __future__ import annotations

import os

from llmkb.lab.cache import Result
from llmkb.lab.kit import style
from llmkb.lab.kit.tables import in_notebook
from llmkb.lab.registry import get_figure

__all__ = ["FIGURE_REFS_ENV", "show_figure"]

FIGURE_REFS_ENV = "LLMKB_FIGURE_REFS"
"""Set (by the site build) to show a reference to each figure instead of drawing it: the site replaces the
reference by the figure it rendered for the page (both themes, full-size link, readable size)."""


def show_figure(result: Result, name: str) -> None:
    """Draw figure ``name`` of ``result`` in the shared style and display it once.

    A cell ending in ``get_figure(...).fn(result)`` shows its figure twice in a notebook (the inline backend
    displays every open figure, and the returned one is displayed again as the cell's value) and without the
    site's style; this displays it once, styled like the page's figure, with its caption as the image's alt
    text, and closes it. The image names its figure (``data-llmkb-figure="<experiment>::<name>"``) so the
    site can put its own rendering of the same figure in its place.

    Args:
        result: a result from ``lab.run(...)``.
        name: the figure's registered name (e.g. ``"val-loss"``).
    """
    import base64
    import html
    import io

    spec = get_figure(result.name, name)
    if not in_notebook():  # a plain Python run of the notebook script (``python lab.py``): nothing to display
        return
    src = ""
    if not os.environ.get(FIGURE_REFS_ENV):
        import matplotlib.pyplot as plt

        with style.context():
            fig = spec.fn(result)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
        src = f' src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}"'
    from IPython.display import HTML, display

    alt = html.escape(spec.caption or f"{result.name}: {name}", quote=True)
    ref = html.escape(f"{result.name}::{name}", quote=True)
    display(HTML(f'<img class="llmkb-lab-figure" alt="{alt}" data-llmkb-figure="{ref}"{src}>'))
