"""Collect the latest backup result of every covered guest from vzdump tasks and logs.

Cost grows with what is needed, not with history:

* per node, one ``/nodes/{node}/tasks?typefilter=vzdump&since=…&source=all`` call (all
  nodes in parallel), paging with ``start`` only while the node still has unresolved
  guests and PVE's ``total`` says more tasks match;
* only the logs that can still change a covered guest's latest result or latest
  success, chosen with the guests each task is predicted to hold from the job schedules
  (``task_selection``), all nodes' in parallel rounds; a node whose logs contradict the
  prediction is read newest first instead (see ``_Reader``);
* logs of finished tasks already parsed by an earlier run come from the task cache;
* a guest's results on other nodes than its current one (after a migration) from the
  other nodes' runs of the events its current node's runs show it was away for
  (``guest_search``).

A run's guests come from the command line its log starts with. A run that died before
logging it (target storage not activated, the node's vzdump lock not acquired) names no
guest: it is paired with the job due at its start on its node (``TaskPredictor.run_of``)
and that job's guests fail with its error; one that pairs with no job (or not surely
with one) is a warning anomaly and is not cached, so it is read, and reported, again
while it can hold a guest's latest result.

``/cluster/tasks`` and an unfiltered ``/nodes/{node}/tasks`` are never used for history:
they keep about 25 and 50 tasks (pve-facts §3).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any

from pve_backup_report.analysis.anomalies import condense
from pve_backup_report.analysis.coverage import (
    Coverage,
    CoverageResult,
    IncludedGuests,
    SelectionIndex,
    effective_storage,
    included_guests,
    selection_index,
)
from pve_backup_report.analysis.creation import GuestCreation
from pve_backup_report.analysis.history import (
    GuestBackupResult,
    GuestHistory,
    HistoryDataError,
    TaskInfo,
    TaskParse,
    latest_results,
    parse_task,
    same_guest_results,
    task_from_api,
    task_status_kind,
)
from pve_backup_report.collect.guest_search import CrossNodeSearch
from pve_backup_report.collect.inventory import normalise_job
from pve_backup_report.collect.parallel import Ahead, worker_pool
from pve_backup_report.collect.progress import Progress, no_progress
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.task_selection import (
    TOLERANCE_S,
    Prediction,
    RunPairing,
    TaskPredictor,
    near,
)
from pve_backup_report.errors import ApiError
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, BackupJob, Inventory, Severity, perl_true
from pve_backup_report.pve.upid import UpidError, parse_upid
from pve_backup_report.pve.vzdump_command import VzdumpCommand, parse_vzdump_command
from pve_backup_report.records import quick_init
from pve_backup_report.timeutil import window_s

# The start (``ctime``) of each backup group's newest finished snapshot on PBS, by VMID
# and guest type, and the hint that gives them once the PBS content is read (None before,
# or when a PBS storage in use could not be read): ``_Reader._fetch_ahead``.
SnapshotStarts = Mapping[tuple[int, str], int]


@dataclass(frozen=True)
class PbsSnapshots:
    """What the hint gives: the starts, and the PBS storages whose content they come from."""

    starts: SnapshotStarts
    storages: frozenset[str]


SnapshotHint = Callable[[], PbsSnapshots | None]

_LOG_PAGE = 50000  # task log lines per request
_AHEAD = 4  # logs fetched ahead of the parsing, per worker (``_fetch_one``)


@quick_init
@dataclass(frozen=True)
class CachedTask:
    """What a finished task taught us; stored in the task cache by UPID."""

    upid: str
    node: str
    starttime: int
    storage: str | None
    pbs: bool
    results: tuple[GuestBackupResult, ...]
    # the error of a run that died before logging its command line (no guest named)
    died: str | None = None

    @cached_property
    def vmids(self) -> frozenset[int]:
        """The guests of its results: a settling search asks for the same runs' guests
        once per searched guest (XL: 60,000 times)."""
        return frozenset(r.vmid for r in self.results)


@dataclass(frozen=True)
class HistoryOptions:
    history_days: int = 15
    page_size: int = 1000
    log_limit: int = 500000
    workers: int = 16
    # predict from the job schedules which logs to read (False: newest first)
    schedule_selection: bool = True


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One task-list page, its items already turned into tasks by the worker that read it:
    a page decoded into dicts is several times the size of its tasks, and the first pages
    of every node are asked early and wait for the history (on 30,000 guests, 64 pages
    of 1,000 items held as dicts were about 50 MB of peak RSS)."""

    tasks: tuple[TaskInfo, ...]  # the vzdump ones, well formed
    items: int  # items listed (the next page starts after them)
    malformed: int  # items that are not a valid task
    total: int | None  # PVE's total


# one task-list page, or the API error
PageAnswer = TaskPage | ApiError


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
    tasks: list[TaskInfo] = field(default_factory=list)  # newest first
    total: int | None = None
    fetched_items: int = 0
    readable: bool = True
    done: bool = False
    # Newest-first reading: every unread task may hold any guest. Set when the schedules
    # are not used, or when a log held a covered guest its prediction left out.
    newest_first: bool = False
    batch: int = 1  # newest-first: logs per round, 1 first, doubling while unresolved
    # ``_Reader._absences`` for a task list of this length (it only changes with a page)
    absences: tuple[int, list[tuple[int, frozenset[int]]]] | None = None

    # ``around``: the negated start times of ``tasks`` (ascending), for its length
    starts: list[int] = field(default_factory=list)
    seen: int = 0  # the search's journal entries known to the node's latest plan
    # ``_Reader._use_cached``, for a list of this length: per task, the latest end
    # (``_end``) of it and every older task; the cached logs were taken then
    ends_from: tuple[int, list[int]] = (-1, [])

    @property
    def more_pages(self) -> bool:
        return self.total is not None and self.fetched_items < self.total

    def reaches(self, t: int) -> bool:
        """Whether the tasks listed so far reach back to ``t`` (the oldest started then
        or before)."""
        return bool(self.tasks) and self.tasks[-1].starttime <= t

    def around(self, start: int) -> list[TaskInfo]:
        """The tasks started within ``TOLERANCE_S`` of ``start`` (the same event)."""
        found = self.around_range(start)
        return self.tasks[found.start : found.stop]

    def around_range(self, start: int) -> range:
        """The indexes of :meth:`around`'s tasks."""
        if len(self.starts) != len(self.tasks):  # the list only grows (a page), sorted
            self.starts = [-t.starttime for t in self.tasks]
        lo = bisect_left(self.starts, -(start + TOLERANCE_S))
        return range(lo, bisect_right(self.starts, -(start - TOLERANCE_S)))


