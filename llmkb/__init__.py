"""llmkb."""
