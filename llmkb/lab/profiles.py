"""Lab profiles: ``quick`` for tests and CI, ``full`` for the published site."""

from __future__ import annotations

import os

PROFILES: tuple[str, ...] = ("quick", "full")
"""The profiles every experiment defines."""


def current_profile() -> str:
    """The profile in force: ``$LLMKB_PROFILE`` (``quick`` or ``full``), default ``quick``.

    Raises:
        ValueError: if ``$LLMKB_PROFILE`` names an unknown profile.
    """
    profile = os.environ.get("LLMKB_PROFILE", "quick").strip() or "quick"
    if profile not in PROFILES:
        raise ValueError(f"LLMKB_PROFILE={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    return profile
