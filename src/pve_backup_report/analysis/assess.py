"""Join coverage, history, PBS content and schedules into one verdict per guest (pure).

The :class:`Assessment` built here is the single domain model that the nagiosplugin check
(``output/check.py``), the Markdown report (``output/report.py``) and the dumps all consume, so they
can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pve_backup_report.analysis.coverage import (
    Coverage,
    CoverageResult,
    GuestCoverage,
    effective_storage,
)
from pve_backup_report.analysis.creation import Candidate, GuestCreation
from pve_backup_report.analysis.freshness import (
    START_TOLERANCE_S,
    Freshness,
    expected_run,
    first_run,
    judge,
)
from pve_backup_report.analysis.history import GuestBackupResult, GuestHistory
from pve_backup_report.analysis.ignore import IgnoreMatch
from pve_backup_report.analysis.pbs_content import PbsContent, Snapshot
from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, BackupJob, Guest, Inventory, Problem, Severity, TlsMode
from pve_backup_report.pve.schedule import ScheduleError, next_event, parse_event
from pve_backup_report.pve.upid import UpidError, parse_upid
from pve_backup_report.records import quick_init
from pve_backup_report.timeutil import window_s

_COVERAGE_PROBLEM = {
    Coverage.NOT_COVERED: Problem.NOT_COVERED,
    Coverage.INDETERMINATE: Problem.INDETERMINATE,
    Coverage.DISABLED_ONLY: Problem.DISABLED_ONLY,
    Coverage.NON_PBS_ONLY: Problem.NON_PBS_ONLY,
}
_FRESHNESS_PROBLEM = {
    Freshness.FAILED: Problem.FAILED,
    Freshness.STALE: Problem.STALE,
    Freshness.NEVER: Problem.NEVER,
}


@dataclass(frozen=True)
class AnalysisOptions:
    grace_s: int = 3 * 3600
    max_age_s: tuple[int, int] = (8 * 86400, 15 * 86400)
    history_days: int = 15

    @property
    def window_s(self) -> int:
        return window_s(self.history_days)


@quick_init
@dataclass(frozen=True, kw_only=True)
class GuestStatus:
    """One guest's verdict: its coverage and jobs, its latest result and success (from
    every node's task logs, or a newer PBS snapshot), its freshness and problems.

    Example::

        g.coverage is Coverage.COVERED and g.freshness is Freshness.STALE
        g.last_backup.status == "failed" and g.last_success.node == "pve2"
        g.problems == (Problem.FAILED,)
    """

    guest: Guest
    coverage: Coverage
    jobs: tuple[str, ...]
    pbs_jobs: tuple[str, ...]
    reasons: tuple[str, ...]
    ignored: IgnoreMatch | None
    last_backup: GuestBackupResult | None
    last_success: GuestBackupResult | None
    snapshot: Snapshot | None  # newest PBS snapshot of the guest, when content was readable
    freshness: Freshness | None  # None unless covered or indeterminate
    expected_run: int | None
    age_s: int | None
    problems: tuple[Problem, ...]
    # the task that created the guest, when asked (no result although a run was due)
    created: GuestCreation | None = None
    first_run: int | None = None  # pending: when its first backup is expected

    @property
    def verification(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.verification

    @property
    def alerting(self) -> bool:
        return bool(self.problems) and self.ignored is None

    def to_json(self) -> dict[str, Any]:
        g = self.guest
        return {
            "vmid": g.vmid,
            "type": g.type,
            "name": g.name,
            "node": g.node,
            "status": g.status,
            "template": g.template,
            "pool": g.pool,
            "tags": list(g.tags),
            "notes": g.notes,
            "coverage": self.coverage.value,
            "jobs": list(self.jobs),
            "pbs_jobs": list(self.pbs_jobs),
            "reasons": list(self.reasons),
            "ignored": None if self.ignored is None else self.ignored.to_json(),
            "last_backup": None if self.last_backup is None else self.last_backup.to_json(),
            "last_success": None if self.last_success is None else self.last_success.to_json(),
            "pbs_snapshot": None if self.snapshot is None else self.snapshot.to_json(),
            "verification": self.verification,
            "freshness": None if self.freshness is None else self.freshness.value,
            "expected_run": self.expected_run,
            "age_s": self.age_s,
            "problems": [p.value for p in self.problems],
            "created": None if self.created is None else self.created.to_json(),
            "first_run": self.first_run,
        }


@dataclass(frozen=True, kw_only=True)
class CollectStats:
    requests: int = 0
    bytes: int = 0
    collect_time_s: float = 0.0
    tasks_listed: int = 0
    logs_fetched: int = 0
    logs_cached: int = 0
    tls_mode: TlsMode = "verified"
    endpoints: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    """Everything one run found: the inventory, the coverage, one :class:`GuestStatus` per
    guest and the anomalies. The check, the report and the dumps read only this.

    Example::

        a = run_assessment(settings, RunOptions(now=now), client)
        failed = [g for g in a.guests if Problem.FAILED in g.problems]
        a.count(Problem.STALE), a.judged_age(failed[0]), a.worst_anomaly
    """

    now: int
    inventory: Inventory
    coverage: CoverageResult
    guests: tuple[GuestStatus, ...]
    anomalies: tuple[Anomaly, ...]
    options: AnalysisOptions
    stats: CollectStats = field(default_factory=CollectStats)
    storage_space: tuple[StorageSpace, ...] = ()  # PBS storages in use (analysis/pbs_health.py)
    # judged guests whose logged latest success PBS does not list (``ok_without_snapshot``)
    archive_missing: tuple[int, ...] = ()

    def count(self, problem: Problem) -> int:
        """Guests with this problem, ignored guests excluded."""
        return sum(1 for g in self.guests if g.ignored is None and problem in g.problems)

    def with_stats(self, stats: CollectStats) -> Assessment:
        return replace(self, stats=stats)

    def judged_age(self, g: GuestStatus) -> int | None:
        """The age a guest is judged by: its latest success's, or the whole history
        window for a guest never backed up in it (the one place for that rule)."""
        if g.age_s is not None:
            return g.age_s
        return self.options.window_s if Problem.NEVER in g.problems else None

    @property
    def worst_anomaly(self) -> Severity | None:
        if not self.anomalies:
            return None
        return max((a.severity for a in self.anomalies), key=lambda s: s.rank)


def _merge_success(
    from_tasks: GuestBackupResult | None, snapshot: Snapshot | None
) -> GuestBackupResult | None:
    """The newest success: from the task logs, or from PBS when it is newer (or alone)."""
    if snapshot is None:
        return from_tasks
    if from_tasks is not None and (from_tasks.started or 0) >= snapshot.ctime - 60:
        return from_tasks
    return GuestBackupResult(
        vmid=snapshot.vmid,
        status="ok",
        started=snapshot.ctime,
        ended=None,
        duration_s=None,
        node="",
        upid="",
        message=Msg("from_pbs_storage", storage=snapshot.storage),
        archive=snapshot.archive,
        guest_type=snapshot.guest_type,
    )


def _merge_latest(
    from_tasks: GuestBackupResult | None, success: GuestBackupResult | None
) -> GuestBackupResult | None:
    """The latest result: a success PBS proves (a finished snapshot of the guest's type,
    see :func:`_merge_success`) that started after the latest task result is the latest
    result too, so an older failure does not make the guest ``failed`` (finding X5)."""
    if success is None or success.upid or success.started is None:
        return from_tasks  # no PBS-only success: the task history decides
    if from_tasks is None or from_tasks.started is None:
        return from_tasks  # no task result: shown as such, the success says PBS
    if success.started > from_tasks.started + START_TOLERANCE_S:
        return success
    return from_tasks


def _problems(
    gc: GuestCoverage,
    freshness: Freshness | None,
    age: int | None,
    age_floor: int | None,
    snapshot: Snapshot | None,
    options: AnalysisOptions,
) -> tuple[Problem, ...]:
    out: list[Problem] = []
    if gc.coverage in _COVERAGE_PROBLEM:
        out.append(_COVERAGE_PROBLEM[gc.coverage])
    if freshness is not None and freshness in _FRESHNESS_PROBLEM:
        out.append(_FRESHNESS_PROBLEM[freshness])
    if snapshot is not None and snapshot.verification == "failed":
        out.append(Problem.VERIFY_FAILED)
    if freshness is not None:
        known_age = age if age is not None else age_floor
        warn, crit = options.max_age_s
        if known_age is not None and known_age > crit:
            out.append(Problem.AGE_CRITICAL)
        elif known_age is not None and known_age > warn:
            out.append(Problem.AGE_WARNING)
    return tuple(out)


def assess(
    inventory: Inventory,
    coverage: CoverageResult,
    histories: dict[int, GuestHistory],
    readable_nodes: frozenset[str],
    content: PbsContent | None,
    now: int,
    options: AnalysisOptions,
    extra_anomalies: Sequence[Anomaly] = (),
    creations: Mapping[int, GuestCreation] | None = None,
    previous: Assessment | None = None,
) -> Assessment:
    """One verdict per guest. ``creations`` (``collect/creation.py``) are the creation
    tasks of the guests :func:`pending_candidates` named; the others are judged without.
    ``previous``, the assessment of the same inputs without ``creations``, keeps the
    statuses of the guests that have none (only the others are judged again).

    Example (pure: everything comes in as arguments)::

        coverage = analyse_coverage(inventory, settings.ignore, now)
        history = collect_history(client, inventory, coverage, now, options)
        a = assess(inventory, coverage, history.histories, history.readable_nodes,
                   content=None, now=now, options=AnalysisOptions(history_days=15))
    """
    anomalies: list[Anomaly] = [*inventory.anomalies, *coverage.anomalies, *extra_anomalies]
    if content is not None:
        anomalies += content.anomalies
    anomalies += schedule_anomalies(inventory)
    judging = _Judging(inventory, content, readable_nodes, now, options)
    statuses, missing = _statuses(judging, coverage, histories, creations, previous)
    anomalies += _content_anomalies(statuses, histories, content, missing)
    return Assessment(
        now, inventory, coverage, tuple(statuses), tuple(anomalies), options,
        archive_missing=tuple(missing),
    )  # fmt: skip


def _statuses(
    judging: _Judging,
    coverage: CoverageResult,
    histories: Mapping[int, GuestHistory],
    creations: Mapping[int, GuestCreation] | None,
    previous: Assessment | None,
) -> tuple[list[GuestStatus], list[int]]:
    """Every guest's status (``previous``'s when it has no creation), and the guests
    whose logged success PBS does not list (which no creation changes)."""
    statuses: list[GuestStatus] = []
    missing: list[int] = [] if previous is None else list(previous.archive_missing)
    for i, gc in enumerate(coverage.guests):
        created = _creation_of(gc.guest, creations)
        if previous is not None and created is None:
            statuses.append(previous.guests[i])
            continue
        hist = histories.get(gc.guest.vmid, GuestHistory(None, None))
        status, unlisted = judging.status(gc, hist, created)
        statuses.append(status)
        if unlisted and previous is None:
            missing.append(gc.guest.vmid)
    return statuses, missing


@quick_init
@dataclass(frozen=True)
class _Timing:
    """A judged guest's freshness and the times it rests on (all None when not judged)."""

    freshness: Freshness | None = None
    expected: int | None = None
    age: int | None = None
    age_floor: int | None = None
    first: int | None = None


