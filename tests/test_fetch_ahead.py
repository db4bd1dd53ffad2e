"""The logs a failing or new guest's walk needs are fetched ahead, not one round after
another, and what the history finds is unchanged (collect/tasks.py
``_Reader._fetch_ahead``).

An unread run is taken as holding each guest predicted for it until it is read, so a
guest that no run gives a success walks back one run per round: a guest failing for six
nights cost six rounds of round trips. Its older runs are now fetched beside the first
one, and still parsed, one round after another, only when a plan takes them.

The upstream behaviour relied on:

* a PBS snapshot's ``ctime`` is its ``backup-time`` (pve-storage
  ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes``), set when vzdump starts that guest's
  backup (pve-manager ``PVE/VZDump.pm`` ``exec_backup_task``): a run started after a
  guest's newest snapshot did not make it;
* pve-manager ``PVE/VZDump.pm`` ``get_included_guests`` picks a run's guests when it
  starts: a guest that joined its job today is in no older run;
* pve-storage ``src/PVE/API2/Storage/Content.pm`` ``index`` drops each volume
  ``check_volume_access`` refuses: a token without ``Datastore.Allocate`` (or
  ``Datastore.AllocateSpace`` and ``VM.Backup``) sees an empty list, which says nothing
  of the guests' snapshots.

The snapshots given to the history here are the scenario's own (the test's model), not
what the plugin derives; the pipeline's wiring is checked end to end with the content
PVE serves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from builders import (
    backup,
    night,
    pbs_storage,
    scenario,
    sim_guest,
    sim_node,
    vzdump_job,
    vzdump_task,
)
from pve_backup_report import pipeline
from pve_backup_report.analysis.assess import Assessment, pbs_storages_in_use
from pve_backup_report.analysis.coverage import analyse_coverage
from pve_backup_report.collect import tasks
from pve_backup_report.collect.http import Answer
from pve_backup_report.collect.inventory import collect_inventory
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.storage_content import collect_pbs_content
from pve_backup_report.collect.tasks import (
    HistoryCollection,
    HistoryOptions,
    PbsSnapshots,
    SnapshotHint,
    collect_history,
)
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.pve.upid import parse_upid
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator, generate
from pve_sim.generate import generate_scenario

NOW = parse_timestamp("2026-11-20T12:00:00Z")
HOLD = 5.0


def _day(start: int) -> int:
    return (start - night(1)) // 86400 + 1


def _runs(days: range, vmids: list[int], failed: dict[int, list[int]]) -> list[dict[str, Any]]:
    """Job ``daily`` on pve1 each night of ``days`` with ``vmids``; ``failed``: night ->
    the guests that failed then."""
    tasks = []
    for day in days:
        recipe: dict[str, Any] = {"job": "daily", "vmids": vmids}
        if failed.get(day):
            recipe["failures"] = [{"vmid": v, "error": "broken pipe"} for v in failed[day]]
        tasks.append(vzdump_task(start=night(day) + 2, log_recipe=recipe))
    return tasks


# the rights that list the backups (docs/proxmox-setup.md, the PBS content trade-off:
# pve-storage ``check_volume_access``)
LISTS_BACKUPS = ("PVEAuditor", "Datastore.Allocate")
# the backups of every guest but 100 hidden: the content lists only those with VM.Backup
HIDES_BUT_100 = {
    "/": ["PVEAuditor"],
    "/storage": ["Datastore.AllocateSpace"],
    "/vms/100": ["VM.Backup"],
}


def _cluster(
    tasks: list[dict[str, Any]],
    vmids: list[int],
    snapshots: dict[int, int],
    privileges: tuple[str, ...] | dict[str, list[str]] = LISTS_BACKUPS,
) -> Scenario:
    acl = privileges if isinstance(privileges, dict) else {"/": list(privileges)}
    return Scenario.from_dict(
        scenario(
            now=NOW,
            privileges=acl,
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
    starts = {(vmid, "qemu"): start for vmid, start in snapshots.items()}
    return lambda: PbsSnapshots(starts, frozenset({"pbs"}))


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
        lock = threading.Lock()
        transport = client._transport
        real = transport.get

        def get(url: str, headers: Any) -> Answer:
            if "/log" not in url:
                return real(url, headers)
            day = _day(parse_upid(unquote(url.split("/tasks/")[1].split("/log")[0])).starttime)
            with lock:
                self.nights.append(day)
                if beside <= set(self.nights):
                    self.met.set()
            if day == hold:
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
    sim: Simulator,
    hint: SnapshotHint | None,
    watch: Callable[[PveClient], Any],
    progress: Callable[[str], None] = lambda message: None,
) -> HistoryCollection:
    settings = _settings(sim)
    with PveClient(settings) as client:
        watch(client)
        inventory = collect_inventory(client, settings.backup_jobs_endpoint, 4)
        coverage = analyse_coverage(inventory, settings.ignore, NOW)
        return collect_history(
            client, inventory, coverage, NOW, HistoryOptions(15), progress=progress,
            snapshots=hint,
        )  # fmt: skip


def _latest(got: HistoryCollection) -> dict[int, Any]:
    out = {}
    for v, h in got.histories.items():
        lb, ls = h.last_backup, h.last_success
        out[v] = (
            (lb.status, _day(lb.started)) if lb and lb.started else None,
            _day(ls.started) if ls and ls.started else None,
        )
    return out


class _Rounds:
    """A progress callback counting the rounds of reading (``_read_rounds`` reports each
    round's batch before it is read)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: str) -> None:
        if message.startswith("task logs:"):
            self.count += 1


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
    snapshots = {100: night(19) + 60, 101: night(13) + 90}
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


def test_a_walk_reads_the_logs_fetched_ahead_as_it_takes_them() -> None:
    """101 failed every night since Nov 14; its newest snapshot is Nov 13's. Its runs of
    Nov 18 down to Nov 13, fetched ahead while Nov 19's is read, are read by the next
    walk one after another as it takes them (``_Reader._read_ahead``), not one a round:
    one round of reading (Nov 19's log) instead of seven, the same logs, the same
    results."""
    failing = {d: [101] for d in range(14, 20)}
    snapshots = {100: night(19) + 60, 101: night(13) + 90}
    cluster = _cluster(_runs(range(6, 20), [100, 101], failing), [100, 101], snapshots)
    ahead_rounds, plain_rounds = _Rounds(), _Rounds()
    with Simulator(cluster, tls=False) as sim:
        ahead = _history(sim, _hint(snapshots), lambda client: None, ahead_rounds)
        plain = _history(sim, None, lambda client: None, plain_rounds)
    assert (ahead_rounds.count, plain_rounds.count) == (1, 7)
    assert _latest(ahead) == _latest(plain)
    assert _latest(ahead)[101] == (("failed", 19), 13)
    assert ahead.anomalies == plain.anomalies
    assert ahead.logs_fetched == plain.logs_fetched == 7


def test_what_the_logs_say_comes_in_one_order_however_they_were_read() -> None:
    """101 (pve1) failed every night since Nov 14, 201 (pve2) since Nov 15; the logs of
    pve1's Nov 16 run and pve2's Nov 17 run are refused (403). Read with the snapshots,
    the walks read the logs fetched ahead as they take them, in another order than one
    run a round; the two "no log" anomalies are condensed into one that names the first
    one's node and samples the UPIDs, the same either way: by node, newest task first,
    not by when each log was read (found by review: with the snapshots it named pve1,
    without them pve2)."""
    pve1 = _runs(range(6, 20), [100, 101], {d: [101] for d in range(14, 20)})
    pve2 = [
        {**t, "node": "pve2", "log_recipe": {**t["log_recipe"], "job": "daily2"}}
        for t in _runs(range(6, 20), [200, 201], {d: [201] for d in range(15, 20)})
    ]
    snapshots = {100: night(19) + 60, 101: night(13) + 90, 200: night(19) + 60}
    snapshots[201] = night(14) + 90
    cluster = Scenario.from_dict(
        scenario(
            now=NOW,
            privileges={"/": list(LISTS_BACKUPS)},
            nodes=[sim_node("pve1"), sim_node("pve2")],
            storages=[pbs_storage()],
            guests=[
                sim_guest(100),
                sim_guest(101),
                *(sim_guest(v, node="pve2") for v in (200, 201)),
            ],
            jobs=[vzdump_job("daily", vmid="100,101"), vzdump_job("daily2", vmid="200,201")],
            tasks=[*pve1, *pve2],
            backups=[backup(v, ctime=t, storage="pbs") for v, t in snapshots.items()],
        )
    )

    def refuse(client: PveClient) -> None:
        real = client._transport.get

        def get(url: str, headers: Any) -> Answer:
            if "/log" in url:
                upid = parse_upid(unquote(url.split("/tasks/")[1].split("/log")[0]))
                if (upid.node, _day(upid.starttime)) in {("pve1", 16), ("pve2", 17)}:
                    return Answer(
                        403, "Permission check failed", b'{"data":null}', "application/json"
                    )
            return real(url, headers)

        client._transport.get = get  # type: ignore[method-assign]

    ahead_rounds, plain_rounds = _Rounds(), _Rounds()
    with Simulator(cluster, tls=False) as sim:
        ahead = _history(sim, _hint(snapshots), refuse, ahead_rounds)
        plain = _history(sim, None, refuse, plain_rounds)
    assert ahead_rounds.count < plain_rounds.count  # read in another order
    assert _latest(ahead) == _latest(plain)
    [said] = ahead.anomalies
    assert said.details["count"] == 2 and said.details["node"] == "pve1"
    assert ahead.anomalies == plain.anomalies


@pytest.mark.parametrize("privileges", [LISTS_BACKUPS, HIDES_BUT_100])
def test_a_guest_in_no_run_has_the_runs_of_the_window_fetched_from_its_second_round(
    privileges: Any,
) -> None:
    """103 joined the job this morning: no run holds it, and it has no snapshot. Its
    newest run is read alone (it may have held it); once a search found it in no run
    of that event, every older run of the window is asked beside the next, whether the
    token sees its backups or not. Same logs, same results."""
    snapshots = {100: night(19) + 60}
    cluster = _cluster(_runs(range(6, 20), [100], {}), [100, 103], snapshots, privileges)
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
    snapshots = {100: night(19) + 60, 101: night(9) + 90}
    cluster = _cluster(_runs(range(6, 20), [100, 101], {}), [100, 101], snapshots)
    ahead, watch, plain, plain_watch = _with_and_without(
        cluster, snapshots, hold=19, beside=set(range(9, 20))
    )
    assert watch.in_time, f"asked: {watch.nights}"
    assert plain_watch.nights == [19]
    assert _latest(ahead) == _latest(plain)
    assert _latest(ahead)[101] == (("ok", 19), 19)
    assert ahead.logs_fetched == plain.logs_fetched == 1


def test_a_success_with_no_snapshot_listed_fetches_nothing_ahead() -> None:
    """101 succeeds every night, but PBS lists no snapshot of it (deleted by hand, or
    written to a storage no job uses now, whose content is not read), though the token
    sees every backup. Its walk reads Nov 19 only, and nothing else is asked: no log
    read shows it without a success, so it does not walk back (found by review: the
    window's other 13 runs were fetched for nothing)."""
    snapshots = {100: night(19) + 60}
    cluster = _cluster(_runs(range(6, 20), [100, 101], {}), [100, 101], snapshots)
    ahead, watch, plain, plain_watch = _with_and_without(cluster, snapshots, hold=99, beside=set())
    assert watch.nights == plain_watch.nights == [19]
    assert ahead.logs_fetched == plain.logs_fetched == 1
    assert _latest(ahead) == _latest(plain)
    assert _latest(ahead)[101] == (("ok", 19), 19)


def _assess(
    sim: Simulator, watch: Callable[[PveClient], Any], **settings: Any
) -> tuple[Assessment, int]:
    """The check's assessment, and the task logs it asked for."""
    config = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        request_timeout=HOLD * 3,
        **settings,
    )
    assert sim.scenario.now is not None
    with PveClient(config) as client:
        watch(client)
        result = run_assessment(config, RunOptions(now=sim.scenario.now), client)
        asked = sum(n for p, n in client.stats.per_path.items() if p.endswith("/log"))
        return result, asked


