"""``collect/guest_search.py`` on its own: when a home run that left a guest out starts
the search of the other nodes' runs of its event."""

from __future__ import annotations

from pve_backup_report.analysis.history import TaskInfo
from pve_backup_report.collect.guest_search import CrossNodeSearch
from pve_backup_report.pve.upid import Upid, format_upid

EVENT = 1_795_122_001  # a 21:00 event; both runs of pve1 started in that second


def _task(pid: int, taskid: str, status: str) -> TaskInfo:
    upid = format_upid(Upid("pve1", pid, 0x98D19F + pid, EVENT, "vzdump", taskid, "root@pam"))
    return TaskInfo(upid, "pve1", EVENT, EVENT + 60, status, "vzdump", taskid, "root@pam")


PROD = _task(0x1537, "", "OK")  # the pool job's run: 100 and 101 (105 is missing)
SOLO = _task(0x3E8, "247", "could not activate storage 'pbs'")  # died before any guest
TASKS = [PROD, SOLO]  # newest first: the same second, PROD's UPID sorts higher


def _evidence(solo_known: bool) -> set[int]:
    search = CrossNodeSearch({100: "pve1", 101: "pve1", 105: "pve1"})

    def outcome(task: TaskInfo) -> tuple[bool, frozenset[int] | None, bool]:
        if task is PROD:
            return True, frozenset({100, 101}), True
        return (True, frozenset(), False) if solo_known else (False, None, False)

    return search.evidence(
        TASKS, 0, frozenset({100, 101}), {105}, frozenset({100, 101, 105}), outcome,
        ran=True, predict=lambda j: frozenset({247}) if TASKS[j] is SOLO else None,
    )  # fmt: skip


def test_a_dead_single_guest_run_beside_does_not_hide_a_missing_guest() -> None:
    """pve-manager ``PVE/API2/VZDump.pm`` ``vzdump`` names a task by its one local guest
    (``$taskid = $local_vmids->[0] if scalar(@{$local_vmids}) == 1``): ``solo``'s run
    (task id ``247``) held 247 alone, even when it died before logging its command
    line. It cannot have held 105, which ``prod``'s run beside it left out: the search
    of the other nodes' runs of that event starts, whether the dead log is unread (a
    cold run: predicted to hold 247 only) or known (cached, or read for 247's own
    search). It used to start only in the first case, so a warm run searched an older
    event than the cold one and read logs the cold run had not."""
    assert _evidence(solo_known=False) == {105}
    assert _evidence(solo_known=True) == {105}


def test_a_dead_run_of_several_guests_beside_may_have_held_the_missing_guest() -> None:
    """A run whose task id is empty (several local guests) that died before any guest:
    105 may have been one of them (pve-manager ``PVE/VZDump.pm`` ``get_included_guests``
    is not logged), so it is no evidence that 105 was elsewhere."""
    dead_multi = _task(0x3E8, "", "could not activate storage 'pbs'")
    search = CrossNodeSearch({100: "pve1", 101: "pve1", 105: "pve1"})
    found = search.evidence(
        [PROD, dead_multi], 0, frozenset({100, 101}), {105}, frozenset({100, 101, 105}),
        lambda t: (True, frozenset({100, 101}), True) if t is PROD else (True, frozenset(), False),
        ran=True, predict=lambda j: None,
    )  # fmt: skip
    assert found == set()