class _Judging:
    """Judges guest after guest; guests share a few job combinations, so each expected
    run is computed once."""

    def __init__(
        self,
        inventory: Inventory,
        content: PbsContent | None,
        readable_nodes: frozenset[str],
        now: int,
        options: AnalysisOptions,
    ) -> None:
        self.inventory, self.content, self.readable = inventory, content, readable_nodes
        self.now, self.options = now, options
        self.jobs = inventory.jobs_by_id
        self.expected_runs: dict[tuple[tuple[str | None, ...], str], int | None] = {}
        self.previous_events: dict[tuple[str, str], int | None] = {}
        # ``Inventory.node`` finds a name's first node: the reversed walk keeps that one
        self.timezones = {n.name: n.timezone or "UTC" for n in reversed(inventory.nodes)}
        self._storages: dict[tuple[tuple[str, ...], str], frozenset[str]] = {}
        self._listing: dict[frozenset[str], bool] = {}

    def storages(self, job_ids: tuple[str, ...], node: str) -> frozenset[str]:
        """The storages these jobs write to on ``node`` (``_storages_of``), once per
        combination: 10,000 guests share a few hundred."""
        key = (job_ids, node)
        found = self._storages.get(key)
        if found is None:
            found = self._storages[key] = frozenset(
                _storages_of(job_ids, self.jobs, node, self.inventory)
            )
        return found

    def lists_snapshots(self, storages: frozenset[str]) -> bool:
        """Whether one of these storages' content was read and lists backups."""
        found = self._listing.get(storages)
        if found is None:
            content = self.content
            found = self._listing[storages] = content is not None and any(
                content.storages.get(s) and content.storages[s].count for s in storages
            )
        return found

    def status(
        self, gc: GuestCoverage, hist: GuestHistory, created: GuestCreation | None
    ) -> tuple[GuestStatus, bool]:
        """The guest's status, and whether its latest success's archive is missing from
        its PBS storages' content."""
        g = gc.guest
        pbs_storages = self.storages(gc.pbs_jobs, g.node)
        snapshot = None
        if self.content is not None:
            snapshot = self.content.newest(
                g.vmid, g.type, pbs_storages or self.storages(gc.jobs, g.node)
            )
        last_success = _merge_success(hist.last_success, snapshot)
        last_backup = _merge_latest(_own(hist.last_backup, created), last_success)
        judged = gc.coverage in (Coverage.COVERED, Coverage.INDETERMINATE)
        decisive = last_backup  # while a run is going, the previous result stands
        if last_backup is not None and last_backup.status == "running":
            decisive = _merge_latest(_own(hist.last_finished, created), last_success)
        t = self._timing(gc, decisive, last_success, created) if judged else _Timing()
        unlisted = judged and self._archive_missing(hist, pbs_storages)
        status = GuestStatus(
            guest=g,
            coverage=gc.coverage,
            jobs=gc.jobs,
            pbs_jobs=gc.pbs_jobs,
            reasons=gc.reasons,
            ignored=gc.ignored,
            last_backup=last_backup,
            last_success=last_success,
            snapshot=snapshot,
            freshness=t.freshness,
            expected_run=t.expected,
            age_s=t.age,
            problems=_problems(gc, t.freshness, t.age, t.age_floor, snapshot, self.options),
            created=created,
            first_run=t.first,
        )
        return status, unlisted

    def _timing(
        self,
        gc: GuestCoverage,
        last_backup: GuestBackupResult | None,
        last_success: GuestBackupResult | None,
        created: GuestCreation | None,
    ) -> _Timing:
        g, options = gc.guest, self.options
        tz = self.timezones.get(g.node, "UTC")
        schedules = tuple(self.jobs[j].schedule for j in gc.pbs_jobs if j in self.jobs)
        key = (schedules, tz)
        if key not in self.expected_runs:
            self.expected_runs[key] = expected_run(
                schedules, tz, self.now, options.grace_s, self.previous_events
            )
        expected = self.expected_runs[key]
        readable = g.node in self.readable
        verdict = judge(
            now=self.now,
            expected=expected,
            history_readable=readable,
            last_backup=last_backup,
            last_success=last_success,
            created=None if created is None else created.started,
        )
        first = age_floor = None
        if verdict.freshness is Freshness.PENDING:
            after = created.started if created is not None else self.now - options.grace_s
            first = first_run(schedules, tz, after)
        if verdict.freshness is Freshness.NEVER and readable:
            age_floor = options.window_s  # nothing in the whole history window
        return _Timing(verdict.freshness, expected, verdict.age_s, age_floor, first)

    def _archive_missing(self, hist: GuestHistory, pbs_storages: frozenset[str]) -> bool:
        """A logged success whose archive its PBS storages (which list snapshots) do not
        hold."""
        ok, content = hist.last_success, self.content
        return bool(
            content is not None
            and ok is not None
            and ok.archive
            and self.lists_snapshots(pbs_storages)
            and not content.has_archive(ok.archive)
        )


