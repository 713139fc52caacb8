"""Small text helpers shared by the adapters (no platform imports)."""
from __future__ import annotations

from engine.shelf import printable

MAX_INPUT = 300  # characters of user text passed on; titles are shorter, the rest is noise


def clip(text: str | None, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    text = text or ""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def clean_input(text: str | None) -> str:
    """User input as the service gets it: control characters gone, whitespace collapsed, bounded.

    Over-long input is cut rather than refused so that the service still answers (it says
    when nothing matches); 10,000 characters of anything never reach the matcher.
    """
    text = "".join(c if c.isprintable() else " " for c in printable((text or "")[: MAX_INPUT * 4]))
    return clip(" ".join(text.split()), MAX_INPUT)

