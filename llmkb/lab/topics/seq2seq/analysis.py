"""Pure functions of the seq2seq lab: building the compared models, scoring outputs, grouping by length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from llmkb.lab.kit.evals import seed_stats
from llmkb.lab.topics.seq2seq.names import TRANSFORMER
from llmkb.metrics.seq2seq import bleu, chrf, entity_f1, exact_match, token_f1
from llmkb.nn import GPT, GPTConfig
from llmkb.nn.rnn import GRUSeq2Seq
from llmkb.nn.seq2seq import EncoderDecoder, PromptedGPT, fan_in_init_

__all__ = ["build_model", "score", "by_bucket", "drop", "n_params"]

Words = Sequence[str]


def build_model(kind: str, vocab_size: int, size: dict[str, Any]) -> nn.Module:
    """A fresh model of family ``kind`` (a key of :data:`.names.MODEL_NAMES`).

    ``size`` holds ``layers`` (transformer depth: each stack of the encoder-decoder, twice that for the
    decoder-only model, so both have about as many parameters), ``d_model`` and, for the GRUs, ``d_emb`` and
    ``d_hidden``.
    """
    arch = {**TRANSFORMER, "vocab_size": vocab_size, "d_model": size["d_model"]}
    if kind == "encdec":
        return EncoderDecoder(GPTConfig(**arch, n_layers=size["layers"], positional="learned"))
    if kind == "gpt":
        return PromptedGPT(
            fan_in_init_(GPT(GPTConfig(**arch, n_layers=2 * size["layers"], positional="rope")))
        )
    if kind in ("gru", "gru-att"):
        return GRUSeq2Seq(vocab_size, size["d_emb"], size["d_hidden"], attention=kind == "gru-att")
    raise ValueError(f"unknown model family {kind!r}")


def n_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def score(metric: str, preds: Sequence[Words], refs: Sequence[Words]) -> float:
    """One score of :data:`.names.TASK_METRICS` as a fraction (BLEU and chrF on 0..100)."""
    if metric in ("accuracy", "exact match"):
        return exact_match(preds, refs)
    if metric == "token F1":
        return token_f1(preds, refs)
    if metric == "BLEU":
        return bleu(preds, refs)
    if metric == "chrF":
        return chrf(preds, refs)
    if metric == "entity F1":
        return entity_f1(preds, refs)["f1"]
    raise ValueError(f"unknown metric {metric!r}")


def by_bucket(values: Sequence[float], buckets: Sequence[int]) -> dict[int, float]:
    """Mean of ``values`` per bucket label, buckets in increasing order."""
    v, b = np.asarray(values, dtype=float), np.asarray(buckets)
    return {int(k): float(v[b == k].mean()) for k in sorted(set(b.tolist()))}


def drop(curves: Sequence[Sequence[float]]) -> dict[str, float]:
    """Over seeds, the accuracy lost from the first bucket to the last: ``curve[0] - curve[-1]`` (mean, sd…)."""
    return seed_stats([c[0] - c[-1] for c in curves])
