"""Benchmarks for ``llmkb bench <name>``: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``).

A benchmark measures speed as a ratio against a reference measured in the same run, never as an
absolute time threshold.
"""
