"""The quantization lab's names: its topic, experiments, the variants it compares and llama.cpp's published numbers."""

from __future__ import annotations

from llmkb.lab.topic import Topic

TOPIC = Topic("quantization")
SIZES = TOPIC.name("sizes")
"""Held-out perplexity against stored bytes for float, int8/int4/int3 round-to-nearest, AWQ, QAT and GGUF files."""
ERRORS = TOPIC.name("errors")
"""Where the error comes from: one layer quantized at a time, weight and activation outliers, error histograms."""
QAT = TOPIC.name("qat")
"""Post-training quantization against quantization-aware fine-tuning at 4 bits and below, over seeds."""

LLAMA_CPP: dict[str, float] = {"Q8_0": 0.0004, "Q4_0": 0.2166}
"""Perplexity increase over F16 on LLaMA-v1-7B (wikitext-2) that llama.cpp's quantize tool lists for each type
(ggml-org/llama.cpp, ``examples/quantize/README.md`` and the type table of ``quantize.cpp``)."""

LLAMA_CPP_SIZE_GB: dict[str, float] = {"Q8_0": 6.70, "Q4_0": 3.56}
"""The file sizes llama.cpp lists beside those numbers for LLaMA-v1-7B (GB; F16 is 13.0)."""

FAMILY_ORDER: tuple[str, ...] = ("float", "round-to-nearest", "AWQ", "GPTQ", "QAT", "GGUF")
"""Families of the accuracy-vs-bytes plot, in legend order."""
