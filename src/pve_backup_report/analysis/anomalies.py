"""Keep anomaly lists readable: many anomalies that differ only by task become one.

A node whose task logs are all unreadable would otherwise add one line per task to the
long output and the report. Anomalies whose messages are equal once UPIDs are masked are
merged into the first, with the count and the first few UPIDs in ``details``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from pve_backup_report.analysis.assess import GuestStatus
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Severity

_UPID = re.compile(r"UPID:[^\s'\"]+:")
SAMPLE = 5


def condense(anomalies: Iterable[Anomaly]) -> list[Anomaly]:
    groups: dict[tuple[str, str, str], list[Anomaly]] = {}
    for a in anomalies:
        key = (a.severity.value, a.component, _UPID.sub("<task>", a.message))
        groups.setdefault(key, []).append(a)
    out: list[Anomaly] = []
    for (_, _, masked), members in groups.items():
        first = members[0]
        if len(members) == 1:
            out.append(first)
            continue
        upids = [m for a in members for m in _UPID.findall(a.message)]
        message: str = f"{masked} ({len(members)} tasks like this)"
        if isinstance(first.message, Msg):
            message = Msg("tasks_like_this", pattern=first.message, count=len(members))
        details = {**first.details, "count": len(members), "upids": upids[:SAMPLE]}
        details.pop("upid", None)
        out.append(replace(first, message=message, details=details))
    return out


def hidden_history_anomaly(
    guests: Iterable[GuestStatus], empty_nodes: Iterable[str], now: int, window_s: int
) -> Anomaly | None:
    """Task lists that come back empty while PBS holds backups made in the window.

    Without Sys.Audit on a node its task list is not refused but filtered: scheduled
    backups run as root@pam and vanish (pve-facts §3.2), so history looks empty.
    """
    empty = set(empty_nodes)
    nodes = sorted(
        {
            g.guest.node
            for g in guests
            if g.guest.node in empty
            and g.snapshot is not None
            and now - g.snapshot.ctime <= window_s
        }
    )
    if not nodes:
        return None
    return Anomaly(
        Severity.WARNING,
        "permissions",
        Msg("history_hidden", nodes=nodes),
        {"nodes": nodes, "missing_privilege": "Sys.Audit on /nodes/<node>"},
    )