def _creation_of(g: Guest, creations: Mapping[int, GuestCreation] | None) -> GuestCreation | None:
    """The creation task of this guest: same VMID and same type (a VMID reused by a
    guest of the other type is another guest)."""
    found = None if creations is None else creations.get(g.vmid)
    return found if found is not None and found.guest_type == g.type else None


def pending_candidates(a: Assessment) -> dict[int, Candidate]:
    """Guests with no result at all although a run was due, by VMID; and guests whose
    only result is a run that died before any guest (by the start of that run).

    Only for these is it worth asking when they were created (``collect_creation``).
    """
    out: dict[int, Candidate] = {}
    for s in a.guests:
        if s.freshness is Freshness.NEVER and s.expected_run is not None:
            out[s.guest.vmid] = Candidate(s.guest.vmid, s.guest.type, s.expected_run)
        elif s.freshness is Freshness.FAILED and s.last_success is None:
            start = _dead_run_start(s.last_backup)
            if start is not None:
                out[s.guest.vmid] = Candidate(s.guest.vmid, s.guest.type, start)
    return out


def may_be_pending(hist: GuestHistory | None) -> bool:
    """Whether :func:`pending_candidates` may name a guest with this history: not when it
    gives a success (the guest is then neither never backed up nor failed by a dead run
    only). Each guest is judged on its own, so judging only these guests names the same
    candidates as judging all (``pipeline._pending``)."""
    return hist is None or hist.last_success is None


