"""Where a migrated guest's results are: the other nodes' runs of the same event (pure).

pve-manager ``PVE/VZDump.pm`` ``get_included_guests`` assigns the guests a job selects to
the nodes they are on **when the job runs**; the ``vzdump`` API worker
(``PVE/API2/VZDump.pm``) backs up the local ones and logs the others as
``skip external VMs``. A guest's results are therefore in the logs of the node it was on
at each run, which after a migration (a node drained for maintenance, HA recovery) is
not the node it is on now.

The history reader (``collect_tasks``) reads a guest's results on its current node (its
"home"). This module tells it where else to look, without reading every node's logs:

* **Evidence.** A run of the home node that was predicted to hold the guest
  (``task_selection``), that really ran (its log has the vzdump command line: not a run
  that died before any guest), and of which neither it nor another home task of the same
  event holds the guest, none of those having died before any guest: the guest was
  elsewhere at that run (or did not exist yet). A single-guest run (its task id names
  its only guest) is judged against what its jobs hold on the node, not its id.
* **Search.** The tasks of the other nodes started within ``TOLERANCE_S`` of that run
  (the same pvescheduler event) that may hold the guest are read; whichever holds the
  guest holds its result of that event. A task may hold it unless its id names another
  guest (``PVE/API2/VZDump.pm`` ``vzdump`` names a run by its node's only guest) or no
  job that includes the guest today was due at its start on its node
  (``TaskPredictor.may_hold_any``: a run's guests are its job's selection,
  ``get_included_guests``, placed when it starts). A run of a job whose selection
  changed since, or that was deleted, is not searched: the guest is then found nowhere,
  which errs towards an older success or none. While a search runs, the reader counts
  the guest as resolved there, so it reads no older home log for it.
* **Walk back.** A search that finds the guest lets the reader go on (an older home run
  it is missing from starts the next search) until the guest has a success. A search
  that finds the guest on no node stops the cross-node search for that guest: it was in
  no run of that event (a new guest, or one added to the job since), so older events are
  not searched either (its home node's history is still read as before).

One search per guest at a time, newest event first. A success found on another node
also bounds the home node's reading, by time: a home task that ended before that
success started cannot hold a newer result (the node lock argument of ``collect_tasks``
does not hold across nodes, so the success's start is used, not its task's end).

* **Dead runs.** A search started by a home run that left the guest out and that finds
  it in no node's run, while another node's run of that event died before any guest
  (of a job that includes it, and not a single-guest run of another guest: its task
  id names its only guest), tells that the guest was on that node then: it failed
  with that run (``collect_tasks``). A search started by an absence does not (the home
  node may have been down).
* **Absence.** A job due at an event (its schedule, in the node's time zone) for which
  the guest's home node started no task at all is evidence too: a ``vmid`` or pool job
  makes no task on a node where it selects no guest (``PVE/API2/VZDump.pm`` ``vzdump``
  skips nodes without local guests unless ``all`` is set), which is what happens when
  the guest was moved onto the node after that run. Such events are taken in time order
  with the home runs, newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from pve_backup_report.analysis.history import GuestBackupResult, TaskInfo
from pve_backup_report.collect.task_selection import TOLERANCE_S, Prediction, near

# whether a task's log is known, the VMIDs it holds results for (None: unusable), and
# whether the run got as far as its command line (not dead before any guest)
Outcome = Callable[[TaskInfo], tuple[bool, frozenset[int] | None, bool]]


class CrossNodeSearch:
    """Bookkeeping of the searches (see the module docstring); the reader does the I/O."""

    def __init__(self, home: Mapping[int, str]) -> None:
        self.home = home  # judged guest -> the node it is on now
        self.elsewhere: dict[int, int] = {}  # guest -> start of its newest success elsewhere
        self.searching: dict[int, int] = {}  # guest -> start of the home run it was missing from
        self.found_at: dict[int, int] = {}  # guest -> start of the last run searched with success
        self.stopped: set[int] = set()  # guests found in no node's run of a searched event
        # ... and the start of the home run that left it out (not an event the home node
        # made no run for: that node may have been down)
        self.stopped_at: dict[int, int] = {}
        self._absent: set[int] = set()  # guests searched for an event with no home run
        # (guest, event) of each search started or ended: the reader plans again only the
        # nodes these concern. A success noted elsewhere is not in it: it only ever
        # resolves a guest sooner, so a plan that took nothing would take nothing again.
        self.journal: list[tuple[int, int]] = []
        self._settled = 0  # the journal's length at the last ``settle``
        self._by_event: dict[int, list[int]] | None = None  # ``_events``, rebuilt on changes

    def note(self, results: Iterable[GuestBackupResult], task_start: int) -> None:
        """Results read or taken from the cache: successes away from home count."""
        for r in results:
            home = self.home.get(r.vmid)
            if home is None or home == r.node or not r.is_success:
                continue
            start = r.started if r.started is not None else task_start
            if start > self.elsewhere.get(r.vmid, -1):
                self.elsewhere[r.vmid] = start

    def resolved(self, wanted: Collection[int]) -> dict[int, int]:
        """Home guests settled elsewhere (a success, or a search under way), with the time
        before which a home task cannot hold a newer result."""
        out: dict[int, int] = {}
        for v in wanted:
            times = [t for t in (self.elsewhere.get(v), self.searching.get(v)) if t is not None]
            if times:
                out[v] = max(times)
        return out

    def evidence(
        self,
        tasks: Sequence[TaskInfo],
        i: int,
        held: frozenset[int],
        candidates: Collection[int],
        prediction: Prediction,
        outcome: Outcome,
        ran: bool,
        predict: Callable[[int], Prediction],
    ) -> set[int]:
        """Guests of ``candidates`` (home guests still lacking a success) for which the
        known home task ``tasks[i]`` starts a search; they count as resolved from now."""
        task = tasks[i]
        if not ran or prediction is None or task.is_running:
            return set()
        missing = {
            v
            for v in prediction.intersection(candidates)
            if v not in held and self.may_start(v, task.starttime)
        }
        if not missing:
            return set()
        for j in near(tasks, i):  # another run of the same event may hold them
            known, others, other_ran = outcome(tasks[j])
            if not known:
                may = predict(j)
                if may is None or may & missing:
                    return set()  # read it first (it is predicted to hold them too)
                continue  # another job's run, predicted to hold none of them
            if not other_ran:
                if tasks[j].vmid is not None:
                    # a single-guest run (pve-manager ``PVE/API2/VZDump.pm`` ``vzdump``
                    # names the task by its one local guest) that died: that guest was here
                    missing.discard(tasks[j].vmid)
                    continue
                # a run of the event died before any guest (its log names none): the
                # missing guests may be that job's; no evidence they were elsewhere
                return set()
            missing -= others or frozenset()
        self._absent -= missing
        return self._start(missing, task.starttime)

    def may_start(self, vmid: int, start: int) -> bool:
        """Whether a run started at ``start`` that left the guest out would start a search
        (none under way, none that found it nowhere, none already as old)."""
        return (
            vmid not in self.stopped
            and vmid not in self.searching
            and start < self.found_at.get(vmid, start + 1)
        )

    def absent(self, event: int, guests: Collection[int], candidates: Collection[int]) -> set[int]:
        """Guests of ``candidates`` (home guests still lacking a success) that a job due
        at ``event`` holds on their home node, where that node started no task for the
        event: the job ran elsewhere only, so they were elsewhere then (or did not exist
        yet). They are searched like the guests a home run left out."""
        missing = {v for v in guests if v in candidates and self.may_start(v, event)}
        self._absent |= missing
        return self._start(missing, event)

    def _start(self, missing: set[int], start: int) -> set[int]:
        for v in missing:
            self.searching[v] = start
            self.journal.append((v, start))
            self._by_event = None
        return missing

    def searched_near(self, node: str, start: int) -> set[int]:
        """The guests searched at the event of a run of ``node`` started at ``start``
        (within ``TOLERANCE_S``); a node's own runs are not searched for its own guests.
        Which of its runs may hold them is the reader's question (``collect_tasks``)."""
        return {
            v
            for t, guests in self._events().items()
            if abs(start - t) <= TOLERANCE_S
            for v in guests
            if self.home[v] != node
        }

    def oldest_wanted(self, node: str) -> int | None:
        """The oldest searched run start the node's task list must reach back to."""
        times = [
            t for t, guests in self._events().items() if any(self.home[v] != node for v in guests)
        ]
        return min(times) - TOLERANCE_S if times else None

    def _events(self) -> dict[int, list[int]]:
        """The runs being searched (their start) and the guests searched there."""
        if self._by_event is None:
            self._by_event = {}
            for v, t in self.searching.items():
                self._by_event.setdefault(t, []).append(v)
        return self._by_event

    def settle(self, complete: Callable[[int, str, int], bool | None]) -> bool:
        """End the searches whose runs are all known. ``complete(start, home, vmid)``
        tells whether another node's run near ``start`` holds the guest, None while one
        that may hold it is unknown.
        True when a search started or ended since the last call (the reader plans again)."""
        for v, t in list(self.searching.items()):
            found = complete(t, self.home[v], v)
            if found is None:
                continue
            del self.searching[v]
            self.journal.append((v, t))
            self._by_event = None
            if found:
                self.found_at[v] = t
            else:
                self.stopped.add(v)
                if v not in self._absent:
                    self.stopped_at[v] = t
        changed = len(self.journal) > self._settled
        self._settled = len(self.journal)
        return changed
