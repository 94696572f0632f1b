"""Metrics of model outputs, independent of any model: :mod:`llmkb.metrics.text` (diversity, repetition,
loops of generated text). Future evaluation metrics (perplexity helpers, exact match, pass@k) go here."""
