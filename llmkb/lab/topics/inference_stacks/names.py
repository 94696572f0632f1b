"""The inference-stacks lab's names: its topic, experiments and the runtimes it compares."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("inference-stacks")
BENCH = TOPIC.name("bench")
"""Tokens/s, time to first token, latency percentiles and memory of each runtime, batch 1 and 8, two prompts."""
PARITY = TOPIC.name("parity")
"""Max logit difference and held-out perplexity per runtime and number format."""

RUNTIMES: dict[str, str] = {
    "eager": "PyTorch eager, no cache",
    "kv-cache": "PyTorch eager + static KV cache",
    "compiled": "torch.compile, fixed-shape step",
    "transformers": "Transformers LlamaForCausalLM",
    "onnxruntime": "ONNX Runtime (CPU)",
}
"""Runtime key -> what it is, in the order the tables and figures use."""

REFERENCE = "eager"
"""The runtime every ratio divides by."""