@dataclass
class _Walk:
    """One planning walk over a node's tasks, newest first (``_Reader.plan``)."""

    lacking: set[int]  # guests without a (possible) success yet
    # per guest: end of the task of its newest success (or the start of a success on
    # another node, or of a run being searched there: ``guest_search``)
    success_end: dict[int, int]
    take: list[TaskInfo] = field(default_factory=list)
    later: list[tuple[TaskInfo, Prediction, frozenset[int]]] = field(default_factory=list)
    floor: int | None = None  # once no guest lacks a success: the oldest such end
    # ``floor`` as ``_Reader._idle`` first saw it (a lower bound of it ever after)
    idle_floor: int | None = None
    # no value of ``success_end`` is lower: ``older_than`` builds no set while a run is
    # newer than every success (on L about 700,000 items a cold run, 240,000 warm)
    low: float = float("inf")
    read_now: bool = False  # it read a log fetched ahead (``_Reader._read_ahead``)
    cut: bool = False  # ... that may change what it had gone by: it stopped there

    def __post_init__(self) -> None:
        self.low = min(self.success_end.values(), default=self.low)

    def resolve(self, guests: Iterable[int], held: int) -> None:
        """These guests have a (possible) success in a task that ended at ``held``."""
        for v in guests:
            self.lacking.discard(v)
            self.success_end[v] = max(self.success_end.get(v, held), held)
            self.low = min(self.low, held)

    def older_than(self, start: int) -> set[int]:
        """The guests lacking a success or whose newest (possible) success is older than
        ``start``: a run started then may hold a newer result of theirs."""
        if self.low >= start:
            return self.lacking
        return self.lacking | {v for v, end in self.success_end.items() if end < start}


