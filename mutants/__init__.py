"""Mutation testing over a curated list of realistic bugs (a dev tool, not part of the llmkb package).

``python -m mutants`` (or ``make mutants``) applies each mutant of ``mutants/mutants.toml`` to a temporary
copy of the tree, runs the tests that should catch it and reports the kill rate. See :mod:`mutants.runner`.
"""
