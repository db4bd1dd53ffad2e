"""Schedule-aware freshness of a covered guest's backups (pure analysis, no I/O).

A fixed "older than 26 hours" rule false-alarms on weekly jobs and misses an hourly job
that stopped. Here every covered guest is judged against the latest run its enabled PBS
jobs were scheduled to make, at least ``grace`` ago (a big job reaches its last guest
late), in the time zone of the node the job runs on.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pve_backup_report.analysis.history import GuestBackupResult
from pve_backup_report.pve.schedule import ScheduleError, next_event, parse_event, previous_event
from pve_backup_report.records import quick_init

# A guest's backup may start a little before the event time when the job was started by
# hand just before it; a minute of tolerance keeps that from looking like a missed run.
START_TOLERANCE_S = 60


class Freshness(str, enum.Enum):
    FRESH = "fresh"  # latest success started at or after the expected run
    STALE = "stale"  # latest success started before the expected run: a missed run
    FAILED = "failed"  # latest attempt failed
    NEVER = "never"  # an expected run has passed and no backup at all is known
    # covered, no result yet, and no scheduled run has passed (plus grace) since the guest
    # was created (or at all: a new job)
    PENDING = "pending"
    UNKNOWN = "unknown"  # task history unreadable and nothing else to go on


@quick_init
@dataclass(frozen=True)
class FreshnessResult:
    freshness: Freshness
    expected_run: int | None  # epoch of the latest scheduled run older than grace
    age_s: int | None  # now - start of the latest success


def expected_run(
    schedules: Iterable[str | None],
    tz: str,
    now: int,
    grace_s: int,
    memo: dict[tuple[str, str], int | None] | None = None,
) -> int | None:
    """The latest event of any schedule at or before ``now - grace_s``; None if none.

    Unparsable schedules are skipped here (they are reported as anomalies elsewhere).
    ``memo`` keeps each (schedule, time zone)'s event for calls with the same ``now`` and
    ``grace_s`` (thousands of guests share a few schedules).
    """
    latest: int | None = None
    for expr in schedules:
        if not expr:
            continue
        key = (expr, tz)
        if memo is not None and key in memo:
            t = memo[key]
        else:
            try:
                event = parse_event(expr)
            except ScheduleError:
                continue
            t = previous_event(event, now - grace_s, tz)
            if memo is not None:
                memo[key] = t
        if t is not None and (latest is None or t > latest):
            latest = t
    return latest


def first_run(schedules: Iterable[str | None], tz: str, after: int) -> int | None:
    """The first event of any schedule strictly after ``after`` (a guest's first run)."""
    found: int | None = None
    for expr in schedules:
        if not expr:
            continue
        try:
            t = next_event(parse_event(expr), after, tz)
        except ScheduleError:
            continue
        if t is not None and (found is None or t < found):
            found = t
    return found


def judge(
    *,
    now: int,
    expected: int | None,
    history_readable: bool,
    last_backup: GuestBackupResult | None,
    last_success: GuestBackupResult | None,
    created: int | None = None,
) -> FreshnessResult:
    """Freshness of one covered guest from its latest attempt and latest success.

    ``created`` is when the task that created the guest started (``collect_creation``).
    A guest without any completed result that was created after the expected run could
    not have been part of it: it is pending, not never backed up. The config exists
    (locked ``create``) before that task starts (qemu-server ``src/PVE/API2/Qemu.pm``
    ``create_vm``, pve-container ``src/PVE/API2/LXC.pm`` ``create_vm``:
    ``create_and_lock_config`` before ``fork_worker``), so a run that started after it
    would have included the guest and logged a result.
    """
    age = None
    if last_success is not None and last_success.started is not None:
        age = max(0, now - last_success.started)
    if last_backup is not None and last_backup.status == "failed":
        return FreshnessResult(Freshness.FAILED, expected, age)
    if last_success is None:
        if not history_readable:
            return FreshnessResult(Freshness.UNKNOWN, expected, None)
        missed = expected is not None and (created is None or created <= expected)
        state = Freshness.NEVER if missed else Freshness.PENDING
        return FreshnessResult(state, expected, None)
    started = last_success.started
    if expected is not None and started is not None and started < expected - START_TOLERANCE_S:
        return FreshnessResult(Freshness.STALE, expected, age)
    return FreshnessResult(Freshness.FRESH, expected, age)
