"""The pretraining-objectives lab's names: its topic, experiments, objectives and the tiny backbone they share."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("pretraining-objectives")
TRAIN = TOPIC.name("train")
"""CLM, MLM and prefix LM trained at equal compute on prose + task text, several seeds: learning curves."""
SAMPLES = TOPIC.name("samples")
"""Sample quality (objective × task, scored exactly), behaviours off each objective's job, attention maps."""

OBJECTIVE_NAMES: dict[str, str] = {"clm": "CLM", "mlm": "MLM", "prefix": "prefix LM"}
"""Display name of each objective of :data:`llmkb.data.objectives.OBJECTIVES`."""

LLAMA: dict[str, Any] = {"positional": "rope", "norm": "rmsnorm", "bias": False, "activation": "swiglu"}
"""The shared model's architecture (Llama-style); only the objective changes between the compared models."""

TASKS: tuple[str, ...] = ("copy", "rev", "sort", "add")
"""The conditional tasks written as text lines ``<task> <input>=<answer>`` (see :func:`.analysis.task_line`)."""

TASK_LEN: int = 3
"""Letters of a copy, reverse or sort input: short enough for the tiny models to learn within the budget."""

ALPHABET: str = "abcdefgh"
"""The letters of task inputs."""

HELD_OUT: int = 10
"""One task input in :data:`HELD_OUT` (by a hash of the string) never occurs in training; the task scores use
only those (see :func:`.analysis.is_held_out`)."""

TASK_NAMES: dict[str, str] = {"copy": "copy", "rev": "reverse", "sort": "sort", "add": "addition"}
"""Display name of each task."""
