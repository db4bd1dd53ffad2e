"""Proxmox task identifiers (UPIDs), parsed and written exactly as ``PVE::UPID`` does.

``UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`` with pid, pstart and
starttime in upper-case hex, zero-padded to 8 digits (pstart may have 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from sys import intern

from pve_backup_report.records import quick_init

_UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):\Z"
)


class UpidError(ValueError):
    """The text is not a valid UPID."""


@quick_init
@dataclass(frozen=True, slots=True)
class Upid:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str

    def __str__(self) -> str:
        return format_upid(self)

    @property
    def vmid(self) -> int | None:
        """The guest id when the task id is a VMID (single-guest vzdump runs)."""
        return int(self.id) if self.id.isascii() and self.id.isdigit() else None


def parse_upid(text: str) -> Upid:
    """Decode a UPID; raises :class:`UpidError` when it does not match PVE's regex."""
    if not isinstance(text, str):
        raise UpidError("invalid UPID")
    return _parse(text)


@lru_cache(maxsize=1 << 16)
def _parse(text: str) -> Upid:
    """Cached: a run meets each task's UPID several times (task list, log, cache, the
    pairing of a run with its job), and a :class:`Upid` is immutable."""
    m = _UPID_RE.match(text)
    if m is None:
        raise UpidError(f"invalid UPID: {text[:120]!r}")
    node, pid, pstart, start, typ, tid, user = m.groups()
    # a cluster's tasks share a few nodes, types and users: one string each (interned)
    return Upid(intern(node), int(pid, 16), int(pstart, 16), int(start, 16), intern(typ),
                tid, intern(user))  # fmt: skip


def format_upid(u: Upid) -> str:
    """Encode like ``PVE::UPID::encode`` (``%08X`` for the numbers)."""
    return f"UPID:{u.node}:{u.pid:08X}:{u.pstart:08X}:{u.starttime:08X}:{u.type}:{u.id}:{u.user}:"
