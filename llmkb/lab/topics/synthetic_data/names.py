"""The synthetic-data lab's names: its topic, experiments, the model trained on mixtures, the dedup settings."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("synthetic-data")
GENERATE = TOPIC.name("generate")
"""Samples of each generator, their statistics next to the real corpus, what the Gopher rules remove from each."""
DEDUP = TOPIC.name("dedup")
"""The S-curve over measured candidate rates, planted duplicates found (precision, recall), time and memory."""
MIXTURES = TOPIC.name("mixtures")
"""One model trained on 0–100 % synthetic text at equal tokens, scored on held-out real text and on the tasks."""
COLLAPSE = TOPIC.name("collapse")
"""Recursive training on a model's own samples: held-out real loss and the token tail, generation by generation."""

MODEL: dict[str, Any] = {"vocab_size": 256, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 64,
                         "positional": "rope", "norm": "rmsnorm", "bias": False}  # fmt: skip
"""The small byte-level Llama-style model every training run of the lab uses."""

SOURCES: tuple[str, ...] = ("real", "grammar", "textbook", "code", "model")
"""Where documents come from: the real corpus (pydoc topics), the three template generators, the shared model."""

SYNTHETIC_MIX: tuple[str, ...] = ("textbook", "grammar")
"""The synthetic half of a training mixture: lessons on the tasks and grammar prose, in turn."""