def _dead_run_start(result: GuestBackupResult | None) -> int | None:
    """The start of the run a failure comes from, when that run died before any guest
    and the guest was only assigned to it (``collect_tasks``: the guests of its job on
    its node today), never named by it (no start of its own)."""
    if result is None or result.status != "failed" or result.started is not None:
        return None
    try:
        return parse_upid(result.upid).starttime
    except UpidError:
        return None


def _own(
    result: GuestBackupResult | None, created: GuestCreation | None
) -> GuestBackupResult | None:
    """The result, unless it is a dead run's that started before the guest existed (not
    its run)."""
    return None if created is not None and _before_creation(result, created) else result


def _before_creation(result: GuestBackupResult | None, created: GuestCreation) -> bool:
    """pve-manager ``PVE/VZDump.pm`` ``get_included_guests`` picks a run's guests when it
    starts: a dead run that started before the guest was created was not its run."""
    start = _dead_run_start(result)
    return start is not None and created.started > start


def _storages_of(
    job_ids: Iterable[str], jobs: Mapping[str, BackupJob], node: str, inventory: Inventory
) -> set[str]:
    out = set()
    for jid in job_ids:
        job = jobs.get(jid)
        sid = effective_storage(job, node, inventory) if job is not None else None
        if sid is not None:  # None: plain files to a directory (dumpdir)
            out.add(sid)
    return out


