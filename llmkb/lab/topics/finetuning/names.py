"""The finetuning lab's names: its topic, experiments, and the instruction tasks it trains and holds out."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("finetuning")
DOMAIN = TOPIC.name("domain")
"""The shared model finetuned on Python source: full vs LoRA ranks, loss on the new and the old domain."""
SFT = TOPIC.name("sft")
"""Instruction tuning with and without prompt-loss masking: exact match per task, held-out compositions."""
REWARD = TOPIC.name("reward")
"""Preference pairs from the judge, a Bradley–Terry reward model and its held-out accuracy."""
PPO = TOPIC.name("ppo")
"""PPO against the reward model for a sweep of KL coefficients: reward, true score, KL, length by step."""
DPO = TOPIC.name("dpo")
"""DPO on the reward model's training pairs: the true score it reaches from the same SFT model."""

TRAIN_TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "inc", "add", "sort reverse", "reverse inc")
"""Task prefixes seen in instruction tuning: four operations, addition, and two compositions."""

HELD_OUT_TASKS: tuple[str, ...] = ("sort inc", "inc reverse")
"""Compositions never seen in training, built from operations that were: does the prefix generalise?"""

SINGLE_TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "inc", "add")
"""The single-operation tasks (a reward-model and PPO prompt is drawn from these)."""
