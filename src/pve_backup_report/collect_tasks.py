"""Collect the latest backup result of every covered guest from vzdump tasks and logs.

Cost grows with what is needed, not with history:

* per node, one ``/nodes/{node}/tasks?typefilter=vzdump&since=…&source=all`` call (all
  nodes in parallel), paging with ``start`` only while the node still has unresolved
  guests and PVE's ``total`` says more tasks match;
* logs newest first, in rounds of ``workers`` parallel requests, and a node stops as soon
  as every covered guest on it has its latest result and its latest success;
* logs of finished tasks already parsed by an earlier run come from the task cache.

``/cluster/tasks`` and an unfiltered ``/nodes/{node}/tasks`` are never used for history:
they keep about 25 and 50 tasks (pve-facts §3).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from pve_backup_report.anomalies import condense
from pve_backup_report.collect import normalise_job
from pve_backup_report.coverage import (
    Coverage,
    CoverageResult,
    IncludedGuests,
    SelectionIndex,
    included_guests,
    selection_index,
)
from pve_backup_report.errors import ApiError
from pve_backup_report.history import (
    GuestBackupResult,
    GuestHistory,
    HistoryDataError,
    TaskInfo,
    TaskParse,
    latest_results,
    parse_task,
    task_from_api,
)
from pve_backup_report.model import Anomaly, Inventory, Severity
from pve_backup_report.parallel import worker_pool
from pve_backup_report.progress import Progress, no_progress
from pve_backup_report.pve_client import PveClient
from pve_backup_report.vzdump_command import VzdumpCommand, parse_vzdump_command

_LOG_PAGE = 50000  # task log lines per request


@dataclass(frozen=True)
class CachedTask:
    """What a finished task taught us; stored in the task cache by UPID."""

    upid: str
    node: str
    starttime: int
    storage: str | None
    pbs: bool
    results: tuple[GuestBackupResult, ...]


@dataclass(frozen=True)
class HistoryOptions:
    history_days: int = 15
    page_size: int = 1000
    log_limit: int = 500000
    workers: int = 8


@dataclass(frozen=True)
class HistoryCollection:
    histories: dict[int, GuestHistory]
    readable_nodes: frozenset[str]
    anomalies: tuple[Anomaly, ...]
    new_tasks: tuple[CachedTask, ...]  # finished tasks parsed this run (for the cache)
    tasks_listed: int = 0
    logs_fetched: int = 0
    logs_cached: int = 0
    # readable nodes that list no vzdump task at all in the window
    empty_nodes: frozenset[str] = frozenset()


@dataclass
class _NodeState:
    name: str
    tz: str | None
    wanted: set[int]
    tasks: list[TaskInfo] = field(default_factory=list)
    total: int | None = None
    fetched_items: int = 0
    cursor: int = 0
    readable: bool = True
    done: bool = False
    batch: int = 1  # logs per round: 1 first (the newest task usually resolves the node),
    # doubling while guests stay unresolved
    seen: set[int] = field(default_factory=set)
    succeeded: set[int] = field(default_factory=set)
    success_start: dict[int, int] = field(default_factory=dict)  # newest success per guest

    @property
    def more_pages(self) -> bool:
        return self.total is not None and self.fetched_items < self.total

    def record_success(self, vmid: int, started: int) -> None:
        self.succeeded.add(vmid)
        if started > self.success_start.get(vmid, -1):
            self.success_start[vmid] = started

    def unresolved(self, now: int) -> bool:
        """Guests still lack a success, or an older task not read yet was still running
        after one of the successes found (a long job can reach a guest after a newer job
        did), so it may hold a newer result."""
        if self.wanted - self.succeeded:
            return True
        if not self.wanted or self.cursor >= len(self.tasks):
            return False
        oldest_success = min(self.success_start.get(v, 0) for v in self.wanted)
        return any(
            (t.endtime if t.endtime is not None else now) > oldest_success
            for t in self.tasks[self.cursor :]
        )


def wanted_guests(coverage: CoverageResult) -> dict[str, set[int]]:
    """Guests whose freshness is judged (covered or indeterminate), per node."""
    out: dict[str, set[int]] = {}
    for gc in coverage.guests:
        if gc.coverage in (Coverage.COVERED, Coverage.INDETERMINATE):
            out.setdefault(gc.guest.node, set()).add(gc.guest.vmid)
    return out


def collect_history(
    client: PveClient,
    inventory: Inventory,
    coverage: CoverageResult,
    now: int,
    options: HistoryOptions,
    cache: Mapping[str, CachedTask] | None = None,
    progress: Progress = no_progress,
) -> HistoryCollection:
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
    results: list[GuestBackupResult] = []
    new_tasks: list[CachedTask] = []
    counters = {"listed": 0, "fetched": 0, "cached": 0}
    selections = _Selections(inventory)

    with worker_pool(max(1, options.workers)) as pool:
        active = [s for s in states if not s.done]
        _fetch_pages(client, pool, active, since, options, anomalies, counters)
        while True:
            batch: list[tuple[_NodeState, TaskInfo]] = []
            for st in states:
                if st.done:
                    continue
                if not st.unresolved(now):
                    st.done = True
                    continue
                take = _next_tasks(st, st.batch)
                if not take and st.more_pages:
                    _fetch_pages(client, pool, [st], since, options, anomalies, counters)
                    take = _next_tasks(st, st.batch)
                st.batch = min(st.batch * 2, max(1, options.workers))
                if not take:
                    st.done = True
                    continue
                batch += [(st, t) for t in take]
            if not batch:
                break
            left = sum(1 for s in states if not s.done)
            progress(
                f"task logs: {counters['fetched']} read, {counters['cached']} from cache, "
                f"{left} node(s) still unresolved"
            )
            futures: dict[str, Future[list[str] | ApiError]] = {}
            for _st, task in batch:
                if task.upid not in cache:
                    futures[task.upid] = pool.submit(_fetch_log, client, task, options.log_limit)
            for st, task in batch:
                parsed: CachedTask | None = cache.get(task.upid)
                if parsed is not None:
                    counters["cached"] += 1
                else:
                    counters["fetched"] += 1
                    log = futures[task.upid].result()
                    parsed = _parse(task, log, inventory, st.tz, anomalies, selections)
                    if parsed is None:
                        continue
                    if not task.is_running:
                        new_tasks.append(parsed)
                if not parsed.pbs:
                    continue
                for r in parsed.results:
                    results.append(r)
                    st.seen.add(r.vmid)
                    if r.is_success:
                        st.record_success(r.vmid, r.started or parsed.starttime)

    return HistoryCollection(
        histories=latest_results(results),
        readable_nodes=frozenset(s.name for s in states if s.readable),
        anomalies=tuple(condense(anomalies)),
        new_tasks=tuple(new_tasks),
        tasks_listed=counters["listed"],
        logs_fetched=counters["fetched"],
        logs_cached=counters["cached"],
        empty_nodes=frozenset(s.name for s in states if s.readable and s.total == 0),
    )


def _next_tasks(st: _NodeState, n: int) -> list[TaskInfo]:
    take = st.tasks[st.cursor : st.cursor + n]
    st.cursor += len(take)
    return take


def _fetch_pages(
    client: PveClient,
    pool: ThreadPoolExecutor,
    states: list[_NodeState],
    since: int,
    options: HistoryOptions,
    anomalies: list[Anomaly],
    counters: MutableMapping[str, int],
) -> None:
    """Fetch the next task-list page of each node in parallel."""

    def one(st: _NodeState) -> tuple[_NodeState, Any, int | None, ApiError | None]:
        params = {
            "typefilter": "vzdump",
            "since": since,
            "limit": options.page_size,
            "source": "all",
            "start": st.fetched_items,
        }
        try:
            page = client.get_page(f"/nodes/{st.name}/tasks", params)
        except ApiError as exc:
            return st, None, None, exc
        return st, page.data, page.total, None

    for st, data, total, err in pool.map(one, states):
        if err is not None:
            st.readable = False
            st.done = True
            anomalies.append(
                Anomaly(
                    Severity.WARNING,
                    "tasks",
                    f"task history of node {st.name} not readable: {err.message}",
                    {"node": st.name, "endpoint": err.endpoint},
                )
            )
            continue
        items = data if isinstance(data, list) else []
        st.fetched_items += len(items)
        st.total = total if total is not None else st.fetched_items
        if not items:
            st.total = st.fetched_items
        bad = 0
        for item in items:
            try:
                task = task_from_api(item)
            except HistoryDataError:
                bad += 1
                continue
            if task.type == "vzdump":
                st.tasks.append(task)
        counters["listed"] += len(items)
        if bad:
            anomalies.append(
                Anomaly(
                    Severity.INFO,
                    "tasks",
                    f"{bad} malformed task item(s) on node {st.name} ignored",
                    {"node": st.name},
                )
            )
    for st in states:
        st.tasks.sort(key=lambda t: (t.starttime, t.upid), reverse=True)


def _fetch_log(client: PveClient, task: TaskInfo, cap: int) -> list[str] | ApiError:
    """The whole log, in pages of ``_LOG_PAGE`` lines, at most ``cap`` lines (0: no cap).

    A positive ``limit`` is understood by every PVE version (``limit=0`` meant "nothing"
    before 7.3), and one page holds any ordinary log.
    """
    path = f"/nodes/{task.node}/tasks/{task.upid}/log"
    lines: list[str] = []
    try:
        while True:
            want = _LOG_PAGE if not cap else min(_LOG_PAGE, cap - len(lines))
            page = client.get_page(path, {"start": len(lines), "limit": want})
            more = _lines(page.data)
            lines += more
            if not more or len(lines) >= (page.total or 0) or (cap and len(lines) >= cap):
                return lines
    except ApiError as exc:
        return exc  # parse_task falls back to the task fields; the anomaly says why


def _lines(data: Any) -> list[str]:
    if not isinstance(data, list):
        return []
    out = []
    for item in data:
        if isinstance(item, dict):
            t = item.get("t")
            out.append(t if isinstance(t, str) else "")
    return out


class _Selections:
    """The guests each distinct vzdump command line selects, resolved once per run.

    Every run of a job logs the same command line; resolving it per task rebuilt the
    inventory's lookup tables for every log read (quadratic on large clusters).
    """

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._index: SelectionIndex | None = None
        self._found: dict[VzdumpCommand, IncludedGuests | None] = {}

    def included(self, command: VzdumpCommand, job_id: str) -> IncludedGuests | None:
        if command in self._found:
            return self._found[command]
        if self._index is None:
            self._index = selection_index(self._inventory)
        try:
            inc: IncludedGuests | None = included_guests(
                normalise_job(command.as_job_item(job_id)), self._inventory, self._index
            )
        except (KeyError, ValueError):
            inc = None
        self._found[command] = inc
        return inc


def _parse(
    task: TaskInfo,
    fetched: list[str] | ApiError | None,
    inventory: Inventory,
    tz: str | None,
    anomalies: list[Anomaly],
    selections: _Selections | None = None,
) -> CachedTask | None:
    error = fetched if isinstance(fetched, ApiError) else None
    log = None if isinstance(fetched, ApiError) else fetched
    command = parse_vzdump_command(log) if log else None
    expected: list[int] | None = None
    storage: str | None = None
    if command is not None:
        storage = command.storage or inventory.node_default_storage.get(task.node) or "local"
        inc = (selections or _Selections(inventory)).included(command, task.upid)
        if inc is not None and inc.unresolved is None:
            expected = [*inc.per_node.get(task.node, ()), *inc.missing]
    try:
        parsed: TaskParse = parse_task(task, log, expected, tz)
    except HistoryDataError as exc:
        anomalies.append(Anomaly(Severity.INFO, "tasks", f"task {task.upid} not usable: {exc}", {}))
        return None
    for a in parsed.anomalies:
        if error is not None and a.message.startswith(f"task log of {task.upid} unavailable"):
            a = replace(a, message=a.message.replace("(no log)", f"({error.message})", 1))
        anomalies.append(a)
    st = inventory.storage(storage) if storage else None
    # Without the command line (log unreadable) the storage is unknown: count the task.
    pbs = st.is_pbs if st is not None else storage is None
    return CachedTask(task.upid, task.node, task.starttime, storage, pbs, parsed.results)