class _Reader:
    """Reads, round after round, the logs that can still change a covered guest's result.

    Per node, each round walks the listed tasks newest first. Known tasks (read this run
    or cached) count with their results; an unknown task counts as holding its predicted
    guests (``task_selection``), optimistically as successes. An unknown task is read when

    * it may hold a guest still lacking a success, or
    * it may hold a guest and did not end before the task of that guest's newest
      (possible) success ended. Every vzdump run holds the node-wide lock
      ``/var/run/vzdump.lock`` for all its backups (``PVE::API2::VZDump`` takes it
      before ``exec_backup``), so of two runs of a node the one that ended first made all
      its backups first, even when the other started first and waited for the lock.

    A node is resolved when a walk reads nothing; it pages further only while guests
    lack a success. A log holding a covered guest outside its prediction switches the
    node to newest-first reading, and a log that is not the run of the job its task was
    paired with unpairs that event, so a wrong prediction costs requests, not a result.

    A known run that should have held a guest of the node and did not starts a search of
    the other nodes' runs of that event (``guest_search``): those that may hold it (a job
    that includes it was due then, ``TaskPredictor.may_hold_any``) are read whatever
    their own guests need, and a success found there resolves the guest here too.
    """

    def __init__(
        self,
        client: PveClient,
        inventory: Inventory,
        now: int,
        options: HistoryOptions,
        cache: Mapping[str, CachedTask],
        predictor: TaskPredictor | None,
        anomalies: list[Anomaly],
        search: tuple[CrossNodeSearch, TaskPredictor],
        created: Mapping[int, GuestCreation] | None = None,
        snapshots: SnapshotHint | None = None,
    ) -> None:
        self.client = client
        self.inventory = inventory
        self.now = now
        self.options = options
        self.cache = cache
        self.predictor = predictor
        self.anomalies = anomalies
        self.selections = _Selections(inventory)
        self.known: dict[str, CachedTask | None] = {}  # logs read this run (None: unusable)
        self.used: set[str] = set()  # tasks whose results are in ``results``
        self.predicted: dict[str, Prediction] = {}  # of the tasks being read
        self.results: list[GuestBackupResult] = []
        # what the logs read said, by log (``log_anomalies``)
        self.said: list[tuple[tuple[str, int, str], list[Anomaly]]] = []
        self.new_tasks: list[CachedTask] = []
        self.counters = {"listed": 0, "fetched": 0, "cached": 0}
        # guests' results on other nodes than their own (migrations, ``guest_search``);
        # its predictor tells which runs should have held a guest, in every reading mode
        self.search, self.runs = search
        self.pairer = self.runs  # pairs the runs that died before any guest with their job
        self._dead_checked: set[int] = set()  # stopped searches checked for a dead run
        # the task cache's creations (``_created_since``), the guests' types, and the
        # guests with a result so far (of ``results``' first ``_counted``)
        self.created = created or {}
        self._types = {g.vmid: g.type for g in inventory.guests}
        self._with_result: set[int] = set()
        self._with_log: set[int] = set()  # of those, the guests a log shows
        self._counted = 0
        # logs to fetch now, read when a plan takes them (``_fetch_ahead``)
        self.snapshots = snapshots
        self.ahead: list[tuple[_NodeState, TaskInfo]] = []
        self._asked_ahead: set[str] = set()
        self._ahead_done: set[tuple[str, int]] = set()  # (node, guest) fetched ahead for
        self._snapshot_start: dict[int, int] | None = None  # ``_snapshot_starts``
        self._other_start: dict[int, int] = {}  # the other guest type's group, by VMID
        self._listed_on: frozenset[str] = frozenset()  # the storages they come from
        # the fetch of a log started ahead, taken from those waiting (``_FetchedAhead.take``)
        self.fetched: Callable[[str], Future[list[str] | ApiError] | None] = lambda upid: None

    def outcome(self, task: TaskInfo) -> tuple[bool, CachedTask | None]:
        """Whether the task's log is known (read or cached), and what it taught."""
        if task.upid in self.known:
            return True, self.known[task.upid]
        found = self.cache.get(task.upid)
        if found is not None:
            if task.upid not in self.used:
                self.counters["cached"] += 1
                self.used.add(task.upid)
                if found.pbs:
                    self.results.extend(found.results)
                    self.search.note(found.results, found.starttime)
            return True, found
        return False, None

    def plan(self, st: _NodeState) -> list[TaskInfo]:
        """The unknown tasks of the node to read this round (see the class docstring). A
        walk that read logs fetched ahead (``_read_ahead``) and took none is walked again
        at once, with what they taught, rather than a round later."""
        w = self._walk(st)
        while w.read_now and not w.take:
            w = self._walk(st)
        if not w.take and not ((w.lacking or self._older_wanted(st)) and st.more_pages):
            st.done = True
        return w.take

    def _walk(self, st: _NodeState) -> _Walk:
        """One walk over the node's tasks, newest first: what it takes to read."""
        st.seen = len(self.search.journal)
        ends_from = self._use_cached(st)
        w = _Walk(set(st.wanted), {**self._created_since(st), **self.search.resolved(st.wanted)})
        w.lacking -= w.success_end.keys()
        absences = self._absences(st)  # events the node made no task for, newest first
        for i, task in enumerate(st.tasks):
            while absences and absences[-1][0] > task.starttime:
                self._absent(absences.pop(), w)
            if self._idle(st, i, w, ends_from[i]):
                break
            self._visit(st, i, w)
            if w.cut:
                return w
        if not st.more_pages:  # the list reaches back to the window's start
            while absences:
                self._absent(absences.pop(), w)
        for task, prediction, guests in w.later:
            if any(_end(task, self.now) >= w.success_end[v] for v in guests):
                w.take.append(task)
                self.predicted[task.upid] = prediction
        if st.newest_first and w.take:
            self._widen(st, w)
        return w

    def _results_for(self) -> tuple[set[int], set[int]]:
        """The guests with a result so far, and those a log shows (a result of their own,
        not a failure given by a run that died before naming any guest); ``results``
        counted incrementally."""
        for r in self.results[self._counted :]:
            self._with_result.add(r.vmid)
            if r.started is not None:
                self._with_log.add(r.vmid)
        self._counted = len(self.results)
        return self._with_result, self._with_log

    def _created_since(self, st: _NodeState) -> dict[int, int]:
        """Guests of the node that a search found in no run of the event of a home run
        that left them out (``guest_search``), without any result, and that the task
        cache knows were created after that run started: pve-manager ``PVE/VZDump.pm``
        ``get_included_guests`` picks a run's guests when it starts, so no older run
        holds them, and the walk stops there for them (they are judged with that
        creation, ``assess``), as a warm run's pages need not reach further back for
        them. With the start of that run."""
        if not self.created or not self.search.stopped_at:
            return {}
        with_result, _logged = self._results_for()
        out: dict[int, int] = {}
        for v, start in self.search.stopped_at.items():
            made = self.created.get(v)
            if (
                made is not None
                and v in st.wanted
                and v not in with_result
                and made.guest_type == self._types.get(v)
                and made.started > start
            ):
                out[v] = start
        return out

    def _use_cached(self, st: _NodeState) -> list[int]:
        """Take the results of the node's cached logs (``outcome``) once per list length,
        so that a walk may stop early (``_idle``); the tasks' latest ends from each on."""
        if st.ends_from[0] != len(st.tasks):
            for task in st.tasks:  # newest first, as the walk takes them
                self.outcome(task)
            ends = [0] * len(st.tasks)
            latest = 0
            for i in range(len(st.tasks) - 1, -1, -1):
                latest = ends[i] = max(latest, _end(st.tasks[i], self.now))
            st.ends_from = (len(st.tasks), ends)
        return st.ends_from[1]

    def _idle(self, st: _NodeState, i: int, w: _Walk, latest_end: int) -> bool:
        """Whether ``st.tasks[i]`` and every older task leave the plan as it is: no guest
        lacks a success, all of them ended before the oldest newest success (the node
        lock, ``_visit``), and none is a run of a searched event. Their known logs hold
        no newer success and start no search; their cached results were taken."""
        if w.lacking:
            return False
        if w.idle_floor is None:
            w.idle_floor = min((w.success_end[v] for v in st.wanted), default=0)
        if latest_end >= w.idle_floor:
            return False
        oldest = self.search.oldest_wanted(st.name)
        return oldest is None or st.tasks[i].starttime < oldest

    def _visit(self, st: _NodeState, i: int, w: _Walk) -> None:
        """One task of the walk: a known one counts with its results, an unknown one is
        taken when it may hold a guest still lacking a success (else kept for later)."""
        task = st.tasks[i]
        end = _end(task, self.now)
        # as the holder of a success, a finished task without an end time (odd data)
        # counts as ending when it started: more older tasks are read, not fewer
        held = end if task.endtime is not None or task.is_running else task.starttime
        known, got = self.outcome(task)
        if known:
            if got is not None and got.pbs:
                found = {r.vmid for r in got.results if r.is_success and r.vmid in st.wanted}
                w.resolve(found, held)
                w.resolve(self._evidence(st, i, got, w.older_than(task.starttime)), held)
            return
        if self._searched_run(st, i) and not self._told_by_id(task):
            # a run of an event where a migrated guest is searched, that may hold it
            prediction = self._prediction(st, i)
            self._take(task, prediction, w)
            w.resolve(self._unread_holds(st, i, _here(st, prediction), w.lacking), held)
            return
        if not w.lacking:
            if w.floor is None:
                w.floor = min((w.success_end[v] for v in st.wanted), default=0)
            if end < w.floor:
                return  # ran before every guest's newest success (the node lock)
        prediction = self._prediction(st, i)
        guests = _here(st, prediction)
        if guests & w.lacking:
            if self._read_ahead(st, i, prediction, w):
                if not w.cut:
                    self._visit(st, i, w)  # known now
                return
            self._take(task, prediction, w)
            self._fetch_ahead(st, i, guests & w.lacking)
            w.resolve(self._unread_holds(st, i, guests, w.lacking), held)
        elif away := self._tells_away(st, i, w.lacking):
            self._take(task, prediction, w)  # the guests it leaves out are searched elsewhere
            w.resolve(away, held)  # as for a run holding them: nothing older this round
        elif guests:
            w.later.append((task, prediction, guests))

    def _read_ahead(self, st: _NodeState, i: int, prediction: Prediction, w: _Walk) -> bool:
        """Read now, during the walk, the first log it takes when that log was fetched
        ahead (``_fetch_ahead``; waiting for the fetch if it is under way), as the next
        round would have: a guest failing night after night then walks back through its
        runs in one walk, not one run a round with every unresolved node planned again
        each round.

        Only while the walk has taken nothing else, so that what it has gone by is what
        a new walk would go by. The walk stops at this log when the log may change that:

        * a pairing found wrong, the node read newest first, a creation no longer alone
          (``_walk_inputs``);
        * a newer task of the same event already visited, when the log does not hold
          just the guests it was predicted to: that task's search, and the guests a
          single-guest run tells away, were judged with this log unknown, as holding
          its predicted guests (found by review).

        A success on another node cannot change it: a node's log holds that node's
        results, and only guests at home elsewhere count there (``CrossNodeSearch.note``).
        ``plan`` walks again either way before the node is done."""
        if w.take:
            return False
        task = st.tasks[i]
        fetching = self.fetched(task.upid)
        if fetching is None:
            return False
        before = self._walk_inputs(st)
        self.predicted[task.upid] = prediction
        self.read([((st, task), fetching.result())])
        w.read_now = True
        w.cut = self._walk_inputs(st) != before or (
            near(st.tasks, i).start < i and self._held_here(st, task) != _here(st, prediction)
        )
        return True

    def _held_here(self, st: _NodeState, task: TaskInfo) -> frozenset[int] | None:
        """The node's judged guests a read log holds (None: an unusable log)."""
        _known, held, _ran = self._held_by(task)
        return None if held is None else held & st.wanted

    def _walk_inputs(self, st: _NodeState) -> tuple[object, ...]:
        """What a log read may change that a walk depends on before it reaches the log."""
        return (self.runs.revision, st.newest_first, self._created_since(st))

    def _fetch_ahead(self, st: _NodeState, i: int, lacking: frozenset[int]) -> None:
        """Fetch now (``ahead``) the logs a guest's walk will read one round after
        another: an unread run is taken as holding each guest predicted for it until it
        is read, so a guest that no run gives a success walks back one run per round.
        Only the fetching moves: each log is parsed and counts when a plan takes it, so
        what is read and what it teaches are unchanged; a walk reads one as soon as it
        takes it first (``_read_ahead``), not a round later. A log fetched ahead that no
        plan takes (the guest found on another node, a snapshot deleted by hand) costs a
        request, never a result.

        Fetched ahead, for a guest lacking a success at the unread run ``st.tasks[i]``,
        the node's older runs predicted to hold it:

        * down to the one that made its newest PBS snapshot, when that snapshot is older
          than the run. A snapshot's ``ctime`` is its ``backup-time`` (pve-storage
          ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes``), set when vzdump starts that
          guest's backup (pve-manager ``PVE/VZDump.pm`` ``exec_backup_task``), so a run
          started after it did not make it: the guest failed or was left out there;
        * as far as ``_new_guest_bound`` says when it has no snapshot, no log read so
          far shows it, and a search found it in no node's run of the event of a home
          run that left it out (``guest_search``): a new guest;
        * as far too when it has no snapshot, a log read shows it without a success,
          and the token sees its backups on every PBS storage read
          (``BackupVisibility``, pve-storage ``src/PVE/Storage.pm``
          ``check_volume_access``): it has none there, so its walk reads its runs back
          to its newest success, whose snapshot PBS does not list (pruned, deleted by
          hand, on a storage or namespace no longer read, hidden by the rights of the
          storage's PBS user), or to the window's start. Fetched ahead that far, a
          success found sooner costs the older runs' requests, never a result. A guest
          failing every night of a fortnight walked back one night a round. Where its
          backups may be hidden from the token, it does not walk back on this ground.

        The predictions made here pair nothing (``TaskPredictor.guests``, ``peek``).
        """
        since = self._walk_bounds(st, st.tasks[i].starttime, lacking)
        for j in range(i + 1, len(st.tasks)):
            if not since:
                return
            task = st.tasks[j]
            # peeked: a prediction made here pairs nothing (``TaskPredictor.guests``),
            # so the logs are judged as they would be without fetching ahead
            held = _here(st, self._prediction(st, j, peek=True)) & since.keys()
            for v in held:
                bound, snapshot = since[v]
                ended = task.endtime if snapshot else None
                if (not snapshot and task.starttime < bound) or (
                    ended is not None and ended + TOLERANCE_S < bound
                ):
                    # created after the run started: not in it, nor in older ones; or
                    # the run ended before the snapshot was made (the snapshot is
                    # another node's, the guest having moved since): the walk ends
                    # at the newer run, with that node's search
                    del since[v]
                    continue
                self._ask_ahead(st, task)
                if snapshot and task.starttime <= bound:
                    del since[v]  # the run that made the snapshot: the walk stops there

    def _walk_bounds(
        self, st: _NodeState, start: int, lacking: frozenset[int]
    ) -> dict[int, tuple[int, bool]]:
        """The guests of ``lacking`` to fetch ahead for, from a run started at
        ``start`` (each once per node), with how far back (``_fetch_ahead``): the bound,
        and whether it is a snapshot's (the run that made it is fetched too)."""
        starts = self._snapshot_starts(st)
        since: dict[int, tuple[int, bool]] = {}
        if starts is None:
            return since
        for v in lacking:
            made = starts.get(v)
            if (made is not None and made >= start) or (st.name, v) in self._ahead_done:
                continue  # most guests: their snapshot is newer than the run
            if made is not None:
                self._ahead_done.add((st.name, v))
                since[v] = (made, True)
            elif self._walks_back(v):
                self._ahead_done.add((st.name, v))
                since[v] = self._new_guest_bound(v)
        return since

    def _walks_back(self, vmid: int) -> bool:
        """Whether a guest with no snapshot of its type's group walks back as far as
        ``_new_guest_bound`` says: no log read shows it and a search found it in no run
        (a new guest), or a log read shows it without a success (it lacks one) where
        the token would see its backups (``_none_hidden``). Not before such a log: a
        guest that succeeds with no snapshot listed (deleted, or on a storage not read)
        would have its whole window fetched for the one run its walk reads."""
        if vmid not in self._results_for()[1]:
            return vmid in self.search.stopped_at
        return self._none_hidden(vmid)

    def _none_hidden(self, vmid: int) -> bool:
        """Whether every PBS storage the snapshot starts come from lists the guest's
        backups to the token (``BackupVisibility``): none listed, it has none there.
        Every storage read, not only its jobs' (simpler; a storage that hides it
        elsewhere only leaves it to one run a round, as before)."""
        seen = self.inventory.backup_visibility
        return (
            seen is not None
            and bool(self._listed_on)
            and all(seen.sees(s, vmid) for s in self._listed_on)
        )

    def _new_guest_bound(self, vmid: int) -> tuple[int, bool]:
        """How far back a new guest's walk goes (``_fetch_ahead``'s bound): to the start
        of the task that created it, when the task cache knows it (pve-manager
        ``PVE/VZDump.pm`` ``get_included_guests`` picks a run's guests when it starts);
        else down to the run that made the newest snapshot of the other guest type's
        group with its VMID (a deleted guest's: its runs name the VMID, and the walk
        stops at its success), inclusive; else the window's start."""
        made = self.created.get(vmid)
        if made is not None and made.guest_type == self._types.get(vmid):
            return made.started, False
        other = self._other_start.get(vmid)
        return (other, True) if other is not None else (0, False)

    def _snapshot_starts(self, st: _NodeState) -> dict[int, int] | None:
        """The start of each guest's newest snapshot (of its type's group; none: not
        in it), once the hint has them; None before, and for a node read newest first
        (no predictions)."""
        if self._snapshot_start is None and self.snapshots is not None:
            hint = self.snapshots()
            if hint is not None:
                newest, self._listed_on = hint.starts, hint.storages
                self._snapshot_start, self._other_start = {}, {}
                for v, kind in self._types.items():
                    if (v, kind) in newest:
                        self._snapshot_start[v] = newest[v, kind]
                    other = "lxc" if kind == "qemu" else "qemu"
                    if (v, other) in newest:
                        self._other_start[v] = newest[v, other]
        return None if st.newest_first else self._snapshot_start

    def _ask_ahead(self, st: _NodeState, task: TaskInfo) -> None:
        """Fetch the log of ``task`` ahead, unless it is known, taken, or running."""
        upid = task.upid
        if task.is_running or upid in self.predicted or upid in self._asked_ahead:
            return
        if upid in self.known or upid in self.cache:
            return
        self._asked_ahead.add(upid)
        self.ahead.append((st, task))

    def _searched_run(self, st: _NodeState, i: int) -> bool:
        """Whether ``st.tasks[i]`` is a run of an event where guests of other nodes are
        searched (``guest_search``) that may hold one of them."""
        task = st.tasks[i]
        searched = self.search.searched_near(st.name, task.starttime)
        return bool(searched) and self.runs.may_hold_any(st.tasks, i, st.tz, searched)

    def _take(self, task: TaskInfo, prediction: Prediction, w: _Walk) -> None:
        """Read the unknown task this round, its log checked against ``prediction``."""
        w.take.append(task)
        self.predicted[task.upid] = prediction

    def _unread_holds(
        self, st: _NodeState, i: int, guests: frozenset[int], lacking: set[int]
    ) -> set[int]:
        """The guests an unread run taken for reading counts as holding until it is read:
        those predicted for it (``guests``), and those it tells away (``_tells_away``:
        their search starts from it). No older run of the node may start a search for
        them first: searches go newest event first (``CrossNodeSearch.may_start``)."""
        return self._tells_away(st, i, lacking) | guests

    def _widen(self, st: _NodeState, w: _Walk) -> None:
        """Newest-first reading: rounds of ``batch`` logs, as it always did."""
        taken = {t.upid for t in w.take}
        for task, _prediction, _guests in w.later:
            if len(w.take) >= st.batch:
                break
            if task.upid not in taken:
                w.take.append(task)
                self.predicted[task.upid] = None
        st.batch = min(st.batch * 2, max(1, self.options.workers))

    def _prediction(self, st: _NodeState, i: int, peek: bool = False) -> Prediction:
        if self.predictor is None or st.newest_first:
            return None
        return self.predictor.guests(st.tasks, i, st.tz, peek=peek)

    def _tells_away(self, st: _NodeState, i: int, lacking: set[int]) -> set[int]:
        """The guests lacking a success on this node that the jobs of an unknown
        single-guest task (its id names its only guest, pve-manager
        ``PVE/API2/VZDump.pm`` ``vzdump``) hold here: they were not in it, and its log
        starts their search. Guests named by another single-guest task of the event (one
        job per guest) had their own run there; those another run of the event holds or
        may hold (another job due then) are not told away by this one: as for a search
        (``CrossNodeSearch.evidence``), that run says where they were."""
        task = st.tasks[i]
        if task.vmid is None or task.is_running or not lacking:
            return set()
        expected = self.runs.scheduled(task, st.tz) or frozenset()
        named = {st.tasks[j].vmid for j in near(st.tasks, i)}
        away = (expected - named) & lacking
        for j in near(st.tasks, i):
            if not away:
                break
            if j != i and st.tasks[j].vmid is None:
                away -= self._may_hold(st, j)
        return {v for v in away if self.search.may_start(v, task.starttime)}

    def _may_hold(self, st: _NodeState, j: int) -> frozenset[int] | set[int]:
        """The node's guests the unnamed task ``st.tasks[j]`` holds or may hold: its
        log's, else its prediction (all of them when none, or when it died before any
        guest: its log names none)."""
        known, held, ran = self._held_by(st.tasks[j])
        if known and ran:
            return held or frozenset()
        prediction = None if known else self.runs.guests(st.tasks, j, st.tz)
        return st.wanted if prediction is None else prediction

    def _evidence(self, st: _NodeState, i: int, got: CachedTask, candidates: set[int]) -> set[int]:
        """Guests of ``candidates`` (lacking a success, or whose newest possible success,
        say on another node, is older than the task) that the known task ``st.tasks[i]``
        should have held and did not: searched on the other nodes (``guest_search``). A
        single-guest task is judged against what its jobs hold on the node, not its id."""
        if not candidates:
            return set()
        held = got.vmids
        if not candidates - held:
            return set()
        task = st.tasks[i]
        expected = (
            self.runs.guests(st.tasks, i, st.tz)
            if task.vmid is None
            else self.runs.scheduled(task, st.tz)
        )
        return self.search.evidence(
            st.tasks, i, held, candidates, expected,
            self._held_by, ran=got.storage is not None,
            predict=lambda j: self.runs.guests(st.tasks, j, st.tz),
        )  # fmt: skip

    def _absences(self, st: _NodeState) -> list[tuple[int, frozenset[int]]]:
        """The events in the window of the jobs holding the node's guests at which the
        node started no task (``guest_search``, "Absence"), oldest first (``pop`` gives
        the newest). The last ``TOLERANCE_S`` are left out: their task may start yet."""
        if st.absences is not None and st.absences[0] == len(st.tasks):
            return list(st.absences[1])
        starts = sorted(t.starttime for t in st.tasks)
        since = self.now - window_s(self.options.history_days)
        out = []
        for event, guests in self.runs.due(st.name, st.tz):
            if not since <= event <= self.now - TOLERANCE_S or guests.isdisjoint(st.wanted):
                continue
            i = bisect_left(starts, event)
            if i < len(starts) and starts[i] <= event + TOLERANCE_S:
                continue  # the node ran at that event
            out.append((event, guests))
        out.reverse()
        st.absences = (len(st.tasks), out)
        return list(out)

    def _absent(self, found: tuple[int, frozenset[int]], w: _Walk) -> None:
        """The guests an absence starts a search for count as resolved at the event."""
        event, guests = found
        w.resolve(self.search.absent(event, guests, w.lacking), event)

    def _held_by(self, task: TaskInfo) -> tuple[bool, frozenset[int] | None, bool]:
        """Whether the task's log is known, the guests it holds, and whether it ran."""
        known, got = self.outcome(task)
        if got is None:
            if not known and self._told_by_id(task):
                assert task.vmid is not None
                return True, frozenset({task.vmid}), True
            return known, None, False
        return known, got.vmids, got.storage is not None

    def _told_by_id(self, task: TaskInfo) -> bool:
        """An unread run whose listing tells a search all its log would: a successful
        run of one guest (``_ran_alone``) that is not searched (else its result counts).
        It held that guest and no other, so it is not read to see whether it held the
        searched ones, and it counts as known when a search ends (``settle``)."""
        return _ran_alone(task) and task.vmid not in self.search.searching

    def _older_wanted(self, st: _NodeState) -> bool:
        """A searched run may be older than the node's tasks listed so far."""
        oldest = self.search.oldest_wanted(st.name)
        return oldest is not None and not st.reaches(oldest)

    def settle(self, states: list[_NodeState]) -> bool:
        """End the searches whose runs are all known; True: plan every node again."""
        by_name = {s.name: s for s in states if s.readable}
        if not self.search.settle(self._holds(by_name)):
            return False
        if len(by_name) == len(states):  # else the guest may have been on a node not read
            self._dead_runs_of_stopped(by_name)
        for st in by_name.values():
            st.done = st.done and not self._concerned(st)
        return True

    def _holds(self, by_name: Mapping[str, _NodeState]) -> Callable[[int, str, int], bool | None]:
        """``CrossNodeSearch.settle``'s test: whether another node's run near ``start``
        holds the guest; None while one that may hold it is unknown. Each unknown run's
        ``holder_sets`` is kept for every guest searched near it: a settling reads no
        log and no page, which alone may change them."""
        sets: dict[str, tuple[frozenset[int], ...] | None] = {}

        def may_hold(st: _NodeState, i: int, vmid: int) -> bool:
            upid = st.tasks[i].upid
            if upid not in sets:
                sets[upid] = self.runs.holder_sets(st.tasks, i, st.tz)
            found = sets[upid]
            return found is None or any(vmid in s for s in found)

        def holds(start: int, home: str, vmid: int) -> bool | None:
            found = False
            for st in by_name.values():
                if st.name == home:
                    continue
                if st.more_pages and not st.reaches(start):
                    return None
                for i in st.around_range(start):
                    known, vmids, _ran = self._held_by(st.tasks[i])
                    if known:
                        found = found or vmid in (vmids or ())
                    elif may_hold(st, i, vmid):
                        return None
            return found

        return holds

    def _concerned(self, st: _NodeState) -> bool:
        """Whether a search change since the node's latest plan may change it: one of
        its guests, an event it has unknown tasks at (known ones are never searched), or
        one older than its listed tasks."""
        for v, t in self.search.journal[st.seen :]:
            if self.search.home.get(v) == st.name:
                return True
            if any(x.upid not in self.known and x.upid not in self.cache for x in st.around(t)):
                return True
            if st.more_pages and not st.reaches(t - TOLERANCE_S):
                return True
        return False

    def _dead_runs_of_stopped(self, by_name: Mapping[str, _NodeState]) -> None:
        """A guest found in no node's run of a searched event (``guest_search``) while
        another node's run of that event died before any guest was in that run: it was
        on that node then (pve-manager ``PVE/VZDump.pm`` ``get_included_guests`` places
        the guests when the runs start) and has moved since. It failed with the run.
        Only when every node's runs were read: a node not read (offline now, its guests
        moved away, or its task list refused) may have held it."""
        for v, start in self.search.stopped_at.items():
            if v in self._dead_checked:
                continue
            self._dead_checked.add(v)
            found = self._dead_run_near(by_name, start, self.search.home[v], v)
            if found is not None:
                task, message = found
                self.results.append(
                    GuestBackupResult(v, "failed", None, task.endtime, None, task.node,
                                      task.upid, message)
                )  # fmt: skip

    def _dead_run_near(
        self, by_name: Mapping[str, _NodeState], start: int, home: str, vmid: int
    ) -> tuple[TaskInfo, str | None] | None:
        """The one PBS run of another node near ``start`` that died before any guest (its
        results are failures it was given, none named by its log) of a job that
        includes ``vmid``. A single-guest run of another guest is not one: pve-manager
        ``PVE/API2/VZDump.pm`` ``vzdump`` names a task by its node's only guest."""
        found: list[tuple[TaskInfo, str | None]] = []
        for st in by_name.values():
            if st.name == home:
                continue
            for task in st.around(start):
                if task.vmid is not None and task.vmid != vmid:
                    continue  # that guest's run alone
                _known, got = self.outcome(task)
                if got is None or not got.pbs or (got.died is None and not got.results):
                    continue  # not a PBS run (its results never count), or no dead run
                given = all(r.status == "failed" and r.started is None for r in got.results)
                if (got.died is not None or given) and self.runs.may_hold(task, st.tz, vmid):
                    found.append((task, got.died or got.results[0].message))
        return found[0] if len(found) == 1 else None

    def read(
        self, batch: Iterable[tuple[tuple[_NodeState, TaskInfo], list[str] | ApiError]]
    ) -> None:
        for (st, task), fetched in batch:
            self.counters["fetched"] += 1
            said: list[Anomaly] = []
            got = _parse(
                task, fetched, self.inventory, st.tz, said,
                self.selections, partial(self._pairing, st, task),
            )  # fmt: skip
            if said:
                self.said.append(((task.node, -task.starttime, task.upid), said))
            parsed = got.task
            self.known[task.upid] = parsed
            # the pairer is the predictor when there is one (else it has paired nothing)
            prediction = self.pairer.checked(task, got.command, self.predicted.get(task.upid))
            if parsed is None:
                continue
            if not task.is_running and got.keep:
                self.new_tasks.append(parsed)
            if not parsed.pbs:
                continue
            self.used.add(task.upid)
            self.results.extend(parsed.results)
            self.search.note(parsed.results, task.starttime)
            if prediction is not None and not st.newest_first:
                held = parsed.vmids & st.wanted
                if not held <= prediction:
                    st.newest_first = True  # the schedules do not explain this node

    def log_anomalies(self) -> list[Anomaly]:
        """What the logs read said, by node, newest task first: not in the order they were
        read, which depends on which logs were fetched ahead, and when (``_read_ahead``;
        ``condense`` keeps the first of a kind's details)."""
        return [a for _key, said in sorted(self.said, key=lambda item: item[0]) for a in said]

    def _pairing(self, st: _NodeState, task: TaskInfo) -> RunPairing:
        return self.pairer.run_of(st.tasks, st.tasks.index(task), st.tz)


