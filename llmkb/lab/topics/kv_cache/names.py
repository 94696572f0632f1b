"""The names of the KV-cache lab: its topic, experiments, trace scenarios, colours and the published shapes."""

from __future__ import annotations

from typing import Any

from llmkb.lab.topic import Topic

TOPIC = Topic("kv-cache")
SPEEDUP = TOPIC.name("speedup")
HITMISS = TOPIC.name("hitmiss")
MEMORY = TOPIC.name("memory")

TRACE_ORDER: tuple[str, ...] = ("no-cache", "cache", "window", "prefix")
"""Order of the scenarios in the figures and the widget."""

DEMO_PROMPTS: tuple[str, ...] = ("The value of the", "A list is a", "Python objects")
"""Candidate prompts of the recorded demo, tried in order: the first whose continuations are visible text wins."""

MIN_VISIBLE = 0.5
"""Least share of non-whitespace bytes in a demo continuation (whitespace says nothing on the widget's axis)."""

SYSTEM_PROMPT = (
    "You are a helpful assistant for Python programmers. Answer briefly, show one example, "
    "and say which part of the standard library to read next.\n"
)
"""Shared prefix of the chat-like prefix-cache workload."""

QUESTIONS: tuple[str, ...] = (
    "Q: How do I read a file line by line?",
    "Q: How do I sort a dict by value?",
    "Q: What does the with statement do?",
    "Q: How do I time a function?",
    "Q: What is a generator?",
    "Q: How do I parse JSON?",
    "Q: How do I copy a list?",
    "Q: What is a decorator?",
)
"""User turns of the workload (each request = system prompt + one question)."""

SHARED_NAME = "this site's shared model"
"""Row name of the site's own shared model in the at-scale memory table."""

_LLAMA: dict[str, Any] = {
    "d_model": 4096,
    "n_layers": 32,
    "n_heads": 32,
    "positional": "rope",
    "norm": "rmsnorm",
    "activation": "swiglu",
    "bias": False,
    "tie_embeddings": False,
}

PUBLIC_CONFIGS: dict[str, dict[str, Any]] = {
    "GPT-2 small": {
        "vocab_size": 50257,
        "d_model": 768,
        "n_layers": 12,
        "n_heads": 12,
        "d_ff": 3072,
        "max_seq_len": 1024,
        "positional": "learned",
        "activation": "gelu",
    },
    "Llama-2-7B": {**_LLAMA, "vocab_size": 32000, "d_ff": 11008, "max_seq_len": 4096},
    "Llama-3-8B": {
        **_LLAMA,
        "vocab_size": 128256,
        "n_kv_heads": 8,
        "d_ff": 14336,
        "max_seq_len": 8192,
        "rope_base": 500000.0,
    },
}
"""``GPTConfig`` fields of published models (their released configs: GPT-2's ``n_ctx`` 1024, Llama 2's 4096 and
Llama 3's 8192 positions), for the memory table; ``tests/test_lab_kv_cache.py`` checks their parameter counts
against Hugging Face ``transformers``."""
