"""A moving average that keeps the x axis (same length as its input, edges padded with the end values)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["moving_average"]


def moving_average(y: ArrayLike, k: int) -> np.ndarray:
    """Centred moving mean over ``k`` points: ``s_i = (1/k) sum_{j} y_{i+j}``, ``j`` in ``[-k//2, k - 1 - k//2]``.

    The series is padded with its first and last value, so the output has ``len(y)`` points and lines up
    with the input's x values.

    Args:
        y: a 1-D series.
        k: window length; ``k <= 1`` (or a series shorter than ``k``) returns the series unchanged.

    Example:
        ```python
        from llmkb.lab.kit import moving_average

        assert moving_average([0.0, 3.0, 0.0, 3.0], 2).tolist() == [0.0, 1.5, 1.5, 1.5]
        ```
    """
    y = np.asarray(y, dtype=float)
    if k <= 1 or len(y) < k:
        return y
    padded = np.concatenate([np.full(k // 2, y[0]), y, np.full(k - 1 - k // 2, y[-1])])
    return np.convolve(padded, np.ones(k) / k, mode="valid")