class _FetchedAhead:
    """The logs ``_Reader._fetch_ahead`` asks for, fetched on the pool until a plan takes
    them: at most ``bound`` fetched and not taken at once (a log waits in memory until
    its round comes), the others queued in the order asked and fetched as room is made;
    one a plan takes before its turn is fetched with its round, as any other."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        fetch: Callable[[tuple[_NodeState, TaskInfo]], list[str] | ApiError],
        bound: int,
        reader: _Reader,
    ) -> None:
        self._pool, self._fetch, self._bound, self._reader = pool, fetch, bound, reader
        self._started: dict[str, Future[list[str] | ApiError]] = {}
        self._queued: deque[tuple[_NodeState, TaskInfo]] = deque()

    def ask(self) -> None:
        """Queue what the reader asked for since, and start what there is room for."""
        self._queued.extend(self._reader.ahead)
        self._reader.ahead.clear()
        taken = self._reader.predicted
        while self._queued and len(self._started) < self._bound:
            item = self._queued.popleft()
            if item[1].upid not in taken:
                self._started[item[1].upid] = self._pool.submit(self._fetch, item)

    def cancel(self) -> None:
        """Cancel the fetches not started yet: no plan will take them."""
        for future in self._started.values():
            future.cancel()
        self._queued.clear()

    def take(self, upid: str) -> Future[list[str] | ApiError] | None:
        """The fetch of a log a plan takes, when it was started ahead."""
        found = self._started.pop(upid, None)
        if found is not None:
            self.ask()
        return found


def _fetch_one(
    client: PveClient, cap: int, item: tuple[_NodeState, TaskInfo]
) -> list[str] | ApiError:
    """A round's log (:func:`_read_rounds` fetches them in parallel as they are added, at
    most ``_AHEAD`` per worker ahead of the one being parsed: a round can list thousands
    of logs, and the parsing, one thread, is slower than the fetching, so without a bound
    they would all wait in memory at once)."""
    return _fetch_log(client, item[1], cap)


def displaced_dead_runs_dropped(
    results: Iterable[GuestBackupResult],
) -> list[GuestBackupResult]:
    """Drop a dead run's failure given to a guest that another node's run of the same
    event names (within ``TOLERANCE_S`` of the dead task's start).

    A run that died before any guest names none: its failure goes to the guests its job
    holds on its node today (a result without a start of its own). pve-manager
    ``PVE/VZDump.pm`` ``get_included_guests`` placed the guests when the runs started,
    so a guest whose backup another node's run of that event logged was there, not in
    the dead run (it moved since).
    """
    kept = list(results)
    # the guests given a dead run's failure: usually none, and only theirs are looked at
    given = {r.vmid for r in kept if r.started is None and r.status == "failed"}
    if not given:
        return kept
    named: dict[int, list[tuple[str, int]]] = {}  # vmid -> (node, task start) of named runs
    for r in kept:
        if r.started is not None and r.vmid in given:
            named.setdefault(r.vmid, []).append((r.node, _task_start(r)))
    if not named:
        return kept

    def displaced(r: GuestBackupResult) -> bool:
        if r.started is not None or r.status != "failed":
            return False
        start = _task_start(r)
        return any(
            node != r.node and abs(t - start) <= TOLERANCE_S for node, t in named.get(r.vmid, ())
        )

    return [r for r in kept if not displaced(r)]


def _here(st: _NodeState, prediction: Prediction) -> frozenset[int]:
    """The node's judged guests a task may hold (all of them without a prediction)."""
    return frozenset(st.wanted) if prediction is None else prediction & st.wanted


def _ran_alone(task: TaskInfo) -> bool:
    """A finished single-guest run that succeeded: it backed up the guest its id names
    and no other.

    pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` names the task by its node's one local
    guest (the others are only logged as external); ``PVE/VZDump.pm`` ``exec_backup``
    ends in "job errors" when a guest's backup fails. A manual run with ``all`` by a
    user without ``VM.Backup`` on the guest (dropped silently) or with ``--stdout`` (no
    archive) may end OK without a backup of that guest; a search only needs that no
    other guest was in the run, which the task id says in every case.
    """
    return (
        task.vmid is not None
        and not task.is_running
        and task_status_kind(task.status) in ("ok", "warning")
    )


def _task_start(r: GuestBackupResult) -> int:
    try:
        return parse_upid(r.upid).starttime
    except UpidError:
        return r.started if r.started is not None else 0


def _end(task: TaskInfo, now: int) -> int:
    """When the task ended; ``now`` while it runs."""
    return task.endtime if task.endtime is not None else now


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
    asked: Mapping[str, Future[PageAnswer]] | None = None,
    created: Mapping[int, GuestCreation] | None = None,
    snapshots: SnapshotHint | None = None,
) -> HistoryCollection:
    """The latest result and latest success of every judged guest, reading only the
    task logs that can still change them (cached ones are not read again). ``asked``:
    the nodes' first task-list pages, already asked (:func:`ask_first_pages`).
    ``created``: the creations the task cache knows (``_Reader._created_since``).
    ``snapshots``: the guests' newest snapshots on PBS once read, to fetch ahead the
    logs a failing guest needs (``_Reader._fetch_ahead``).

    Example::

        history = collect_history(client, inventory, coverage, now, HistoryOptions(15))
        history.histories[100].last_success, history.logs_fetched, history.anomalies
    """
    wanted = wanted_guests(coverage)
    anomalies: list[Anomaly] = []
    states = _node_states(inventory, wanted, options, anomalies)
    since = now - window_s(options.history_days)
    runs = TaskPredictor(inventory, coverage, since, now)
    predictor = runs if options.schedule_selection else None
    home = {v: node for node, guests in wanted.items() for v in guests}
    reader = _Reader(
        client, inventory, now, options, cache or {}, predictor, anomalies,
        (CrossNodeSearch(home), runs), created, snapshots,
    )  # fmt: skip
    with worker_pool(max(1, options.workers)) as pool:
        _read_rounds(reader, states, pool, since, progress, asked or {})
    judged = {v for guests in wanted.values() for v in guests}
    counters = reader.counters
    return HistoryCollection(
        # only the guests whose freshness is judged: the logs read for them may hold
        # results of other guests, but not necessarily their latest ones
        histories=latest_results(
            same_guest_results(
                displaced_dead_runs_dropped(r for r in reader.results if r.vmid in judged),
                {g.vmid: g.type for g in inventory.guests},
            )
        ),
        readable_nodes=frozenset(s.name for s in states if s.readable),
        anomalies=tuple(condense([*anomalies, *reader.log_anomalies()])),
        new_tasks=tuple(reader.new_tasks),
        tasks_listed=counters["listed"],
        logs_fetched=counters["fetched"],
        logs_cached=counters["cached"],
        empty_nodes=frozenset(s.name for s in states if s.readable and s.total == 0),
    )