def _handed_over(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the pipeline hands the PBS content to the history (``_Snapshots.read``)."""
    done = threading.Event()
    real = pipeline._Snapshots.read

    def read(self: Any, content: Any) -> None:
        real(self, content)
        done.set()

    monkeypatch.setattr(pipeline._Snapshots, "read", read)
    return done


def _first_log_after(client: PveClient, event: threading.Event, watch: LogWatch) -> None:
    """The first log request waits (at most ``HOLD``) for ``event``."""
    real = client._transport.get

    def get(url: str, headers: Any) -> Answer:
        if "/log" in url and not watch.nights:
            event.wait(HOLD)
        return real(url, headers)

    client._transport.get = get  # type: ignore[method-assign]


def _failing_101(privileges: tuple[str, ...] = LISTS_BACKUPS) -> Scenario:
    """100 backed up every night; 101 failing since Nov 14, its snapshot Nov 13's."""
    failing = {d: [101] for d in range(14, 20)}
    snapshots = {100: night(19) + 60, 101: night(13) + 90}
    tasks = _runs(range(6, 20), [100, 101], failing)
    return _cluster(tasks, [100, 101], snapshots, privileges)


def test_the_check_fetches_ahead_with_the_content_pve_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the PBS content read beside the history gives the snapshots. The log
    of Nov 19 waits until the content is handed to the history, so the plan of Nov 18
    has them (or already Nov 19's did); then 101's runs of Nov 17 down to Nov 13 are
    asked while Nov 18's is."""
    handed = _handed_over(monkeypatch)
    watches: list[LogWatch] = []

    def watch(client: PveClient) -> None:
        watches.append(LogWatch(client, hold=18, beside=set(range(13, 19))))
        _first_log_after(client, handed, watches[-1])

    with Simulator(_failing_101(), tls=False) as sim:
        result, _asked = _assess(sim, watch, cache_file=str(tmp_path / "cache.json"))
    assert handed.is_set()
    assert watches[0].in_time, f"asked: {watches[0].nights}"
    assert sorted(watches[0].nights) == list(range(13, 20))
    status = {s.guest.vmid: s for s in result.guests}[101]
    last, success = status.last_backup, status.last_success
    assert last is not None and success is not None
    assert last.started is not None and success.started is not None
    assert (last.status, _day(last.started), _day(success.started)) == ("failed", 19, 13)


def test_a_token_that_sees_no_snapshot_fetches_nothing_ahead(tmp_path: Path) -> None:
    """PVEAuditor alone: PVE lists the PBS storage's content empty (pve-storage
    ``check_volume_access`` drops every volume; docs/proxmox-setup.md). No snapshot is
    then no evidence: nothing is fetched ahead, each run is read in its round, and the
    logs asked are those the history reads."""
    watches: list[LogWatch] = []

    def watch(client: PveClient) -> None:
        watches.append(LogWatch(client, hold=19, beside=set(range(13, 20))))

    with Simulator(_failing_101(("PVEAuditor",)), tls=False) as sim:
        result, asked = _assess(sim, watch, cache_file=str(tmp_path / "cache.json"))
    assert not watches[0].in_time
    assert sorted(watches[0].nights) == list(range(13, 20))
    assert asked == result.stats.logs_fetched == 7


@pytest.mark.parametrize(
    ("privileges", "fetched_ahead"), [(LISTS_BACKUPS, True), (HIDES_BUT_100, False)]
)
def test_a_guest_with_no_snapshot_is_fetched_ahead_only_where_the_token_would_see_one(
    privileges: Any, fetched_ahead: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """101 failed every night of the window, so PBS holds no snapshot of it. Where the
    token sees its backups (pve-storage ``src/PVE/Storage.pm`` ``check_volume_access``:
    ``Datastore.Allocate`` on the storage), none listed means none there: its walk
    reads every run back to the window's start, and they are asked beside Nov 18's, not
    one night a round. Where they may be hidden (``VM.Backup`` on 100 only), nothing is
    fetched ahead. The same logs are read either way, and 101 never succeeded."""
    handed = _handed_over(monkeypatch)
    watches: list[LogWatch] = []

    def watch(client: PveClient) -> None:
        watches.append(LogWatch(client, hold=18, beside=set(range(6, 19))))
        _first_log_after(client, handed, watches[-1])

    failing = {d: [101] for d in range(6, 20)}
    cluster = _cluster(
        _runs(range(6, 20), [100, 101], failing), [100, 101], {100: night(19) + 60}, privileges
    )
    with Simulator(cluster, tls=False) as sim:
        result, asked = _assess(sim, watch, cache_file=str(tmp_path / "cache.json"))
    assert handed.is_set()
    assert watches[0].in_time is fetched_ahead, f"asked: {watches[0].nights}"
    assert sorted(watches[0].nights) == list(range(6, 20))
    assert asked == result.stats.logs_fetched == 14
    status = {s.guest.vmid: s for s in result.guests}[101]
    assert status.last_success is None
    assert status.last_backup is not None and status.last_backup.status == "failed"


def test_a_warm_run_fetches_ahead_only_the_logs_it_has_not_cached() -> None:
    """The cache holds the runs to Nov 17 (read two days ago); 101 failed since Nov 14
    and its snapshot is Nov 13's. Its walk reads Nov 19 and Nov 18 only: the older
    runs are cached, so none is fetched ahead."""
    snapshots = {100: night(19) + 60, 101: night(13) + 90}
    watches: list[LogWatch] = []

    def watch(client: PveClient) -> None:
        watches.append(LogWatch(client, hold=19, beside={18, 19}))

    with Simulator(_failing_101(), tls=False) as sim:
        cold = _history(sim, None, lambda client: None)
        old = {t.upid: t for t in cold.new_tasks if _day(t.starttime) <= 17}
        settings = _settings(sim)
        with PveClient(settings) as client:
            watch(client)
            inventory = collect_inventory(client, settings.backup_jobs_endpoint, 4)
            coverage = analyse_coverage(inventory, settings.ignore, NOW)
            warm = collect_history(
                client, inventory, coverage, NOW, HistoryOptions(15), old,
                snapshots=_hint(snapshots),
            )  # fmt: skip
    assert sorted(watches[0].nights) == [18, 19]
    assert watches[0].in_time  # Nov 18 asked beside Nov 19
    assert _latest(warm) == _latest(cold)


@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize("token", ["backup-reader", "auditor"])
def test_generated_clusters_fetch_only_logs_the_history_reads(
    seed: int, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated clusters (migrations, reused VMIDs, new guests, dead runs; seed 1 has
    a VMID deleted as a VM and re-created as a container today): every log asked is
    read, and the verdicts are those of the same run without the snapshots (the
    hand-over turned off)."""
    data = generate_scenario(4, 200, 12, 14, seed, now=NOW)
    if token == "auditor":
        data["token"]["privileges"] = {"/": ["PVEAuditor"]}
    cluster = Scenario.from_dict(data)
    with Simulator(cluster) as sim:
        ahead, asked = _assess(sim, lambda client: None, cache_file=str(tmp_path / "a.json"))
        monkeypatch.setattr(pipeline._Snapshots, "read", lambda self, content: None)
        plain, _ = _assess(sim, lambda client: None, cache_file=str(tmp_path / "p.json"))
    assert asked == ahead.stats.logs_fetched == plain.stats.logs_fetched
    assert ahead.stats.requests == plain.stats.requests
    verdicts = [(s.guest.vmid, s.last_backup, s.last_success, s.problems) for s in ahead.guests]
    assert verdicts == [
        (s.guest.vmid, s.last_backup, s.last_success, s.problems) for s in plain.guests
    ]
    assert ahead.anomalies == plain.anomalies


def test_fetching_ahead_parses_the_same_logs_in_no_more_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Predicting an older run's guests to fetch it ahead pairs nothing
    (``TaskPredictor.guests(peek=True)``): a pairing recorded there made a log read
    later distrust its event, and 12 logs of a generated cluster with runs that die
    waiting for the node's vzdump lock (one minute) were parsed a round later (found by
    review). With the snapshots, the same logs are parsed with the same results, in
    no more rounds: a walk reads a log fetched ahead as it takes it
    (``_Reader._read_ahead``), so some are parsed rounds sooner and a node's chain of
    logs may be read in another order."""
    monkeypatch.setattr(generate, "LOCKWAIT_MINUTES", 1)
    cluster = Scenario.from_dict(generate_scenario(6, 400, 20, 14, 7))
    parsed: list[str] = []
    inline = [0]
    real = tasks._Reader.read

    def read(self: Any, batch: Any) -> None:
        if isinstance(batch, list):  # one log a plan reads (a round's batch: ``Ahead``)
            inline[0] += 1

        def noted() -> Any:
            for item in batch:
                parsed.append(item[0][1].upid)
                yield item

        real(self, noted())

    monkeypatch.setattr(tasks._Reader, "read", read)
    assert cluster.now is not None
    got, rounds, inlines = [], [], []
    with Simulator(cluster) as sim:
        settings = _settings(sim)
        with PveClient(settings) as client:
            inventory = collect_inventory(client, settings.backup_jobs_endpoint, 4)
            coverage = analyse_coverage(inventory, settings.ignore, cluster.now)
            content = collect_pbs_content(
                client, inventory, pbs_storages_in_use(inventory, coverage), 4
            )
            starts: dict[tuple[int, str], int] = {}
            for c in content.storages.values():  # the newest of all storages (``_Snapshots``)
                for key, s in c.newest.items():
                    starts[key] = max(s.ctime, starts.get(key, s.ctime))
            listed = PbsSnapshots(starts, frozenset(content.storages))
            for hint in (None, lambda: listed):
                parsed.clear()
                inline[0] = 0
                counted = _Rounds()
                history = collect_history(
                    client, inventory, coverage, cluster.now, HistoryOptions(15), progress=counted,
                    snapshots=hint,
                )  # fmt: skip
                got.append((sorted(parsed), _latest(history), history.anomalies))
                rounds.append(counted.count)
                inlines.append(inline[0])
    assert starts
    assert got[0] == got[1]
    assert inlines[0] == 0 < inlines[1]
    assert rounds[1] <= rounds[0]


def test_logs_asked_beyond_the_bound_wait_their_turn_and_are_not_dropped() -> None:
    """At most ``bound`` logs fetched ahead wait in memory; the others are queued in the
    order asked and started as a plan takes one (``_FetchedAhead``); one a plan took
    before its turn is left to its round."""

    class Reader:
        def __init__(self) -> None:
            self.ahead: list[tuple[Any, Any]] = []
            self.predicted: dict[str, Any] = {}

    class Task:
        def __init__(self, upid: str) -> None:
            self.upid = upid

    fetched: list[str] = []
    reader = Reader()
    with ThreadPoolExecutor(2) as pool:
        ahead = tasks._FetchedAhead(
            pool,
            lambda item: fetched.append(item[1].upid) or [item[1].upid],  # type: ignore[func-returns-value]
            2,
            reader,  # type: ignore[arg-type]
        )
        reader.ahead += [(None, Task(u)) for u in "abcde"]
        ahead.ask()
        assert ahead.take("c") is None  # queued, not started: its round fetches it
        reader.predicted["c"] = None  # taken by that plan
        first = ahead.take("a")
        assert first is not None and first.result() == ["a"]
        second = ahead.take("b")
        assert second is not None and second.result() == ["b"]
        later = [ahead.take(u) for u in "de"]
        assert all(f is not None for f in later)
        assert [f.result() for f in later if f is not None] == [["d"], ["e"]]
    assert sorted(fetched) == ["a", "b", "d", "e"]
