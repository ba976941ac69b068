"""Where in a recording something was said, as a person reads it (kept light: the CLI uses it)."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """Seconds into a recording: "0:07", "12:30", "1:02:05"."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