def _node_states(
    inventory: Inventory,
    wanted: Mapping[str, set[int]],
    options: HistoryOptions,
    anomalies: list[Anomaly],
) -> list[_NodeState]:
    """One reading state per node; a node not online is not read (an anomaly when it
    holds judged guests)."""
    states: list[_NodeState] = []
    for node in inventory.nodes:
        st = _NodeState(node.name, node.timezone, set(wanted.get(node.name, set())))
        st.newest_first = not options.schedule_selection
        if node.status != "online":
            st.readable = False
            st.done = True
            if st.wanted:
                anomalies.append(
                    Anomaly(
                        Severity.WARNING,
                        "tasks",
                        Msg("node_not_online", node=node.name, status=node.status),
                        {"node": node.name},
                    )
                )
        states.append(st)
    return states


def _read_rounds(
    reader: _Reader,
    states: list[_NodeState],
    pool: ThreadPoolExecutor,
    since: int,
    progress: Progress,
    asked: Mapping[str, Future[PageAnswer]],
) -> None:
    """Rounds of planning and reading until no node has a log left to read."""
    client, options, anomalies, counters = (
        reader.client, reader.options, reader.anomalies, reader.counters
    )  # fmt: skip
    _fetch_pages(client, pool, [s for s in states if not s.done], since, options, anomalies,
                 counters, asked)  # fmt: skip
    fetch = partial(_fetch_one, client, options.log_limit)
    bound = max(1, options.workers) * _AHEAD
    ahead = _FetchedAhead(pool, fetch, bound, reader)
    reader.fetched = ahead.take
    while True:
        # a node's logs are asked as soon as it is planned, and parsed once every node is
        # (a plan sees the logs parsed in earlier rounds, and those fetched ahead that it
        # reads itself, ``_Reader._read_ahead``)
        batch = Ahead(pool, fetch, bound)
        for st in states:
            if st.done:
                continue
            take = reader.plan(st)
            while not take and not st.done:  # guests lack a success: an older page
                _fetch_pages(client, pool, [st], since, options, anomalies, counters)
                take = reader.plan(st)
            ahead.ask()  # first: a plan may also take one it fetches ahead
            for t in take:
                batch.add((st, t), ahead.take(t.upid))
        if not batch:
            if reader.settle(states):
                continue  # a migrated guest's search started or ended
            ahead.cancel()
            return
        left = sum(1 for s in states if not s.done)
        progress(
            f"task logs: {counters['fetched']} read, {counters['cached']} from cache, "
            f"{left} node(s) still unresolved"
        )
        reader.read(batch)
        reader.settle(states)


