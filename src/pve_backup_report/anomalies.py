"""Keep anomaly lists readable: many anomalies that differ only by task become one.

A node whose task logs are all unreadable would otherwise add one line per task to the
long output and the report. Anomalies whose messages are equal once UPIDs are masked are
merged into the first, with the count and the first few UPIDs in ``details``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from pve_backup_report.model import Anomaly

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
        message = f"{masked} ({len(members)} tasks like this)"
        details = {**first.details, "count": len(members), "upids": upids[:SAMPLE]}
        details.pop("upid", None)
        out.append(replace(first, message=message, details=details))
    return out
