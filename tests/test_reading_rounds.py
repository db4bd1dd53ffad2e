"""How many rounds of reading the task history takes: the runs a guest's history needs
are read together when what is known says the walk would read them all anyway.

* **A guest failing since its newest snapshot.** PBS lists its newest snapshot with its
  ``ctime``, the ``backup-time`` of that guest's backup (pve-storage
  ``PVE/Storage/PBSPlugin.pm`` ``list_volumes``), set when vzdump started it (pve-manager
  ``PVE/VZDump.pm`` ``exec_backup_task``). No run started after that made it, so every
  such run that may hold the guest is read in one round (``_Reader._failing_since``).
* **A guest in no run.** A search that found it in no node's run of the event of a home
  run that left it out (``guest_search``) keeps it walking: its job's older runs are read
  in one round (``_Reader._hunted``).

The same logs are read, fewer rounds one after another; a snapshot that is gone costs
logs, never a different result.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from builders import (
    LogGuest,
    backup,
    pbs_storage,
    scenario,
    sim_guest,
    sim_node,
    vzdump_job,
    vzdump_run,
    vzdump_task,
)
from pve_backup_report.analysis.coverage import analyse_coverage
from pve_backup_report.analysis.pbs_content import PbsContent, parse_content
from pve_backup_report.collect.backup_sources import BackupSources
from pve_backup_report.collect.inventory import collect_inventory
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.tasks import (
    HistoryCollection,
    HistoryOptions,
    NewestSnapshot,
    collect_history,
)
from pve_backup_report.config import Secret, Settings
from pve_backup_report.model import GuestType
from pve_backup_report.pipeline import _NewestSnapshots
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = parse_timestamp("2026-11-20T12:00:00Z")  # a Friday
DAY = 86400
NIGHT = NOW - DAY + 9 * 3600  # Thu 21:00, the daily job's newest run
NIGHTS = 6


def _run(results: dict[int, bool], start: int) -> dict[str, Any]:
    """A 60 s run on pve1; a guest mapped to False failed (broken pipe)."""
    guests = [LogGuest(v, error=None if ok else "broken pipe") for v, ok in results.items()]
    return vzdump_run(guests, start=start, end=start + 60, end_stamps=False, summary=False)


def _scenario(failing: int, guests: tuple[int, ...] = (100, 101)) -> Scenario:
    """``guests`` in the daily job; six nightly runs hold 100 and 101, and 101 failed in
    the ``failing`` newest of them."""
    runs = [_run({100: True, 101: d >= failing}, NIGHT - d * DAY) for d in range(NIGHTS)]
    return Scenario.from_dict(
        scenario(
            now=NOW,
            guests=[sim_guest(v) for v in guests],
            jobs=[vzdump_job("daily", vmid=",".join(map(str, guests)))],
            tasks=runs,
        )
    )


def _history(
    sim: Simulator, newest_snapshot: NewestSnapshot | None
) -> tuple[HistoryCollection, int]:
    """The history as a cold run collects it, and its rounds of reading."""
    settings = Settings(
        hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
    )
    said: list[str] = []
    with PveClient(settings) as client:
        inventory = collect_inventory(client, settings.backup_jobs_endpoint, 4)
        coverage = analyse_coverage(inventory, settings.ignore, NOW)
        got = collect_history(
            client, inventory, coverage, NOW, HistoryOptions(15), None, said.append,
            newest_snapshot=newest_snapshot,
        )  # fmt: skip
    return got, sum(m.startswith("task logs:") for m in said)


def _snapshots(starts: dict[int, int]) -> NewestSnapshot:
    """What PBS lists: each guest's newest snapshot, 30 s into the run at ``starts``."""

    def newest(vmid: int, guest_type: GuestType) -> int | None:
        return starts[vmid] + 30 if vmid in starts and guest_type == "qemu" else None

    return newest


def _latest(got: HistoryCollection) -> dict[int, tuple[Any, ...]]:
    return {
        v: (
            h.last_backup.status if h.last_backup else None,
            h.last_backup.started if h.last_backup else None,
            h.last_success.started if h.last_success else None,
        )
        for v, h in got.histories.items()
    }


def test_a_guest_failing_since_its_snapshot_has_its_runs_read_in_one_round() -> None:
    with Simulator(_scenario(failing=4), tls=False) as sim:
        walked, walked_rounds = _history(sim, None)
        hinted, rounds = _history(sim, _snapshots({100: NIGHT, 101: NIGHT - 4 * DAY}))
    # the newest run, the three failed before it and the success: the same five logs
    assert walked.logs_fetched == hinted.logs_fetched == 5
    assert (walked_rounds, rounds) == (5, 1)
    assert _latest(hinted) == _latest(walked)
    assert _latest(hinted)[101] == ("failed", NIGHT, NIGHT - 4 * DAY)


def test_a_success_whose_snapshot_is_gone_costs_a_log_not_a_result() -> None:
    """The newest snapshot PBS lists is older than the newest success (that snapshot was
    deleted by hand): one run more is read, the result is the log's."""
    with Simulator(_scenario(failing=4), tls=False) as sim:
        walked, _ = _history(sim, None)
        hinted, rounds = _history(sim, _snapshots({100: NIGHT, 101: NIGHT - 5 * DAY}))
    assert hinted.logs_fetched == walked.logs_fetched + 1
    assert rounds == 1
    assert _latest(hinted) == _latest(walked)
    assert _latest(hinted)[101] == ("failed", NIGHT, NIGHT - 4 * DAY)


