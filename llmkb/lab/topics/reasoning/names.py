"""The reasoning lab's names: its topic, experiments, the model they train and the problem sizes."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("reasoning")
DIRECT_VS_COT = TOPIC.name("direct-vs-cot")
"""The same GPT trained to answer directly or with a scratchpad: accuracy by number of digits, over seeds."""
SELF_CONSISTENCY = TOPIC.name("self-consistency")
"""Majority vote over sampled chains: accuracy against the number of chains and the tokens generated."""
GRPO = TOPIC.name("grpo")
"""GRPO from the scratchpad model with the verifier as reward: reward, accuracy and length by step."""

TASK = "add"
"""The task every experiment trains on: addition of two numbers with the same number of digits."""

FORMAT_NAMES: dict[str, str] = {"direct": "direct answer", "scratchpad": "scratchpad"}
"""Display name of each answer format of :data:`llmkb.data.reasoning_tasks.FORMATS`."""

MODEL: dict[str, Any] = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "max_seq_len": 96,
    "positional": "learned",
}
"""The GPT both formats train (vocabulary: the 256 bytes and the three chat tokens)."""
