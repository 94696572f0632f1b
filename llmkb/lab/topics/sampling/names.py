"""The sampling topic's name, its experiments and the constants its analysis, prose and figures share."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("sampling")
GRID = TOPIC.name("grid")
"""Every prompt under every (temperature, top-k, top-p) cell: entropy, diversity, quality, dashboard data."""
GREEDY = TOPIC.name("greedy")
"""Long greedy continuations: where they loop, and repetition as a function of temperature."""

PROMPTS: tuple[str, ...] = (
    "If the primary is a ",
    "The default value of ",
    "This method is called ",
    "A function definition ",
    "The expression ",
)
"""Prompts in the style of the shared model's corpus (CPython's pydoc topics); each ends with a space, so a
continuation never finishes a word of its prompt."""

LOOP_MIN_REPEATS = 3
"""A loop must repeat its unit at least this many times ..."""
LOOP_MIN_SPAN = 24
"""... and cover at least this many bytes, so that a short run of spaces (indentation) does not count."""
SELF_SIM_N = 4
"""Self-similarity compares character ``n``-grams: short samples rarely share a whole word bigram."""
PROMPT_SEED_STRIDE = 10_000
"""Seed distance between prompts, larger than any number of settings, so no two draws share a seed."""
