"""Errors that the CLI turns into a one-line message and exit status 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: a one-line message saying what was wrong and what to do.

    The CLI prints ``llmkb: error: <message>`` and exits with status 2. Raise it *before*
    writing anything, so that nothing is left half-written.
    """
