"""The seq2seq lab's names: its topic, experiments, model families and the scores of each task."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("seq2seq")
TASKS_EXP = TOPIC.name("tasks")
"""Encoder-decoder vs decoder-only on the five generated tasks: metric table, beam vs greedy, samples."""
BOTTLENECK = TOPIC.name("bottleneck")
"""GRU (fixed vector), GRU + attention, transformer: translation accuracy by source length; alignment maps."""

MODEL_NAMES: dict[str, str] = {
    "encdec": "encoder-decoder",
    "gpt": "decoder-only",
    "gru": "GRU, fixed vector",
    "gru-att": "GRU + attention",
}
"""Display name of each model family."""

TASK_NAMES: dict[str, str] = {
    "classify": "classification",
    "translate": "translation",
    "summarize": "summarization",
    "qa": "extractive QA",
    "entities": "entity tagging",
}
"""Display name of each task of :data:`llmkb.data.seq2seq_tasks.TASKS`."""

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classify": ("accuracy",),
    "translate": ("exact match", "BLEU", "chrF"),
    "summarize": ("exact match", "token F1"),
    "qa": ("exact match", "token F1"),
    "entities": ("entity F1", "exact match"),
}
"""The scores reported for each task, the first one the headline."""

TRANSFORMER: dict[str, Any] = {
    "d_model": 32,
    "n_heads": 4,
    "max_seq_len": 96,
    "norm": "rmsnorm",
    "activation": "swiglu",
    "bias": False,
    "tie_embeddings": False,
}
"""The architecture both transformers share (the encoder-decoder adds learned positions, the GPT RoPE)."""
