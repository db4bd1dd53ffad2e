"""Task end status and task log paging, as ``PVE::Tools``/``PVE::UPID`` do them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "UNEXPECTED_STATUS",
    "end_line",
    "normalize_status_type",
    "page_log",
    "read_status",
    "split_log",
]

UNEXPECTED_STATUS = "unexpected status"
_WARNINGS_RE = re.compile(r"^WARNINGS: \d+$")


def split_log(text: str) -> tuple[str, ...]:
    """A log text as its lines (no trailing empty line for a final newline)."""
    return tuple(text.splitlines())


def read_status(lines: Sequence[str]) -> str:
    """The status PVE derives from a finished task's last log line (``read_status``)."""
    if not lines:
        return UNEXPECTED_STATUS
    last = lines[-1]
    if last == "TASK OK":
        return "OK"
    if last.startswith("TASK WARNINGS: ") and _WARNINGS_RE.match(last[5:]):
        return last[5:]
    if last.startswith("TASK ERROR: "):
        return last[len("TASK ERROR: ") :]
    return UNEXPECTED_STATUS


def end_line(status: str) -> str | None:
    """The ``TASK ...`` line ``fork_worker`` writes for ``status`` (None: no line)."""
    if status == "OK":
        return "TASK OK"
    if _WARNINGS_RE.match(status):
        return f"TASK {status}"
    if status in ("", UNEXPECTED_STATUS):
        return None
    return f"TASK ERROR: {status}"


def normalize_status_type(status: str | None) -> str:
    """``upid_normalize_status_type``: ok, warning, error or unknown."""
    if not status or status == UNEXPECTED_STATUS:
        return "unknown"
    if status == "OK":
        return "ok"
    if _WARNINGS_RE.match(status):
        return "warning"
    return "error"


def page_log(
    lines: Sequence[str], start: int, limit: int, zero_means_all: bool = True
) -> tuple[int, list[dict[str, Any]]]:
    """``dump_logfile``: ``(total, [{n, t}])``; ``limit=0`` means the whole log.

    An empty log gives one ``no content`` line, as PVE does for the GUI's sake. Before
    libpve-common-perl 7.3-1 (PVE < 7.3) ``limit=0`` gave no lines at all, only the total
    (``zero_means_all=False``): clients then have to page with ``start``/``limit``.
    """
    if not lines:
        return 1, [{"n": 1, "t": "no content"}] if start == 0 else []
    if limit == 0 and not zero_means_all:
        return len(lines), []
    end = len(lines) if limit == 0 else min(len(lines), start + limit)
    items = [{"n": n + 1, "t": lines[n]} for n in range(start, end)]
    return len(lines), items
