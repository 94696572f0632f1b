"""Measurements of embedding matrices: cosines, group statistics, case pairs, neighbours and PCA. Pure
functions of tensors, tested in ``tests/test_lab_tokenization.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmkb.lab.topics.tokenization.names import BYTE_GROUPS

__all__ = [
    "case_pair_cosines",
    "cosine_matrix",
    "group_cosines",
    "nearest_neighbours",
    "pca_2d",
    "selected_bytes",
]


def cosine_matrix(emb: Tensor) -> Tensor:
    """Pairwise cosine similarity of the rows of ``emb``.

    ``cos(u, v) = u·v / (|u| |v|)``; a zero row gets similarity 0 with everything.

    Args:
        emb: ``(N, D)`` vectors.

    Returns:
        ``(N, N)`` similarities in ``[-1, 1]``.
    """
    norms = emb.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (N, 1)
    unit = emb / norms  # (N, D)
    return (unit @ unit.T).clamp(-1.0, 1.0)  # (N, N)


def selected_bytes(counts: Counter[int] | dict[int, int], min_count: int) -> list[tuple[str, int]]:
    """The bytes of :data:`BYTE_GROUPS` that occur at least ``min_count`` times, as ``(group, byte)``.

    Args:
        counts: Byte value -> occurrences in the training corpus.
        min_count: Rarer bytes are left out (their embeddings barely moved from initialisation).
    """
    out = []
    for group, chars in BYTE_GROUPS.items():
        out.extend((group, ord(c)) for c in chars if counts.get(ord(c), 0) >= min_count)
    return out


def group_cosines(sim: Tensor, groups: Sequence[str]) -> list[dict[str, Any]]:
    """Mean cosine within each group (distinct pairs) and between the group and every other item.

    Args:
        sim: ``(N, N)`` cosine matrix.
        groups: The group of each of the ``N`` items.

    Returns:
        One row per group with at least two members: ``group``, ``n``, ``within``, ``between``.
    """
    labels = np.asarray(groups)
    s = sim.detach().cpu().double().numpy()
    rows = []
    for g in dict.fromkeys(groups):
        inside = labels == g
        n = int(inside.sum())
        if n < 2 or inside.all():
            continue
        block = s[np.ix_(inside, inside)]
        within = (block.sum() - np.trace(block)) / (n * (n - 1))
        between = s[np.ix_(inside, ~inside)].mean()
        rows.append({"group": g, "n": n, "within": float(within), "between": float(between)})
    return rows


def case_pair_cosines(sim: Tensor, byte_ids: Sequence[int]) -> dict[str, float]:
    """Cosine of each lowercase letter with its own uppercase vs with the other uppercase letters.

    Args:
        sim: ``(N, N)`` cosine matrix.
        byte_ids: The byte value of each of the ``N`` items.

    Returns:
        ``pairs`` (number of letters present in both cases), ``same`` (mean cos(x, X)) and ``other``
        (mean cos(x, Y) over Y ≠ X); NaN means when no pair is present.
    """
    index = {b: i for i, b in enumerate(byte_ids)}
    lowers = [b for b in byte_ids if ord("a") <= b <= ord("z") and b - 32 in index]
    uppers = [index[b - 32] for b in lowers]
    same, other = [], []
    for b in lowers:
        i, j = index[b], index[b - 32]
        same.append(float(sim[i, j]))
        other.extend(float(sim[i, k]) for k in uppers if k != j)
    nan = float("nan")
    return {
        "pairs": float(len(lowers)),
        "same": float(np.mean(same)) if same else nan,
        "other": float(np.mean(other)) if other else nan,
    }


def nearest_neighbours(sim: Tensor, query: int, k: int) -> list[tuple[int, float]]:
    """The ``k`` items most similar to item ``query`` (itself excluded), most similar first.

    Returns:
        ``(index, cosine)`` pairs.
    """
    row = sim[query].clone()
    row[query] = -float("inf")
    vals, idx = torch.topk(row, min(k, row.numel() - 1))
    return [(int(i), float(v)) for v, i in zip(vals, idx, strict=True)]


def pca_2d(emb: Tensor) -> tuple[Tensor, Tensor]:
    """Project rows onto their first two principal components (SVD of the centred matrix).

    With ``X - mean = U S Vᵀ``, the coordinates are ``(X - mean) V[:, :2]`` and component ``i`` explains
    ``S_i² / Σ S_j²`` of the variance (Pearson 1901; computed with ``torch.linalg.svd``).

    Args:
        emb: ``(N, D)`` vectors, ``N >= 2``.

    Returns:
        ``(coords, explained)``: ``(N, 2)`` coordinates and the ``(2,)`` explained-variance ratios.
    """
    x = emb.double() - emb.double().mean(dim=0, keepdim=True)  # (N, D)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)  # s: (min(N, D),), vh: (min(N, D), D)
    coords = x @ vh[:2].T  # (N, 2)
    var = s.square()
    return coords, var[:2] / var.sum()
