"""EXPERIMENT (not used by the plugin): read only the task logs the job schedules point to.

The plugin reads a node's vzdump logs newest first until every covered guest of the node
has its latest result and its latest success (``collect_tasks.collect_history``). On a
node where jobs of different periods interleave (an hourly job, daily jobs, a weekly job
holding a few guests) that reads every task newer than the oldest one needed, most of
which hold no guest still unresolved.

This variant predicts which guests a task holds without its log:

* a single-guest task names its guest in the task id;
* otherwise the task start is matched to the scheduled events of the jobs (in the node's
  time zone, within ``TOLERANCE_S`` after the event); a matched task holds the guests those
  jobs include on the node (none when they write to a non-PBS storage: those results are
  ignored anyway); an unmatched task (a manual run) may hold any guest.

Each round walks every node's task list newest first, using what is known (logs read,
the task cache) and, for unknown tasks, the prediction optimistically (as if every
predicted guest were there and had succeeded); it reads the unknown tasks that would
still resolve a guest, all nodes in parallel. Reading a log that holds a covered guest
the prediction left out switches that node back to newest-first (every unread task may
hold anything), so a wrong prediction costs requests, never a result.

``bench/run.py --selection schedule`` runs the check with this variant (through
``bench/check_schedule.py``) to measure what it would save; see docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from pve_backup_report.anomalies import condense
from pve_backup_report.collect_tasks import (
    CachedTask,
    HistoryCollection,
    HistoryOptions,
    _fetch_log,
    _fetch_pages,
    _NodeState,
    _parse,
    _Selections,
    wanted_guests,
)
from pve_backup_report.coverage import CoverageResult, effective_storage
from pve_backup_report.history import GuestBackupResult, TaskInfo, latest_results
from pve_backup_report.model import Anomaly, Inventory, Severity
from pve_backup_report.parallel import worker_pool
from pve_backup_report.progress import Progress, no_progress
from pve_backup_report.pve_client import PveClient
from pve_backup_report.schedule import ScheduleError, next_event, parse_event

TOLERANCE_S = 300  # a scheduled task starts within this long after its event
ANY: frozenset[int] | None = None  # "the task may hold any guest"


@dataclass
class _Predictor:
    """Which guests a task of a node may hold, from the jobs and their schedules."""

    inventory: Inventory
    coverage: CoverageResult
    since: int
    now: int

    def __post_init__(self) -> None:
        node_of = {g.vmid: g.node for g in self.inventory.guests}
        storages = {s.id: s for s in self.inventory.storages}
        # job id -> node -> guests whose results count (None: unresolved selection)
        self.holds: dict[str, dict[str, frozenset[int]] | None] = {}
        for jc in self.coverage.jobs:
            if jc.unresolved is not None:
                self.holds[jc.job.id] = None
                continue
            per_node: dict[str, set[int]] = {}
            for vmid in jc.included:
                node = node_of[vmid]
                st = storages.get(effective_storage(jc.job, node, self.inventory))
                if st is None or st.is_pbs:  # unknown storage: count it
                    per_node.setdefault(node, set()).add(vmid)
            self.holds[jc.job.id] = {n: frozenset(v) for n, v in per_node.items()}
        self._events: dict[tuple[str, str], list[int]] = {}

    def _job_events(self, expr: str, tz: str) -> list[int]:
        key = (expr, tz)
        found = self._events.get(key)
        if found is None:
            found = []
            try:
                event = parse_event(expr)
            except ScheduleError:
                self._events[key] = found
                return found
            t = next_event(event, self.since - TOLERANCE_S - 1, tz)
            while t is not None and t <= self.now and len(found) < 100_000:
                found.append(t)
                t = next_event(event, t, tz)
            self._events[key] = found
        return found

    def guests(self, task: TaskInfo, tz: str | None) -> frozenset[int] | None:
        if task.vmid is not None:
            return frozenset({task.vmid})
        held: set[int] = set()
        matched = False
        for job in self.inventory.jobs:
            if not job.schedule or (job.node is not None and job.node != task.node):
                continue
            events = self._job_events(job.schedule, tz or "UTC")
            if not any(e <= task.starttime <= e + TOLERANCE_S for e in _near(events, task)):
                continue
            matched = True
            per_node = self.holds.get(job.id)
            if per_node is None:
                return ANY
            held |= per_node.get(task.node, frozenset())
        return frozenset(held) if matched else ANY


def _near(events: Sequence[int], task: TaskInfo) -> Sequence[int]:
    """The events that could match ``task`` (bisect on the sorted list)."""
    from bisect import bisect_right

    i = bisect_right(events, task.starttime)
    return events[max(0, i - 1) : i]


def collect_history_by_schedule(
    client: PveClient,
    inventory: Inventory,
    coverage: CoverageResult,
    now: int,
    options: HistoryOptions,
    cache: Mapping[str, CachedTask] | None = None,
    progress: Progress = no_progress,
) -> HistoryCollection:
    """``collect_history`` with schedule-based log selection (same result shape)."""
    cache = cache or {}
    wanted = wanted_guests(coverage)
    anomalies: list[Anomaly] = []
    states: list[_NodeState] = []
    for node in inventory.nodes:
        st = _NodeState(node.name, node.timezone, set(wanted.get(node.name, set())))
        if node.status != "online":
            st.readable = False
            st.done = True
            if st.wanted:
                anomalies.append(
                    Anomaly(
                        Severity.WARNING,
                        "tasks",
                        f"node {node.name} is {node.status}: its task history is not readable",
                        {"node": node.name},
                    )
                )
        states.append(st)
    since = now - options.history_days * 86400
    predictor = _Predictor(inventory, coverage, since, now)
    known: dict[str, CachedTask | None] = {}  # logs read this run (None: unusable)
    used: set[str] = set()  # tasks whose results are in ``results``
    results: list[GuestBackupResult] = []
    new_tasks: list[CachedTask] = []
    newest_first: set[str] = set()  # nodes where a prediction was wrong
    predicted: dict[str, frozenset[int] | None] = {}
    counters = {"listed": 0, "fetched": 0, "cached": 0}
    selections = _Selections(inventory)

    def outcome(task: TaskInfo) -> CachedTask | bool | None:
        """The task's results when known (read or cached), False when unknown."""
        if task.upid in known:
            return known[task.upid]
        found = cache.get(task.upid)
        if found is not None:
            if task.upid not in used:
                counters["cached"] += 1
            return found
        return False

    def use(st: _NodeState, task: TaskInfo, parsed: CachedTask | None) -> None:
        if task.upid in used or parsed is None:
            return
        used.add(task.upid)
        if parsed.pbs:
            results.extend(parsed.results)

    def walk(st: _NodeState) -> list[TaskInfo]:
        latest = set(st.wanted)
        success = set(st.wanted)
        take: list[TaskInfo] = []
        for task in st.tasks:
            if not (latest or success):
                break
            got = outcome(task)
            if got is not False:
                assert got is None or isinstance(got, CachedTask)
                use(st, task, got)
                if got is not None and got.pbs:
                    for r in got.results:
                        latest.discard(r.vmid)
                        if r.is_success:
                            success.discard(r.vmid)
                continue
            guests = ANY if st.name in newest_first else predictor.guests(task, st.tz)
            predicted[task.upid] = guests
            if guests is None:  # ANY
                take.append(task)
                latest.clear()
                success.clear()
            elif guests & (latest | success):
                take.append(task)
                latest -= guests
                success -= guests
        st.done = not take and not ((latest or success) and st.more_pages)
        return take

    with worker_pool(max(1, options.workers)) as pool:
        active = [s for s in states if not s.done]
        _fetch_pages(client, pool, active, since, options, anomalies, counters)
        while True:
            batch: list[tuple[_NodeState, TaskInfo]] = []
            for st in states:
                if st.done and st.name not in newest_first:
                    continue
                take = walk(st)
                while not take and not st.done:  # resolved guests need an older page
                    _fetch_pages(client, pool, [st], since, options, anomalies, counters)
                    take = walk(st)
                batch += [(st, t) for t in take]
            if not batch:
                break
            progress(f"task logs: {counters['fetched']} read (schedule-based selection)")
            futures: dict[str, Future[list[str] | None]] = {
                t.upid: pool.submit(_fetch_log, client, t, options.log_limit) for _, t in batch
            }
            for st, task in batch:
                counters["fetched"] += 1
                parsed = _parse(
                    task, futures[task.upid].result(), inventory, st.tz, anomalies, selections
                )
                known[task.upid] = parsed
                if parsed is None:
                    continue
                if not task.is_running:
                    new_tasks.append(parsed)
                guests = predicted.get(task.upid)
                if parsed.pbs and guests is not ANY:
                    assert guests is not None
                    held = {r.vmid for r in parsed.results} & st.wanted
                    if not held <= guests:
                        newest_first.add(st.name)  # the schedules do not explain this node
                use(st, task, parsed)
            for st in states:
                if st.name in newest_first:
                    st.done = False
    return HistoryCollection(
        histories=latest_results(results),
        readable_nodes=frozenset(s.name for s in states if s.readable),
        anomalies=tuple(condense(anomalies)),
        new_tasks=tuple(new_tasks),
        tasks_listed=counters["listed"],
        logs_fetched=counters["fetched"],
        logs_cached=counters["cached"],
    )
