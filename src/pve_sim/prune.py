"""Which backups of a group survive pruning: pve-storage ``prune_mark_backup_group``
(``src/PVE/Storage.pm``; proxmox-backup's ``prune.rs`` marks the same way).

The options are a storage's ``prune-backups`` (``keep-last=3,keep-daily=14``); none, or
``keep-all=1``, keeps everything (guest-common ``VZDump/Common.pm``: the default is
``keep-all=1``). Each ``keep-<period>`` option walks the group newest first and keeps the
newest backup of each new period (local time) until it has kept that many periods; a
period an earlier option already kept a backup of is skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from pve_sim.timeutil import zone

__all__ = ["parse_prune", "prune_keep"]

_PERIODS: tuple[tuple[str, Callable[[dt.datetime], object]], ...] = (
    ("keep-last", lambda t: t),
    ("keep-hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("keep-daily", lambda t: (t.year, t.month, t.day)),
    ("keep-weekly", lambda t: t.isocalendar()[:2]),
    ("keep-monthly", lambda t: (t.year, t.month)),
    ("keep-yearly", lambda t: t.year),
)


def parse_prune(text: str | None) -> dict[str, int]:
    """``"keep-last=3,keep-daily=14"`` -> ``{"keep-last": 3, "keep-daily": 14}``."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = int(value)
    return out


def prune_keep(ctimes: Sequence[int], keep: dict[str, int], tz: str) -> list[int]:
    """The ``ctimes`` (one backup group) that pruning with ``keep`` leaves, ascending."""
    positive = [k for k, n in keep.items() if k != "keep-all" and n > 0]
    if keep.get("keep-all") or not positive:
        return sorted(ctimes)
    newest_first = sorted(ctimes, reverse=True)
    mark: dict[int, bool] = {}  # index in newest_first -> kept
    for option, period in _PERIODS:
        count = keep.get(option, 0)
        if count <= 0:
            continue
        ids = [period(dt.datetime.fromtimestamp(c, zone(tz))) for c in newest_first]
        done = {ids[i] for i, kept in mark.items() if kept}
        new: set[object] = set()
        for i, key in enumerate(ids):
            if i in mark or key in done:
                continue
            if key not in new:
                if len(new) >= count:
                    break
                new.add(key)
                mark[i] = True
            else:
                mark[i] = False
    return sorted(c for i, c in enumerate(newest_first) if mark.get(i))