def _fetch_pages(
    client: PveClient,
    pool: ThreadPoolExecutor,
    states: list[_NodeState],
    since: int,
    options: HistoryOptions,
    anomalies: list[Anomaly],
    counters: MutableMapping[str, int],
    asked: Mapping[str, Future[PageAnswer]] | None = None,
) -> None:
    """Fetch the next task-list page of each node in parallel (a first page already
    ``asked`` is waited for instead)."""
    asked = asked or {}
    early = {st.name: asked[st.name] for st in states if not st.fetched_items and st.name in asked}

    def one(st: _NodeState) -> tuple[_NodeState, PageAnswer]:
        found = early.get(st.name)
        if found is not None:
            return st, found.result()
        return st, _ask_page(client, st.name, since, options.page_size, st.fetched_items)

    for st, page in pool.map(one, states):
        if isinstance(page, ApiError):
            err = page
            st.readable = False
            st.done = True
            anomalies.append(
                Anomaly(
                    Severity.WARNING,
                    "tasks",
                    Msg("task_history_unreadable", node=st.name, error=err.message),
                    {"node": st.name, "endpoint": err.endpoint},
                )
            )
            continue
        st.fetched_items += page.items
        st.total = page.total if page.total is not None else st.fetched_items
        if not page.items:
            st.total = st.fetched_items
        counters["listed"] += page.items
        anomalies += _add_tasks(st, page)
    for st in states:
        st.tasks.sort(key=lambda t: (t.starttime, t.upid), reverse=True)


