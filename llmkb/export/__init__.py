"""Exporters: an llmkb checkpoint written in another ecosystem's format (GGUF, Hugging Face, ONNX, AWQ).

Each format is one module. A module that also defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` becomes a sub-command of ``llmkb export`` by itself (``llmkb export <NAME> ...``).
"""
