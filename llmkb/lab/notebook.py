"""What a lab notebook calls to show a registered figure: drawn in the site's style, displayed once."""

from __future__ import annotations

from llmkb.lab.cache import Result
from llmkb.lab.kit import style
from llmkb.lab.registry import get_figure

__all__ = ["show_figure"]


def show_figure(result: Result, name: str) -> None:
    """Draw figure ``name`` of ``result`` in the shared style and display it once.

    A cell ending in ``get_figure(...).fn(result)`` shows its figure twice in a notebook (the inline backend
    displays every open figure, and the returned one is displayed again as the cell's value) and without the
    site's style; this displays it once, styled like the page's figure, with its caption as the image's alt
    text, and closes it.

    Args:
        result: a result from ``lab.run(...)``.
        name: the figure's registered name (e.g. ``"val-loss"``).
    """
    import base64
    import html
    import io

    import matplotlib.pyplot as plt

    spec = get_figure(result.name, name)
    with style.context():
        fig = spec.fn(result)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    try:
        from IPython.display import HTML, display
    except ImportError:  # a plain Python run of the notebook script: nothing to display
        return
    alt = html.escape(spec.caption or f"{result.name}: {name}", quote=True)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    display(HTML(f'<img class="llmkb-lab-figure" alt="{alt}" src="data:image/png;base64,{data}">'))