def ask_first_pages(
    client: PveClient,
    pool: ThreadPoolExecutor,
    nodes: Iterable[str],
    now: int,
    options: HistoryOptions,
) -> dict[str, Future[PageAnswer]]:
    """Ask each node's first task-list page on ``pool`` now, for :func:`collect_history`
    (the pipeline asks them as soon as the inventory names the nodes: they are on the
    way while it reads and analyses the rest)."""
    since = now - window_s(options.history_days)
    return {n: pool.submit(_ask_page, client, n, since, options.page_size, 0) for n in nodes}


def _ask_page(client: PveClient, node: str, since: int, size: int, start: int) -> PageAnswer:
    """One page of the node's vzdump tasks since ``since`` (all sources: archived and
    active), from ``start``; an API error is returned, not raised."""
    params = {
        "typefilter": "vzdump", "since": since, "limit": size, "source": "all", "start": start,
    }  # fmt: skip
    try:
        page = client.get_page(f"/nodes/{node}/tasks", params)
    except ApiError as exc:
        return exc
    return _task_page(page.data, page.total)


def _task_page(data: Any, total: int | None) -> TaskPage:
    """The page's items as tasks (vzdump ones kept); malformed items are counted."""
    items = data if isinstance(data, list) else []
    tasks: list[TaskInfo] = []
    bad = 0
    for item in items:
        try:
            task = task_from_api(item)
        except HistoryDataError:
            bad += 1
            continue
        if task.type == "vzdump":
            tasks.append(task)
    return TaskPage(tuple(tasks), len(items), bad, total)