def pbs_storages_in_use(inventory: Inventory, coverage: CoverageResult) -> set[str]:
    """The storages any job including a guest writes to (only PBS ones are read)."""
    jobs = inventory.jobs_by_id
    combinations = {(gc.jobs, gc.guest.node) for gc in coverage.guests}  # a few hundred
    out: set[str] = set()
    for job_ids, node in combinations:
        out |= _storages_of(job_ids, jobs, node, inventory)
    return out


def _content_anomalies(
    statuses: Sequence[GuestStatus],
    histories: dict[int, GuestHistory],
    content: PbsContent | None,
    ok_without_snapshot: Sequence[int],
) -> list[Anomaly]:
    if content is None:
        return []
    out: list[Anomaly] = []
    empty = sorted(sid for sid, c in content.storages.items() if c.count == 0)
    succeeded = [
        s.guest.vmid
        for s in statuses
        if (h := histories.get(s.guest.vmid)) is not None and h.last_success is not None
    ]
    if empty and succeeded:
        out.append(
            Anomaly(
                Severity.WARNING,
                "permissions",
                Msg("pbs_lists_nothing", storages=list(empty)),
                {"storages": empty, "missing_privilege": "Datastore.Allocate on /storage/<id>"},
            )
        )
    if ok_without_snapshot:
        out.append(
            Anomaly(
                Severity.WARNING,
                "pbs_content",
                Msg("ok_without_snapshot", count=len(ok_without_snapshot)),
                {"vmids": list(ok_without_snapshot[:50])},
            )
        )
    return out


def schedule_anomalies(inventory: Inventory) -> list[Anomaly]:
    """Unparsable schedules, and a ``next-run`` our parser would never fire at."""
    out: list[Anomaly] = []
    zones = sorted({n.timezone or "UTC" for n in inventory.nodes}) or ["UTC"]
    for job in inventory.jobs:
        if not job.schedule:
            if job.enabled:
                out.append(
                    Anomaly(
                        Severity.INFO,
                        "schedule",
                        Msg("no_schedule", job=job.id),
                        {"job": job.id},
                    )
                )
            continue
        try:
            event = parse_event(job.schedule)
        except ScheduleError as exc:
            out.append(
                Anomaly(
                    Severity.WARNING,
                    "schedule",
                    Msg(
                        "schedule_not_understood", job=job.id, schedule=job.schedule, error=str(exc)
                    ),
                    {"job": job.id, "schedule": job.schedule},
                )
            )
            continue
        if job.next_run is None:
            continue
        # PVE computes next-run in the zone of the node that answered the API call, not
        # in that of the job's node: any node's zone may be the one.
        candidates = zones
        if not any(next_event(event, job.next_run - 1, tz) == job.next_run for tz in candidates):
            out.append(
                Anomaly(
                    Severity.WARNING,
                    "schedule",
                    Msg("next_run_mismatch", job=job.id, schedule=job.schedule, zones=candidates),
                    {"job": job.id, "next_run": job.next_run, "timezones": candidates},
                )
            )
    return out


def pending_guests(a: Assessment) -> list[GuestStatus]:
    """Judged, non-ignored guests waiting for their first backup (not a problem)."""
    return [g for g in a.guests if g.freshness is Freshness.PENDING and g.ignored is None]
