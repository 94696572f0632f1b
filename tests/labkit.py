"""Checks every topic's lab tests share (imported by ``tests/test_lab_<package>.py``)."""

from __future__ import annotations

from llmkb.lab.cache import Result
from llmkb.lab.registry import figures_of


def assert_figures_draw(name: str, result: Result) -> None:
    """Every figure registered for experiment ``name`` draws at least one axes from ``result``."""
    import matplotlib.pyplot as plt

    figs = figures_of(name)
    assert figs, f"{name} registers no figure"
    for f in figs:
        fig = f.fn(result)
        try:
            assert fig.axes, f"{name}/{f.name} drew nothing"
        finally:
            plt.close(fig)
