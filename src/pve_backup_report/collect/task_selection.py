"""Which covered guests a vzdump task may hold, predicted without reading its log.

* A single-guest task names its guest in the task id.
* Otherwise the task start is matched to the scheduled events of the enabled jobs (in
  the node's time zone, at most ``TOLERANCE_S`` after the event). A matched task holds
  the guests those jobs include on the node whose results count (none when the jobs write
  to a non-PBS storage: those results are ignored anyway).
* Several jobs due at one event make one task each on the node, started by one
  pvescheduler pass in job-id order (``PVE::Jobs::run_jobs`` sorts the job ids), so the
  n-th task started (by start time, then ``pstart``) is paired with the n-th job. When a
  log read is not the run of its paired job (another command line, or none), the event
  is unpaired: its tasks may hold the guests of any of its jobs.
* A task matching no event (a manual run), matching a job whose selection is unresolved,
  or sharing a matched event with more tasks of the node than jobs ran then (a manual run
  right after a scheduled one: which is which is unknown) may hold any guest.

A run that died before its command line (no guest named: storage activation failed, the
node's vzdump lock timed out) is attributed to the job it ran with :meth:`TaskPredictor.run_of`,
by the same rules: the one job due at its start, or the n-th job of a shared event.

The prediction only decides which logs are read first; ``collect_tasks`` checks every log
it reads against it and falls back to newest-first reading for the node when a log holds
a covered guest the prediction left out.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pve_backup_report.analysis.coverage import (
    CoverageResult,
    JobCoverage,
    effective_storage,
    split_vmid_list,
)
from pve_backup_report.analysis.history import TaskInfo
from pve_backup_report.model import BackupJob, Inventory, Selection, Storage, pve_selection
from pve_backup_report.pve.schedule import ScheduleError, next_event, parse_event
from pve_backup_report.pve.vzdump_command import VzdumpCommand

TOLERANCE_S = 300  # a scheduled task starts within this long after its event
_MAX_EVENTS = 100_000  # per job schedule in the history window

# A prediction: the guests a task may hold; None means "any guest".
Prediction = frozenset[int] | None


@dataclass(frozen=True)
class RunPairing:
    """Which scheduled job a task ran, told from its start alone."""

    job: str | None  # the job it ran; None when no job or not known which
    due: tuple[str, ...]  # the enabled jobs due at its start on its node (sorted)

    @property
    def ambiguous(self) -> bool:
        """Jobs were due, but which one the task ran is not known."""
        return self.job is None and bool(self.due)


class TaskPredictor:
    """Predicts, per node, the guests each vzdump task holds from the jobs' schedules."""

    def __init__(
        self, inventory: Inventory, coverage: CoverageResult, since: int, now: int
    ) -> None:
        self._inventory = inventory
        self._since = since
        self._now = now
        # job id -> node -> guests whose results count (None: unresolved selection)
        self._holds: dict[str, dict[str, frozenset[int]] | None] = {}
        # job id -> nodes where it backs up a guest (where its runs make tasks)
        self._runs_on: dict[str, set[str]] = {}
        # jobs that make a task on every node: pve-manager PVE/API2/VZDump.pm ``vzdump``
        # only skips a node without local guests when ``all`` is not set, and adds the
        # listed VMIDs that do not exist to every node's run
        self._everywhere: set[str] = set()
        # job id -> the guests it includes on any node (None: unresolved), ``may_hold_any``
        self._includes: dict[str, frozenset[int] | None] = {}
        node_of = {g.vmid: g.node for g in inventory.guests}
        storages = {s.id: s for s in inventory.storages}
        for jc in coverage.jobs:
            self._index_job(jc, node_of, storages)
        self._events: dict[tuple[str, str], list[int]] = {}
        self._matched: dict[str, tuple[tuple[str, int], ...]] = {}  # by UPID
        self._by_node: dict[tuple[str, str], list[tuple[str, list[int]]]] = {}
        self._merged: dict[tuple[str, str], tuple[list[int], list[int]]] = {}  # _node_events
        self._due: dict[tuple[str, str], list[tuple[int, frozenset[int]]]] = {}
        self._jobs = inventory.jobs_by_id
        # UPID -> (job id, the jobs of its event) for a task told apart from its siblings
        self._paired: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        # (node, jobs of an event) whose tasks a log showed not to be paired as predicted
        self._distrusted: set[tuple[str, tuple[tuple[str, int], ...]]] = set()
        # ... of which a logged command line was another job's run (not just missing)
        self._contradicted: set[tuple[str, tuple[tuple[str, int], ...]]] = set()
        self._guesses: dict[tuple[str, int, bool], Prediction] = {}  # see guests()
        self._peeks: dict[tuple[str, int, bool], Prediction] = {}  # guests(peek=True)
        self._event_groups: dict[
            tuple[str, int, int, int, tuple[tuple[str, int], ...]], tuple[TaskInfo, ...] | None
        ] = {}  # see _event_tasks()
        self._held_sets: dict[tuple[str, tuple[str, ...]], Prediction] = {}  # _held_by_jobs
        self._scheduled: dict[tuple[str, str], tuple[list[int], list[str]]] = {}  # _due_jobs

    def _index_job(
        self, jc: JobCoverage, node_of: Mapping[int, str], storages: Mapping[str, Storage]
    ) -> None:
        """The job's entries in ``_includes``, ``_holds``, ``_runs_on``, ``_everywhere``."""
        job_id = jc.job.id
        # a job with ``node`` set places its selection on that node only (pve-manager
        # ``PVE/VZDump.pm`` ``get_included_guests``): the guests it names that moved
        # away since were in its runs there before
        self._includes[job_id] = (
            frozenset() if jc.refused is not None
            else None if jc.unresolved is not None
            else frozenset(jc.included).union(jc.skipped_other_node)
        )  # fmt: skip
        if jc.refused is not None:
            # PVE refuses it before fork_worker (PVE/API2/VZDump.pm vzdump): no task
            self._holds[job_id] = {}
            return
        if jc.unresolved is not None:
            self._holds[job_id] = None
            return
        if jc.selection is Selection.ALL or jc.missing_vmids:
            self._everywhere.add(job_id)
        per_node: dict[str, set[int]] = {}
        counts: dict[str, bool] = {}  # node -> whether the job's results there count
        for vmid in jc.included:  # every guest of the cluster for ``all``
            node = node_of.get(vmid)
            if node is None:
                continue
            if node not in counts:
                sid = effective_storage(jc.job, node, self._inventory)
                st = None if sid is None else storages.get(sid)
                # no storage: plain files to a directory (dumpdir), never a PBS
                # result; an unknown storage: its results may count
                counts[node] = sid is not None and (st is None or st.is_pbs)
            if counts[node]:
                per_node.setdefault(node, set()).add(vmid)
        self._runs_on[job_id] = set(counts)
        self._holds[job_id] = {n: frozenset(v) for n, v in per_node.items()}

    @property
    def revision(self) -> int:
        """Grows whenever :meth:`checked` finds a pairing wrong (the predictions and the
        pairings of that event change)."""
        return len(self._distrusted) + len(self._contradicted)

    def checked(
        self, task: TaskInfo, command: VzdumpCommand | None, prediction: Prediction
    ) -> Prediction:
        """What ``task``'s read log is to be checked against.

        ``prediction`` for a task not paired with a job, or paired and whose log is its
        job's run (same selection and storage). Otherwise the pairing of its event was
        wrong (or cannot be checked: no command line, as after a lock timeout): the
        event is unpaired, each of its tasks may hold the guests of any of its jobs, and
        those are returned. Another job's command line also tells :meth:`run_of` that the
        job-id order does not hold at that event.
        """
        found = self._paired.get(task.upid)
        if found is None:
            return prediction
        job_id, keys = found
        job = self._jobs.get(job_id)
        if job is not None and command is not None and runs_job(command, job):
            if (task.node, keys) not in self._distrusted:
                return prediction
        else:
            self._distrusted.add((task.node, keys))
            if command is not None:  # another job's run: the order itself was wrong
                self._contradicted.add((task.node, keys))
        return self._held(task.node, keys)

    def guests(
        self, tasks: Sequence[TaskInfo], i: int, tz: str | None, *, peek: bool = False
    ) -> Prediction:
        """The guests ``tasks[i]`` may hold; ``tasks`` is one node's list, newest first.

        Only the tasks started within ``TOLERANCE_S`` of it are looked at (for a shared
        event), so a run whose logs are all cached predicts nothing. Remembered until the
        node's list grows (an older page) or a log shows its event's pairing wrong.
        ``peek``: paired with nothing (``checked`` then judges the task's log as if it
        had not been asked), for a caller that only looks ahead; remembered apart.
        """
        task = tasks[i]
        if task.vmid is not None:
            return frozenset({task.vmid})
        keys = self._keys(task, tz)
        key = (task.upid, len(tasks), (task.node, keys) in self._distrusted)
        if key in self._guesses:
            return self._guesses[key]
        if peek:  # the same value, kept apart: a later plain call still pairs
            if key not in self._peeks:
                self._peeks[key] = self._guess(tasks, i, tz, keys, record=False)
            return self._peeks[key]
        found = self._guesses[key] = self._guess(tasks, i, tz, keys)
        return found

    def _guess(
        self,
        tasks: Sequence[TaskInfo],
        i: int,
        tz: str | None,
        keys: tuple[tuple[str, int], ...],
        record: bool = True,
    ) -> Prediction:
        """``guests`` for an unnamed task whose start matches ``keys``."""
        task = tasks[i]
        if not keys:
            return None
        order = self._event_tasks(tasks, near(tasks, i), tz, keys)
        if order is None:
            return None
        if len(keys) > 1 and len(order) == len(keys) and (task.node, keys) not in self._distrusted:
            # pvescheduler starts the jobs due in one pass in job-id order (``sort keys``
            # in PVE::Jobs::run_jobs), so the n-th task started (pstart orders one second)
            # is the n-th job's run. ``collect_tasks`` checks that on every log it reads.
            mine = sorted(keys)[order.index(task)]
            if record:
                self._paired[task.upid] = (mine[0], keys)
            keys = (mine,)
        return self._held(task.node, keys)

    def _event_tasks(
        self,
        tasks: Sequence[TaskInfo],
        window: range,
        tz: str | None,
        keys: tuple[tuple[str, int], ...],
    ) -> tuple[TaskInfo, ...] | None:
        """The tasks of ``window`` (a node's list, newest first) started by the event of
        ``keys``, in start order; None when more unnamed tasks there claim one of its
        jobs than it has jobs (one of them is something else). Once per window and
        keys: every task of an event has the same (L: up to 60 tasks an event, each
        otherwise walking all the others). The list only grows, so its length and the
        node tell its state, as in :meth:`guests`."""
        key = (tasks[window.start].node, len(tasks), window.start, window.stop, keys)
        if key in self._event_groups:
            return self._event_groups[key]
        shared = dict.fromkeys(keys, 0)  # unnamed tasks nearby started by each of its jobs
        siblings = []  # the tasks started by the same jobs' event
        for j in window:
            other = self._keys(tasks[j], tz)
            if other == keys:
                siblings.append(tasks[j])  # a job with one guest here makes a task named by it
            if tasks[j].vmid is None:
                for k in other:
                    if k in shared:
                        shared[k] += 1
        # more tasks at an event than jobs that ran then: one of them is something else
        found = None
        if not any(n > len(keys) for n in shared.values()):
            found = tuple(sorted(siblings, key=lambda t: (t.starttime, t.pstart, t.upid)))
        self._event_groups[key] = found
        return found

    def scheduled(self, task: TaskInfo, tz: str | None) -> Prediction:
        """The guests of the task's node that the jobs due at its start hold, whatever
        its task id says: a single-guest task (id = its VMID) shows that the other guests
        these jobs hold on the node were not in that run (elsewhere, or in a sibling
        run of the event). None when no job was due (a manual run)."""
        keys = self._keys(task, tz)
        return self._held(task.node, keys) if keys else None

    def may_hold(self, task: TaskInfo, tz: str | None, vmid: int) -> bool:
        """Whether a job due at the task's start includes the guest on some node today
        (or cannot be resolved)."""
        for job_id, _event in self._keys(task, tz):
            per_node = self._holds.get(job_id)
            if per_node is None or any(vmid in held for held in per_node.values()):
                return True
        return False

    def may_hold_any(
        self, tasks: Sequence[TaskInfo], i: int, tz: str | None, vmids: Collection[int]
    ) -> bool:
        """Whether ``tasks[i]`` (one node's list, newest first) may hold one of ``vmids``:
        guests on another node today, whose run of this event a search looks for
        (``guest_search``).

        A task whose id names a guest holds that guest only (pve-manager
        ``PVE/API2/VZDump.pm`` ``vzdump`` names a run by its node's only local guest).
        Otherwise a run holds guests of its job's selection (``PVE/VZDump.pm``
        ``get_included_guests``, placed on the nodes when it starts): it may hold one
        when its job includes one today, wherever that guest is now (a job with
        ``node`` set: one it names, on that node or not). Its job is the one
        :meth:`guests` pairs it with, if every enabled job due then has guests on the
        node today (a node drained since ran jobs it has no guest of now, which the
        pairing does not know); else any job due at its start on its node, enabled or
        not (it may have been disabled since). A run no job was due for (a manual one)
        may hold any guest, as may a job whose selection is unresolved.
        """
        sets = self.holder_sets(tasks, i, tz)
        return sets is None or any(not s.isdisjoint(vmids) for s in sets)

    def holder_sets(
        self, tasks: Sequence[TaskInfo], i: int, tz: str | None
    ) -> tuple[frozenset[int], ...] | None:
        """What :meth:`may_hold_any` tests: ``tasks[i]`` may hold a guest of one of these
        sets (its id's guest, or the guests its jobs include); None: any guest. The same
        until a log is read (it may unpair the task's event) or the list grows, so a
        caller asking for many guests at once may keep it meanwhile."""
        task = tasks[i]
        if task.vmid is not None:
            return (frozenset({task.vmid}),)
        due = self._due_jobs(task, tz or "UTC")
        if not due:
            return None
        paired = self._paired_job(tasks, i, tz, due)
        sets = []
        for job_id in due if paired is None else (paired,):
            included = self._includes.get(job_id)
            if included is None:
                return None
            sets.append(included)
        return tuple(sets)

    def _paired_job(
        self, tasks: Sequence[TaskInfo], i: int, tz: str | None, due: set[str]
    ) -> str | None:
        """The job :meth:`guests` paired ``tasks[i]`` with (job-id order), when the jobs
        it paired among are all the enabled jobs due then (see :meth:`may_hold_any`)."""
        self.guests(tasks, i, tz)
        found = self._paired.get(tasks[i].upid)
        if found is None or (tasks[i].node, found[1]) in self._distrusted:
            return None
        job_id, keys = found
        enabled = {j for j in due if (job := self._jobs.get(j)) is not None and job.enabled}
        return job_id if enabled == {k for k, _event in keys} else None

    def _due_jobs(self, task: TaskInfo, tz: str) -> set[str]:
        """Every job with a schedule (enabled or not) due on the task's node within
        ``TOLERANCE_S`` before its start; pvescheduler runs a job with ``node`` set on
        that node only."""
        key = (task.node, tz)
        found = self._scheduled.get(key)
        if found is None:
            pairs = sorted(
                (t, job.id) for job in self._inventory.jobs
                if job.schedule and job.node in (None, task.node)
                for t in self._job_events(job.schedule, tz)
            )  # fmt: skip
            found = self._scheduled[key] = ([t for t, _ in pairs], [j for _, j in pairs])
        times, ids = found
        lo = bisect_left(times, task.starttime - TOLERANCE_S)
        return set(ids[lo : bisect_right(times, task.starttime)])

    def run_of(self, tasks: Sequence[TaskInfo], i: int, tz: str | None) -> RunPairing:
        """The scheduled job ``tasks[i]`` ran (``tasks``: one node's list, newest first).

        For a run whose log does not say (it died before ``exec_backup`` logged the
        command line). The job whose event started it when it is the only task of the
        node at that event; at an event shared by several jobs, the n-th task started
        runs the n-th job (pvescheduler's job-id order, as in :meth:`guests`), unless
        the event's tasks are more or fewer than its jobs (a manual run close by) or a
        read log showed another job's command line in that place: then it is ambiguous.
        """
        keys = self._keys(tasks[i], tz)
        due = tuple(sorted({job_id for job_id, _event in keys}))
        if not keys:
            missed = self._missed(tasks, i, tz)
            return RunPairing(missed[0] if len(missed) == 1 else None, missed)
        around = [tasks[j] for j in near(tasks, i)]
        siblings = [t for t in around if self._keys(t, tz) == keys]
        claims = Counter(k for t in around for k in self._keys(t, tz))
        if (
            len(siblings) != len(keys)
            or any(claims[k] != len(keys) for k in keys)
            or (tasks[i].node, keys) in self._contradicted
        ):
            return RunPairing(None, due)
        order = sorted(siblings, key=lambda t: (t.starttime, t.pstart, t.upid))
        return RunPairing(sorted(keys)[order.index(tasks[i])][0], due)

    def _missed(self, tasks: Sequence[TaskInfo], i: int, tz: str | None) -> tuple[str, ...]:
        """The jobs with ``repeat-missed`` whose latest event before ``tasks[i]`` passed
        with no task of the node since: pve-manager ``PVE/Jobs.pm`` ``run_jobs`` runs such
        a job at the scheduler's first pass after (the node was down at the event, and
        ``update_last_runtime`` is skipped on the first run), so ``tasks[i]`` may be that
        late run."""
        task = tasks[i]
        others = sorted(t.starttime for t in tasks if t is not task)
        found = []
        for job_id, events in self._node_jobs(task.node, tz or "UTC"):
            job = self._jobs.get(job_id)
            k = bisect_right(events, task.starttime)
            if job is None or not job.repeat_missed or not k:
                continue
            event = events[k - 1]
            j = bisect_left(others, event - TOLERANCE_S)
            if j < len(others) and others[j] <= task.starttime:
                continue  # another task of the node since the event may be the run
            found.append(job_id)
        return tuple(sorted(found))

    def due(self, node: str, tz: str | None) -> list[tuple[int, frozenset[int]]]:
        """The scheduled events of the jobs that hold guests of ``node`` (newest first),
        each with the guests of the node those jobs due then hold."""
        key = (node, tz or "UTC")
        if key not in self._due:
            self._due[key] = self._compute_due(node, tz)
        return self._due[key]

    def _compute_due(self, node: str, tz: str | None) -> list[tuple[int, frozenset[int]]]:
        jobs_at: dict[int, list[str]] = {}
        for job_id, events in self._node_jobs(node, tz or "UTC"):
            per_node = self._holds.get(job_id)
            if per_node is None or not per_node.get(node):
                continue
            for t in events:
                jobs_at.setdefault(t, []).append(job_id)
        out = []
        for t in sorted(jobs_at, reverse=True):
            held = self._held_by_jobs(node, tuple(jobs_at[t]))
            assert held is not None  # jobs with a resolved selection only
            out.append((t, held))
        return out

    def _held(self, node: str, keys: tuple[tuple[str, int], ...]) -> Prediction:
        """The guests on ``node`` the runs of these jobs hold (None: unresolved)."""
        return self._held_by_jobs(node, tuple(job_id for job_id, _event in keys))

    def _held_by_jobs(self, node: str, job_ids: tuple[str, ...]) -> Prediction:
        """One set per node and jobs, shared by every event and task of those jobs (a
        large cluster has tens of thousands of tasks and events, few distinct sets)."""
        key = (node, job_ids)
        if key not in self._held_sets:
            held: set[int] = set()
            for job_id in job_ids:
                per_node = self._holds.get(job_id)
                if per_node is None:
                    self._held_sets[key] = None
                    return None
                held |= per_node.get(node, frozenset())
            self._held_sets[key] = frozenset(held)
        return self._held_sets[key]

    def _keys(self, task: TaskInfo, tz: str | None) -> tuple[tuple[str, int], ...]:
        found = self._matched.get(task.upid)
        if found is None:
            found = self._matched[task.upid] = tuple(self._matches(task, tz or "UTC"))
        return found

    def _matches(self, task: TaskInfo, tz: str) -> list[tuple[str, int]]:
        """(job id, event) of every enabled job whose scheduled event started ``task``:
        each job's latest event at or before the start, if within ``TOLERANCE_S`` of it,
        in the order of :meth:`_node_jobs`."""
        times, owners = self._node_events(task.node, tz)
        start = task.starttime
        lo, hi = bisect_left(times, start - TOLERANCE_S), bisect_right(times, start)
        if lo == hi:
            return []
        latest = {owners[k]: times[k] for k in range(lo, hi)}  # ascending: the last wins
        jobs = self._node_jobs(task.node, tz)
        return [(jobs[j][0], latest[j]) for j in sorted(latest)]

    def _node_events(self, node: str, tz: str) -> tuple[list[int], list[int]]:
        """The events of :meth:`_node_jobs` merged in one ascending list, with the index
        of each one's job: one search per task instead of one per job (L: 17,517 tasks,
        up to 60 jobs a node)."""
        key = (node, tz)
        found = self._merged.get(key)
        if found is None:
            pairs = sorted(
                (t, j) for j, (_job_id, events) in enumerate(self._node_jobs(node, tz))
                for t in events
            )  # fmt: skip
            found = self._merged[key] = ([t for t, _ in pairs], [j for _, j in pairs])
        return found

    def _node_jobs(self, node: str, tz: str) -> list[tuple[str, list[int]]]:
        """The enabled scheduled jobs whose runs make tasks on ``node``, with their events."""
        key = (node, tz)
        found = self._by_node.get(key)
        if found is None:
            found = self._by_node[key] = [
                (job.id, self._job_events(job.schedule, tz))
                for job in self._inventory.jobs
                if job.enabled and job.schedule and job.node in (None, node)
                # a job with no guest on the node makes no task there (unless ``all``)
                and (self._holds.get(job.id) is None or job.id in self._everywhere
                     or node in self._runs_on.get(job.id, ()))
            ]  # fmt: skip
        return found

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
            t = next_event(event, self._since - TOLERANCE_S - 1, tz)
            while t is not None and t <= self._now and len(found) < _MAX_EVENTS:
                found.append(t)
                t = next_event(event, t, tz)
            self._events[key] = found
        return found