def _add_tasks(st: _NodeState, page: TaskPage) -> list[Anomaly]:
    """The page's vzdump tasks join the node's list; malformed items are said."""
    st.tasks += page.tasks
    bad = page.malformed
    if not bad:
        return []
    text = Msg("malformed_tasks", count=bad, node=st.name)
    return [Anomaly(Severity.INFO, "tasks", text, {"node": st.name})]


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
        self._of_job: dict[str, IncludedGuests | None] = {}

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

    def included_job(self, job: BackupJob) -> IncludedGuests | None:
        """The guests a job selects (for a run whose log names none), once per job."""
        if job.id in self._of_job:
            return self._of_job[job.id]
        if self._index is None:
            self._index = selection_index(self._inventory)
        try:
            inc: IncludedGuests | None = included_guests(job, self._inventory, self._index)
        except (KeyError, ValueError):
            inc = None
        self._of_job[job.id] = inc
        return inc


@dataclass(frozen=True)
class _Target:
    """Whom a run was to back up on its node (None: not known) and where to."""

    expected: list[int] | None = None
    storage: str | None = None


@dataclass(frozen=True)
class _Parsed:
    task: CachedTask | None  # None: the task is unusable
    command: VzdumpCommand | None  # the logged command line
    keep: bool = True  # False: not for the cache (a dead run whose guests are unknown)


def _command_storage(command: VzdumpCommand, node: str, inventory: Inventory) -> str | None:
    """The storage a logged run wrote to; None when it wrote plain files to a directory.

    The logged command line holds the job's own options (pve-guest-common
    ``command_line``); the node's vzdump defaults were added by pve-manager
    ``PVE::VZDump::new`` only when it had neither ``--storage`` nor ``--dumpdir``
    (``get_storage_param``: a ``dumpdir`` means no storage).
    """
    if command.dumpdir is not None:
        return None if perl_true(command.dumpdir) or command.storage else "local"
    if command.storage:
        return command.storage
    if node in inventory.node_default_dumpdir:
        return None
    return inventory.node_default_storage.get(node) or "local"


def _parse(
    task: TaskInfo,
    fetched: list[str] | ApiError | None,
    inventory: Inventory,
    tz: str | None,
    anomalies: list[Anomaly],
    selections: _Selections | None = None,
    pairing: Callable[[], RunPairing] | None = None,
) -> _Parsed:
    """What the log taught, and its vzdump command line.

    The guests a run was to back up come from its command line; a run that died before
    logging it (pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` worker: ``PVE::VZDump->new``
    failed, or ``getlock`` timed out) is paired with the job due at its start on its node
    (``pairing``), so that ``parse_task`` fails that job's guests with the task's error.
    """
    error = fetched if isinstance(fetched, ApiError) else None
    log = None if isinstance(fetched, ApiError) else fetched
    command = parse_vzdump_command(log) if log else None
    selections = selections or _Selections(inventory)
    target = _Target()
    dead: RunPairing | None = None
    if command is not None:
        target = _command_target(task, command, inventory, selections)
    elif log and not task.is_running and pairing is not None:
        dead = pairing()
        target = _job_target(task, dead, inventory, selections)
    try:
        parsed: TaskParse = parse_task(task, log, target.expected, tz)
    except HistoryDataError as exc:
        message = Msg("task_not_usable", upid=task.upid, error=str(exc))
        anomalies.append(Anomaly(Severity.INFO, "tasks", message, {}))
        return _Parsed(None, command)
    for a in parsed.anomalies:
        m = a.message
        # the log could not be read at all: say why instead of "no log"
        if error is not None and isinstance(m, Msg) and m.params.get("error") == "no log":
            a = replace(a, message=Msg(m.code, **{**m.params, "error": error.message}))
        anomalies.append(a)
    storage = target.storage
    if command is None and log:
        storage = _named_storage(parsed.job_error) or storage
    st = inventory.storage(storage) if storage else None
    # Without the command line (log unreadable) the storage is unknown: count the task.
    # A run paired with a job that writes plain files (dumpdir) is no PBS run either.
    unknown_target = command is None and (dead is None or dead.job is None)
    pbs = st.is_pbs if st is not None else storage is None and unknown_target
    died = None
    if command is None and log and parsed.job_status in ("failed", "unknown"):
        died = parsed.job_error or task.status or "unexpected status"
    cached = CachedTask(task.upid, task.node, task.starttime, storage, pbs, parsed.results, died)
    if (
        dead is not None
        and target.expected is None
        and task.vmid is None
        and parsed.job_status in ("failed", "unknown")
    ):
        anomalies.append(_dead_run_anomaly(task, dead, parsed.job_error))
        return _Parsed(cached, command, keep=False)  # read again while it matters
    return _Parsed(cached, command)


def _command_target(
    task: TaskInfo, command: VzdumpCommand, inventory: Inventory, selections: _Selections
) -> _Target:
    storage = _command_storage(command, task.node, inventory)
    inc = selections.included(command, task.upid)
    if inc is None or inc.unresolved is not None:
        return _Target(None, storage)
    return _Target([*inc.per_node.get(task.node, ()), *inc.missing], storage)


def _job_target(
    task: TaskInfo, pairing: RunPairing, inventory: Inventory, selections: _Selections
) -> _Target:
    """The guests of the job a dead run is paired with, on its node (as
    ``PVE::API2::VZDump`` adds them: local guests plus listed VMIDs that do not exist)."""
    job = inventory.jobs_by_id.get(pairing.job) if pairing.job is not None else None
    if job is None:
        return _Target()
    storage = effective_storage(job, task.node, inventory)
    inc = selections.included_job(job)
    if inc is None or inc.unresolved is not None:
        return _Target(None, storage)
    return _Target([*inc.per_node.get(task.node, ()), *inc.missing], storage)


_NAMED_STORAGE = re.compile(r"could not (?:activate storage|get storage information for) '([^']+)'")


def _named_storage(error: str | None) -> str | None:
    """The storage ``PVE::VZDump::new`` names when it cannot use it (the run's target)."""
    m = _NAMED_STORAGE.match(error or "")
    return m.group(1) if m else None


def _dead_run_anomaly(task: TaskInfo, pairing: RunPairing, error: str | None) -> Anomaly:
    """A run that died before any guest, whose guests are not known."""
    said = error or task.status or Msg("no_error_text")
    common = {"upid": task.upid, "node": task.node, "error": said}
    if pairing.job is not None:
        message = Msg("dead_run_job", **common, job=pairing.job)
    elif pairing.due:
        message = Msg("dead_run_due", **common, jobs=list(pairing.due))
    else:
        message = Msg("dead_run_unmatched", **common)
    details = {"upid": task.upid, "node": task.node, "error": error, "jobs": list(pairing.due)}
    return Anomaly(Severity.WARNING, "tasks", message, details)
