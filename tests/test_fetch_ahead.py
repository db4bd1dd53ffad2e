"""The logs a failing or new guest's walk needs are fetched ahead, not one round after
another, and what the history finds is unchanged (collect/tasks.py
``_Reader._fetch_ahead``).

An unread run is taken as holding each guest predicted for it until it is read, so a
guest that no run gives a success walks back one run per round: a guest failing for six
nights cost six rounds of round trips. Its older runs are now fetched beside the first
one, and still parsed, one round after another, only when a plan takes them.

The upstream behaviour relied on:

* a PBS snapshot's ``ctime`` is its ``backup-time`` (pve-storage
  ``PVE/Storage/PBSPlugin.pm`` ``list_volumes``), set when vzdump starts that guest's
  backup (pve-manager ``PVE/VZDump.pm`` ``exec_backup_task``): a run started after a
  guest's newest snapshot did not make it;
* pve-manager ``PVE/VZDump.pm`` ``get_included_guests`` picks a run's guests when it
  starts: a guest that joined its job today is in no older run.

The snapshots given to the history here are the scenario's own (the test's model), not
what the plugin derives; the pipeline's wiring is checked end to end with the content
PVE serves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from builders import backup, pbs_storage, scenario, sim_guest, sim_node, vzdump_job, vzdump_task
from pve_backup_report.analysis.coverage import analyse_coverage
from pve_backup_report.collect.http import Answer
from pve_backup_report.collect.inventory import collect_inventory
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.tasks import (
    HistoryCollection,
    HistoryOptions,
    SnapshotHint,
    collect_history,
)
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.pve.upid import parse_upid
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = parse_timestamp("2026-11-20T12:00:00Z")
HOLD = 5.0


def _night(day: int) -> int:
    return parse_timestamp(f"2026-11-{day:02d}T21:00:00Z")


def _day(start: int) -> int:
    return (start - _night(1)) // 86400 + 1


def _runs(days: range, vmids: list[int], failed: dict[int, list[int]]) -> list[dict[str, Any]]:
    """Job ``daily`` on pve1 each night of ``days`` with ``vmids``; ``failed``: night ->
    the guests that failed then."""
    tasks = []
    for day in days:
        recipe: dict[str, Any] = {"job": "daily", "vmids": vmids}
        if failed.get(day):
            recipe["failures"] = [{"vmid": v, "error": "broken pipe"} for v in failed[day]]
        tasks.append(vzdump_task(start=_night(day) + 2, log_recipe=recipe))
    return tasks


def _cluster(tasks: list[dict[str, Any]], vmids: list[int], snapshots: dict[int, int]) -> Scenario:
    return Scenario.from_dict(
        scenario(
            now=NOW,
            # the rights that list the backups (docs/proxmox-setup.md, the PBS content
            # trade-off: pve-storage ``check_volume_access``)
            privileges={"/": ["PVEAuditor", "Datastore.Allocate"]},
            nodes=[sim_node("pve1")],
            storages=[pbs_storage()],
            guests=[sim_guest(v) for v in vmids],
            jobs=[vzdump_job("daily", vmid=",".join(map(str, vmids)))],
            tasks=tasks,
            backups=[backup(v, ctime=t, storage="pbs") for v, t in snapshots.items()],
        )
    )


def _hint(snapshots: dict[int, int]) -> SnapshotHint:
    """The newest snapshot of each guest, as the scenario holds them (all qemu)."""
    return lambda: {(vmid, "qemu"): start for vmid, start in snapshots.items()}


class LogWatch:
    """The nights of the task logs asked, in order. The log of night ``hold`` waits (at
    most ``HOLD`` seconds) until the logs of every night of ``beside`` are asked too:
    when they are fetched ahead it goes on at once (``met``); when each waits for the
    round after the held one, they cannot be asked while it waits, and ``met`` stays
    unset."""

    def __init__(self, client: PveClient, hold: int, beside: set[int]) -> None:
        self.nights: list[int] = []
        self.met = threading.Event()
        self.in_time = False  # the held log went on because the others were asked
        self.content_answered = threading.Event()
        lock = threading.Lock()
        transport = client._transport
        real = transport.get

        def get(url: str, headers: Any) -> Answer:
            if "/content" in url:
                try:
                    return real(url, headers)
                finally:
                    self.content_answered.set()
            if "/log" not in url:
                return real(url, headers)
            night = _day(parse_upid(unquote(url.split("/tasks/")[1].split("/log")[0])).starttime)
            with lock:
                self.nights.append(night)
                if beside <= set(self.nights):
                    self.met.set()
            if night == hold:
                self.in_time = self.met.wait(HOLD)
            return real(url, headers)

        transport.get = get  # type: ignore[method-assign]


def _settings(sim: Simulator) -> Settings:
    return Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        request_timeout=HOLD * 3,
    )


def _history(
    sim: Simulator, hint: SnapshotHint | None, watch: Callable[[PveClient], Any]
) -> HistoryCollection:
    settings = _settings(sim)
    with PveClient(settings) as client:
        watch(client)
        inventory = collect_inventory(client, settings.backup_jobs_endpoint, 4)
        coverage = analyse_coverage(inventory, settings.ignore, NOW)
        return collect_history(client, inventory, coverage, NOW, HistoryOptions(15), snapshots=hint)


def _latest(got: HistoryCollection) -> dict[int, Any]:
    out = {}
    for v, h in got.histories.items():
        lb, ls = h.last_backup, h.last_success
        out[v] = (
            (lb.status, _day(lb.started)) if lb and lb.started else None,
            _day(ls.started) if ls and ls.started else None,
        )
    return out


def _with_and_without(
    cluster: Scenario, snapshots: dict[int, int], hold: int, beside: set[int]
) -> tuple[HistoryCollection, LogWatch, HistoryCollection, LogWatch]:
    watches: list[LogWatch] = []

    def watch(client: PveClient) -> None:
        watches.append(LogWatch(client, hold, beside))

    with Simulator(cluster, tls=False) as sim:
        ahead = _history(sim, _hint(snapshots), watch)
        plain = _history(sim, None, watch)
    return ahead, watches[0], plain, watches[1]


def test_a_guest_failing_for_nights_has_its_older_runs_fetched_beside_the_newest() -> None:
    """101 failed every night since Nov 14; its newest snapshot is Nov 13's. Its runs
    of Nov 18 down to Nov 13 are asked while Nov 19's is, not one a round; the same
    logs are read, and the same results found."""
    failing = {d: [101] for d in range(14, 20)}
    snapshots = {100: _night(19) + 60, 101: _night(13) + 90}
    cluster = _cluster(_runs(range(6, 20), [100, 101], failing), [100, 101], snapshots)
    ahead, watch, plain, plain_watch = _with_and_without(
        cluster, snapshots, hold=19, beside=set(range(13, 20))
    )
    assert watch.in_time, f"asked: {watch.nights}"
    assert not plain_watch.in_time, "without the snapshots, one run a round"
    assert sorted(watch.nights) == sorted(plain_watch.nights) == list(range(13, 20))
    assert _latest(ahead) == _latest(plain)
    assert _latest(ahead)[101] == (("failed", 19), 13)
    assert ahead.anomalies == plain.anomalies
    assert ahead.logs_fetched == plain.logs_fetched == 7


def test_a_guest_in_no_run_has_the_runs_of_the_window_fetched_from_its_second_round() -> None:
    """103 joined the job this morning: no run holds it, and it has no snapshot. Its
    first run read may have held it (it is read alone); from the second, every older
    run of the window is asked beside it. Same logs, same results."""
    snapshots = {100: _night(19) + 60}
    cluster = _cluster(_runs(range(6, 20), [100], {}), [100, 103], snapshots)
    ahead, watch, plain, plain_watch = _with_and_without(
        cluster, snapshots, hold=18, beside=set(range(6, 19))
    )
    assert watch.in_time, f"asked: {watch.nights}"
    assert not plain_watch.in_time
    assert watch.nights[0] == 19  # alone: the guest may have been in it
    assert sorted(watch.nights) == sorted(plain_watch.nights) == list(range(6, 20))
    assert _latest(ahead) == _latest(plain)
    assert 103 not in ahead.histories
    assert ahead.anomalies == plain.anomalies


def test_a_snapshot_that_is_not_the_newest_success_changes_nothing() -> None:
    """101's newest snapshot is Nov 9's (its later ones deleted by hand): its runs are
    fetched down to Nov 9, but only those its walk takes are read; Nov 19's success
    stands. A log fetched ahead for nothing costs a request, never a result."""
    snapshots = {100: _night(19) + 60, 101: _night(9) + 90}
    cluster = _cluster(_runs(range(6, 20), [100, 101], {}), [100, 101], snapshots)
    ahead, watch, plain, plain_watch = _with_and_without(
        cluster, snapshots, hold=19, beside=set(range(9, 20))
    )
    assert watch.in_time, f"asked: {watch.nights}"
    assert plain_watch.nights == [19]
    assert _latest(ahead) == _latest(plain)
    assert _latest(ahead)[101] == (("ok", 19), 19)
    assert ahead.logs_fetched == plain.logs_fetched == 1


def test_the_check_fetches_ahead_with_the_content_pve_serves(tmp_path: Any) -> None:
    """End to end: the PBS content read beside the history gives the snapshots. The log
    of Nov 19 waits until the content is answered, so the plan of Nov 18 has them; then
    101's runs of Nov 17 down to Nov 13 are asked while Nov 18's is."""
    failing = {d: [101] for d in range(14, 20)}
    snapshots = {100: _night(19) + 60, 101: _night(13) + 90}
    cluster = _cluster(_runs(range(6, 20), [100, 101], failing), [100, 101], snapshots)
    with Simulator(cluster, tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            request_timeout=HOLD * 3,
            cache_file=str(tmp_path / "cache.json"),
        )
        with PveClient(settings) as client:
            watch = LogWatch(client, hold=18, beside=set(range(13, 19)))
            real = client._transport.get

            def first_after_content(url: str, headers: Any) -> Answer:
                if "/log" in url and not watch.nights:
                    watch.content_answered.wait(HOLD)
                return real(url, headers)

            client._transport.get = first_after_content  # type: ignore[method-assign]
            result = run_assessment(settings, RunOptions(now=NOW), client)
    assert watch.in_time, f"asked: {watch.nights}"
    assert sorted(watch.nights) == list(range(13, 20))
    status = {s.guest.vmid: s for s in result.guests}[101]
    last, success = status.last_backup, status.last_success
    assert last is not None and success is not None
    assert last.started is not None and success.started is not None
    assert (last.status, _day(last.started), _day(success.started)) == ("failed", 19, 13)