def runs_job(command: VzdumpCommand, job: BackupJob) -> bool:
    """Whether a logged vzdump command line is a run of ``job``: same selection (the
    branch PVE takes, and its pool, VMIDs or excluded VMIDs) and same storage."""
    branch = pve_selection(command.pool, ",".join(command.vmids) or None, command.all,
                           command.exclude)  # fmt: skip
    if branch != job.selection or command.storage != job.storage:
        return False
    if branch is Selection.POOL:
        return command.pool == job.pool
    if branch is Selection.VMID:
        return frozenset(command.vmids) == _ids(job.vmid_raw)
    return _ids(command.exclude) == _ids(job.exclude_raw)


@lru_cache(maxsize=1024)
def _ids(raw: str | None) -> frozenset[str]:
    """A VMID list as a set: the same few lists (jobs' and their runs') every log."""
    return frozenset(split_vmid_list(raw))


def near(tasks: Sequence[TaskInfo], i: int) -> range:
    """Indexes of the tasks (sorted newest first) started within ``TOLERANCE_S`` of
    ``tasks[i]``, itself included."""
    start = tasks[i].starttime
    lo = i
    while lo > 0 and tasks[lo - 1].starttime - start <= TOLERANCE_S:
        lo -= 1
    hi = i + 1
    while hi < len(tasks) and start - tasks[hi].starttime <= TOLERANCE_S:
        hi += 1
    return range(lo, hi)
