"""Experiments, one module per topic; every module here is imported by :func:`llmkb.lab.discover`."""
