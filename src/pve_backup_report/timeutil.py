"""Small time helpers shared by the command line, the config and the simulator."""

from __future__ import annotations

import time
from datetime import datetime, timezone

DAY_S = 86400


def window_s(history_days: int) -> int:
    """The history window in seconds: every rule that looks back uses this one."""
    return history_days * DAY_S


def parse_timestamp(value: object) -> int:
    """Epoch seconds (int or digits) or ISO 8601 (``Z`` or offset; naive means UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"not a time: {text!r} (use epoch seconds or ISO 8601 like 2026-11-20T12:00:00Z)"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def iso_utc(epoch: int | None) -> str | None:
    """``2026-11-20T12:00:00Z`` or None."""
    if epoch is None:
        return None
    try:  # a report writes tens of thousands: time.gmtime is a fifth of datetime's cost
        t = time.gmtime(epoch)
    except (OverflowError, ValueError, OSError):
        return f"@{epoch}"
    if not 1 <= t.tm_year <= 9999:  # beyond what datetime represents, as before
        return f"@{epoch}"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


_UNITS = {"en": ("d", "h", "m", "s", ""), "fr": ("j", "h", "min", "s", " ")}


def human_duration(seconds: int | None, lang: str = "en") -> str:
    """``3d 4h``, ``5h 12m``, ``42m``, ``17s``; ``-`` for None.

    In French: ``3 j 4 h``, ``5 h 12 min``, ``42 min``, ``17 s``.
    """
    if seconds is None:
        return "-"
    day, hour, minute, second, gap = _UNITS[lang]
    s = max(0, int(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}{gap}{day} {h}{gap}{hour}" if h else f"{d}{gap}{day}"
    if h:
        return f"{h}{gap}{hour} {m}{gap}{minute}" if m else f"{h}{gap}{hour}"
    if m:
        return f"{m}{gap}{minute}"
    return f"{sec}{gap}{second}"
