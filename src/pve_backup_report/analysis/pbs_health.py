"""What PBS itself says about its datastores, judged (pure: no I/O, no clock).

* a verify job that has not run within its schedule (PBS's ``next-run`` is computed from
  the latest run, proxmox-backup ``src/server/jobstate.rs`` ``compute_schedule_status``:
  a ``next-run`` more than the grace period in the past means the run did not happen),
  or whose latest run failed;
* a garbage collection whose latest run failed (``last-run-state`` is ``OK``,
  ``WARNINGS: <n>`` or the error message, as the task state prints itself);
* snapshots whose latest verification (the start time in the verify task's UPID) or, never
  verified, whose creation is older than ``--pbs-verify-max-age``;
* datastore space: used percentage of each PBS storage in use, and PBS's estimated full
  date (``estimated-full-date`` of ``/status/datastore-usage``, proxmox-backup
  ``src/api2/status.rs`` ``datastore_status``: 0 or a past date means "not filling up").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Severity


@dataclass(frozen=True)
class JobRun:
    """The latest run of a PBS job (verify or garbage collection) on one datastore."""

    kind: str  # "verify" or "gc"
    id: str
    datastore: str
    server: str  # host:port, for messages
    schedule: str | None
    last_end: int | None
    last_state: str | None
    next_run: int | None


@dataclass(frozen=True)
class SnapshotVerification:
    storage: str
    archive: str  # vm/100/2026-11-19T20:00:02Z
    ctime: int
    verified_at: int | None  # start of the latest verify task; None: never verified


@dataclass(frozen=True)
class StorageSpace:
    """A PBS storage's space as PVE reports it, plus PBS's estimate when known."""

    storage: str
    total: int
    used: int
    avail: int
    active: bool
    estimated_full: int | None = None  # epoch; only a future date is kept

    @property
    def used_percent(self) -> float | None:
        if not self.active or self.total <= 0:
            return None
        return round(100.0 * self.used / self.total, 1)

    def to_json(self) -> dict[str, object]:
        return {
            "storage": self.storage,
            "total": self.total,
            "used": self.used,
            "avail": self.avail,
            "active": self.active,
            "used_percent": self.used_percent,
            "estimated_full": self.estimated_full,
        }


def task_failed(state: str | None) -> bool:
    """``OK`` and ``WARNINGS: n`` are successes; anything else is the error message."""
    return state is not None and state != "OK" and not state.startswith("WARNINGS")


def pbs_upid_start(upid: object) -> int | None:
    """The start time of a PBS UPID (``UPID:node:pid:pstart:task_id:starttime:...``)."""
    if not isinstance(upid, str) or not upid.startswith("UPID:"):
        return None
    parts = upid.split(":")
    if len(parts) < 9:
        return None
    try:
        return int(parts[5], 16)
    except ValueError:
        return None


def job_anomalies(runs: Iterable[JobRun], now: int, grace_s: int) -> list[Anomaly]:
    out: list[Anomaly] = []
    for run in runs:
        where = {"datastore": run.datastore, "server": run.server}
        if run.kind == "verify":
            what = Msg("pbs_verify_job", job=run.id, **where)
        else:
            what = Msg("pbs_gc", **where)
        details = {"job": run.id, "datastore": run.datastore, "server": run.server}
        if task_failed(run.last_state):
            out.append(
                Anomaly(
                    Severity.WARNING,
                    "pbs",
                    Msg("pbs_job_failed", what=what, end_at=run.last_end, error=run.last_state),
                    {**details, "state": run.last_state},
                )
            )
        if run.kind == "verify" and run.next_run is not None and run.next_run < now - grace_s:
            out.append(
                Anomaly(
                    Severity.WARNING,
                    "pbs",
                    Msg(
                        "pbs_job_late" if run.last_end is not None else "pbs_job_late_never",
                        what=what,
                        schedule=run.schedule,
                        due_at=run.next_run,
                        last_at=run.last_end,
                    ),
                    {**details, "next_run": run.next_run, "last_run": run.last_end},
                )
            )
    return out


def outdated_verifications(
    snapshots: Sequence[SnapshotVerification], now: int, max_age_s: int
) -> list[Anomaly]:
    """One anomaly per storage listing the snapshots not verified within ``max_age_s``."""
    if max_age_s <= 0:
        return []
    by_storage: dict[str, list[SnapshotVerification]] = {}
    for s in snapshots:
        reference = s.verified_at if s.verified_at is not None else s.ctime
        if now - reference > max_age_s:
            by_storage.setdefault(s.storage, []).append(s)
    out = []
    for storage, old in sorted(by_storage.items()):
        old.sort(key=lambda s: s.verified_at if s.verified_at is not None else s.ctime)
        never = sum(1 for s in old if s.verified_at is None)
        out.append(
            Anomaly(
                Severity.WARNING,
                "pbs",
                Msg(
                    "pbs_not_verified",
                    count=len(old),
                    storage=storage,
                    max_s=max_age_s,
                    never=never,
                    oldest=old[0].archive,
                ),
                {"storage": storage, "archives": [s.archive for s in old[:50]]},
            )
        )
    return out


def space_anomalies(spaces: Iterable[StorageSpace]) -> list[Anomaly]:
    """A PBS storage PVE reports as not active: PVE cannot reach its server."""
    return [
        Anomaly(
            Severity.WARNING,
            "storages",
            Msg("pbs_inactive", storage=s.storage),
            {"storage": s.storage},
        )
        for s in spaces
        if not s.active
    ]
