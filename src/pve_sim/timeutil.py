"""Time helpers shared by the scenario loader, the API handlers and the log generator."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "epoch_to_iso_z",
    "local_datetime",
    "parse_time",
    "utc_offset_seconds",
    "zone",
]


def parse_time(value: object) -> int:
    """An epoch (int), an ISO 8601 string or a YAML datetime, as epoch seconds.

    A naive date-time is taken as UTC. Raises ``ValueError`` with a short reason.
    """
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or an epoch, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return _datetime_to_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _datetime_to_epoch(dt.datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time or epoch: {value!r}") from None
    raise ValueError(f"expected an ISO 8601 time or an epoch, got {type(value).__name__}")


def _datetime_to_epoch(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return int(value.timestamp())


def epoch_to_iso_z(epoch: int) -> str:
    """``2026-11-19T20:00:02Z`` as PBS writes snapshot times."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone; raises ``ValueError`` for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def local_datetime(epoch: int, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, zone(tz))


def utc_offset_seconds(epoch: int, tz: str) -> int:
    offset = local_datetime(epoch, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0