def test_a_guest_in_no_run_has_its_jobs_runs_read_together() -> None:
    """102 joined the job after the newest run: in no run, its walk reads every run of
    its job to the window's start, no longer one round after another."""
    with Simulator(_scenario(failing=0, guests=(100, 101, 102)), tls=False) as sim:
        got, rounds = _history(sim, None)
    assert got.logs_fetched == NIGHTS  # each run may hold 102: all are read
    assert 102 not in got.histories
    assert rounds == 2  # the newest run; once its search found 102 nowhere, the others


def _moved_night(day: int) -> int:
    return parse_timestamp(f"2026-11-{day:02d}T21:00:00Z")


def _moved_and_failed() -> Scenario:
    """Job ``daily`` (vmid 100,101) at 21:00 on pve1 and pve2. Nov 10-17 both guests on
    pve1; Nov 18 both on pve2, so pve1 makes no task (pve-manager ``PVE/API2/VZDump.pm``
    ``vzdump`` skips a node without a local guest of a vmid job): an absence; Nov 19
    100 back on pve1, 101 still on pve2, where it fails; this morning 101 back on pve1."""
    tasks = []
    for day in range(10, 20):
        where = {100: "pve1", 101: "pve1"} if day <= 17 else {100: "pve2", 101: "pve2"}
        if day == 19:
            where = {100: "pve1", 101: "pve2"}
        for i, node in enumerate(("pve1", "pve2")):
            local = sorted(v for v, n in where.items() if n == node)
            if not local:
                continue
            recipe: dict[str, Any] = {
                "job": "daily", "vmids": local,
                "external": sorted(v for v, n in where.items() if n != node),
            }  # fmt: skip
            if (day, node) == (19, "pve2"):
                recipe["failures"] = [{"vmid": 101, "error": "broken pipe"}]
            tasks.append(vzdump_task(node=node, start=_moved_night(day) + 2 + i, log_recipe=recipe))
    return Scenario.from_dict(
        scenario(
            now=NOW,
            nodes=[sim_node("pve1"), sim_node("pve2")],
            storages=[pbs_storage()],
            guests=[sim_guest(100), sim_guest(101)],
            jobs=[vzdump_job("daily", vmid="100,101")],
            tasks=tasks,
        )
    )


def test_a_guest_kept_walking_starts_no_search_from_an_older_event() -> None:
    """Found by review: 101's newest snapshot (Nov 18, pve2) is older than pve1's unread
    run of Nov 19, so that run is not taken as holding it and the walk goes on; the
    older absence of Nov 18 must not start 101's search first. A search that found it
    there would stop any newer one (``CrossNodeSearch.may_start``: searches go newest
    event first), and its failure on pve2 on Nov 19 would never be read: the verdict
    would be an older success."""
    hint = {100: _moved_night(19) + 40, 101: _moved_night(18) + 40}

    def newest(vmid: int, guest_type: GuestType) -> int | None:
        return hint.get(vmid)

    with Simulator(_moved_and_failed(), tls=False) as sim:
        walked, _ = _history(sim, None)
        hinted, _ = _history(sim, newest)
    assert _latest(hinted) == _latest(walked)
    h = hinted.histories[101]
    assert h.last_backup is not None and h.last_success is not None
    assert (h.last_backup.status, h.last_backup.node) == ("failed", "pve2")
    assert h.last_backup.started is not None and h.last_backup.started >= _moved_night(19)
    assert h.last_success.node == "pve2" and h.last_success.started is not None
    assert _moved_night(18) <= h.last_success.started < _moved_night(19)


def _sources(content: PbsContent | None) -> BackupSources:
    return BackupSources(content=content, spaces=(), anomalies=())


def test_the_snapshots_are_used_once_read_and_never_waited_for() -> None:
    """The pipeline reads the PBS content beside the history (``_history_and_sources``):
    before it is read, the history walks as it would without it; so it does when a PBS
    storage a job writes to could not be read (a newer snapshot may be there)."""
    content = PbsContent(
        {"pbs": parse_content("pbs", [backup(101, ctime=NIGHT + 30) | _VOLID])}, ()
    )
    pending: Future[BackupSources] = Future()
    newest = _NewestSnapshots(pending, frozenset({"pbs"}))
    assert newest(101, "qemu") is None  # not read yet
    pending.set_result(_sources(content))
    assert newest(101, "qemu") == NIGHT + 30
    assert newest(101, "lxc") is None and newest(100, "qemu") is None  # typed groups
    read: Future[BackupSources] = Future()
    read.set_result(_sources(content))
    assert _NewestSnapshots(read, frozenset({"pbs", "pbs2"}))(101, "qemu") is None
    unread: Future[BackupSources] = Future()
    unread.set_result(_sources(None))
    assert _NewestSnapshots(unread, frozenset({"pbs"}))(101, "qemu") is None
    failed: Future[BackupSources] = Future()
    failed.set_exception(RuntimeError("no PBS"))
    assert _NewestSnapshots(failed, frozenset({"pbs"}))(101, "qemu") is None


_VOLID = {
    "volid": "pbs:backup/vm/101/2026-11-19T21:00:30Z",
    "content": "backup",
    "format": "pbs-vm",
    "subtype": "qemu",
    "size": 1 << 30,
}
