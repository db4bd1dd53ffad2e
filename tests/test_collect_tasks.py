"""History collection: PVE's small task windows, paging, and reading only what is needed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import pytest

from builders import (
    LogGuest,
    guest,
    scenario,
    sim_guest,
    sim_node,
    storage,
    task_info,
    vzdump_clock,
    vzdump_job,
    vzdump_run,
    vzdump_task,
)
from pve_backup_report.analysis.history import TaskInfo
from pve_backup_report.collect import inventory as inventory_module
from pve_backup_report.collect.inventory import collect_inventory, normalise_job
from pve_backup_report.collect.parallel import worker_pool
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.task_selection import RunPairing
from pve_backup_report.collect.tasks import _parse
from pve_backup_report.config import Secret, Settings
from pve_backup_report.model import Anomaly, Inventory, Node, Severity
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = parse_timestamp("2026-11-20T12:00:00Z")
DAY = 86400


def _task(vmids: list[int], start: int, failed: frozenset[int] = frozenset()) -> dict[str, Any]:
    """A 60 s run on pve1 backing up ``vmids`` at ``start``; ``failed`` break (pipe)."""
    guests = [LogGuest(v, error="broken pipe" if v in failed else None) for v in vmids]
    return vzdump_run(guests, start=start, end=start + 60)


def _scenario(tasks: list[dict[str, Any]]) -> Scenario:
    """100, 101 in the hourly job ``often``, 102 in the ``weekly`` one (sun 01:00)."""
    return Scenario.from_dict(
        scenario(
            now=NOW,
            guests=[sim_guest(v) for v in (100, 101, 102)],
            jobs=[
                vzdump_job("often", schedule="*:00", vmid="100,101"),
                vzdump_job("weekly", schedule="sun 01:00", vmid="102"),
            ],
            tasks=tasks,
        )
    )


def _assess(sim: Simulator, **kw: Any) -> Any:
    settings = replace(
        Settings(hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)),
        **kw,
    )
    with PveClient(settings) as client:
        a = run_assessment(settings, RunOptions(now=NOW, use_cache=False), client)
    return a, {g.guest.vmid: g for g in a.guests}


def busy_node() -> list[dict[str, Any]]:
    """60 newer non-backup tasks and 70 newer hourly backups of other guests, then the
    weekly backup of 102 five days ago: beyond /cluster/tasks (25) and an unfiltered
    /nodes/{node}/tasks (50)."""
    weekly = NOW - 5 * DAY - 11 * 3600  # Sun 2026-11-15 01:00Z
    tasks = [_task([102], weekly)]
    tasks += [_task([100, 101], NOW - h * 3600) for h in range(1, 71)]
    tasks += [
        {"node": "pve1", "type": "qmstart", "id": "100", "user": "root@pam",
         "starttime": NOW - m * 60, "endtime": NOW - m * 60 + 5, "status": "OK"}
        for m in range(1, 61)
    ]  # fmt: skip
    return tasks


def test_latest_backup_beyond_pves_default_windows() -> None:
    with Simulator(_scenario(busy_node()), tls=False) as sim:
        _, guests = _assess(sim)
    g102 = guests[102]
    assert g102.last_backup is not None and g102.last_backup.status == "ok"
    assert g102.last_backup.started == NOW - 5 * DAY - 11 * 3600
    assert g102.freshness is not None and g102.freshness.value == "fresh"
    assert guests[100].last_backup.started == NOW - 3600


def test_pages_only_while_guests_are_unresolved() -> None:
    with Simulator(_scenario(busy_node()), tls=False) as sim:
        a, guests = _assess(sim, task_history_limit=20)
        lists = sim.stats.per_path
    task_lists = sum(n for p, n in lists.items() if p == "/nodes/pve1/tasks")
    logs = sum(n for p, n in lists.items() if p.endswith("/log"))
    assert guests[102].last_backup is not None
    assert task_lists == 4  # 71 vzdump tasks in pages of 20: 102's is on the last page
    # Was 71 (newest first, every hourly log preceded 102's weekly one). The schedules say
    # the hourly tasks hold 100 and 101 only: the newest of them and 102's single-guest
    # task are read.
    assert logs == 2
    assert a.stats.logs_fetched == 2


def test_stops_reading_logs_once_resolved() -> None:
    tasks = [_task([100, 101, 102], NOW - d * DAY) for d in range(1, 15)]
    with Simulator(_scenario(tasks), tls=False) as sim:
        _, guests = _assess(sim)
        logs = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
    assert logs == 1  # the newest task resolves every guest of the node
    assert all(guests[v].last_success is not None for v in (100, 101, 102))


def test_failed_latest_reads_on_until_a_success() -> None:
    tasks = [_task([100, 101, 102], NOW - DAY, failed=frozenset({101}))]
    tasks += [_task([100, 101, 102], NOW - d * DAY) for d in range(2, 15)]
    with Simulator(_scenario(tasks), tls=False) as sim:
        _, guests = _assess(sim)
        logs = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
    g = guests[101]
    assert g.last_backup.status == "failed" and g.last_backup.message == "broken pipe"
    assert g.last_success.started == NOW - 2 * DAY
    # Was 3 (1 log, then a round of 2). The newest task matches the hourly job (100, 101)
    # but holds 102 too: the node falls back to newest first (rounds of 1, 2, 4, …), whose
    # first round reads the run before, which holds 101's success.
    assert logs == 2


@pytest.mark.parametrize("status", ["job errors", "OK"])
def test_job_level_failure_without_guest_lines(status: str) -> None:
    lock = vzdump_task(
        start=NOW - 3600, end=NOW - 3600 + 10800, status="unexpected status",
        # pve-manager PVE/API2/VZDump.pm: getlock comes before exec_backup logs the command
        # line, so the run is paired with the job due at its start (often, 11:00)
        log="INFO: trying to get global lock - waiting...\n"
            "ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout",
    )  # fmt: skip
    with Simulator(_scenario([lock, _task([100, 101], NOW - DAY)]), tls=False) as sim:
        _, guests = _assess(sim)
    for v in (100, 101):
        assert guests[v].last_backup.status == "failed"
        assert "lock" in (guests[v].last_backup.message or "")
        assert guests[v].last_success.started == NOW - DAY


def test_long_older_task_holding_a_newer_failure_is_read() -> None:
    """A 21:00 task reaches VM 100 at 23:40 and fails; a 22:00 task backed it up at 22:05.
    Newest task first would stop at the 22:00 success and miss the newer failure."""
    day = NOW - DAY + 12 * 3600  # 2026-11-20T00:00Z
    long_job = _task([100], day - 3 * 3600, failed=frozenset({100}))  # 21:00Z
    long_job["endtime"] = day - 20 * 60  # 23:40Z
    long_job["log"] = long_job["log"].replace(
        f"Backup started at {vzdump_clock(day - 3 * 3600)}\nERROR: Backup of VM 100",
        f"Backup started at {vzdump_clock(day - 25 * 60)}\nERROR: Backup of VM 100",
    )
    short_job = _task([100, 101, 102], day - 2 * 3600 + 300)  # 22:05Z, resolves the node
    with Simulator(_scenario([long_job, short_job]), tls=False) as sim:
        _, guests = _assess(sim)
    g = guests[100]
    assert g.last_backup.status == "failed"
    assert g.last_backup.started == day - 25 * 60
    assert g.last_success.started == day - 2 * 3600 + 300


# --------------------------------------------------------------------------------------
# Runs that died before any guest (no command line): paired with a job by their start


def _dead_inventory() -> Inventory:
    job = normalise_job(vzdump_job("nightly", schedule="01:00", vmid="100,101,999"))
    return Inventory(
        nodes=(Node("pve1", "online"),),
        storages=(storage("pbs"), storage("nas", type="nfs")),
        jobs=(job,),
        guests=tuple(guest(v, name=f"g{v}") for v in (100, 101)),
        pools=(),
    )


def _dead_task(task_id: str = "", status: str = "unexpected status") -> TaskInfo:
    upid = f"UPID:pve1:00001000:00989680:6AFF8D85:vzdump:{task_id}:root@pam:"
    return task_info(start=NOW, end=NOW + 10801, status=status, task_id=task_id, upid=upid)


LOCK_LOG = ["INFO: trying to get global lock - waiting...",
            "ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout"]  # fmt: skip


def test_a_dead_run_paired_with_its_job_fails_the_jobs_guests() -> None:
    """pve-manager ``PVE/API2/VZDump.pm``: the run's guests are the job's local guests plus
    its listed VMIDs that do not exist (999, "visibly fail later")."""
    anomalies: list[Anomaly] = []
    got = _parse(_dead_task(), LOCK_LOG, _dead_inventory(), "UTC", anomalies,
                 pairing=lambda: RunPairing("nightly", ("nightly",)))  # fmt: skip
    assert got.task is not None and got.keep and got.command is None
    assert (got.task.storage, got.task.pbs) == ("pbs", True)
    assert [(r.vmid, r.status, r.message) for r in got.task.results] == [
        (v, "failed", "can't acquire lock '/var/run/vzdump.lock' - got timeout")
        for v in (100, 101, 999)
    ]
    assert anomalies == []


@pytest.mark.parametrize("due", [(), ("nightly", "other")])
def test_a_dead_run_without_its_job_is_an_anomaly_and_not_cached(due: tuple[str, ...]) -> None:
    anomalies: list[Anomaly] = []
    got = _parse(_dead_task(), LOCK_LOG, _dead_inventory(), "UTC", anomalies,
                 pairing=lambda: RunPairing(None, due))  # fmt: skip
    assert got.task is not None and got.task.results == () and not got.keep
    (a,) = anomalies
    assert a.severity is Severity.WARNING and a.details["node"] == "pve1"
    assert a.details["error"] == "can't acquire lock '/var/run/vzdump.lock' - got timeout"
    assert a.message.startswith(f"task {_dead_task().upid} on node pve1 died before")
    assert ("matches no scheduled job" in a.message) is (not due)


def test_the_storage_a_dead_run_names_decides_whether_it_counts() -> None:
    """``PVE::VZDump::new`` names the run's storage when it cannot activate it: a manual
    ``vzdump 100 --storage nas`` that died is not a PBS result; with a lock timeout the
    target of an unpaired single-guest run is not known, and its failure counts."""
    nas = "could not activate storage 'nas': storage 'nas' is not online"
    for status, log, pbs in (
        (nas, [f"TASK ERROR: {nas}"], False),
        ("unexpected status", LOCK_LOG, True),
    ):
        anomalies: list[Anomaly] = []
        got = _parse(_dead_task("100", status), log, _dead_inventory(), "UTC", anomalies,
                     pairing=lambda: RunPairing(None, ()))  # fmt: skip
        assert got.task is not None and got.keep and anomalies == []
        assert got.task.pbs is pbs
        assert [(r.vmid, r.status) for r in got.task.results] == [(100, "failed")]


def test_a_dead_run_after_a_failed_notification_names_the_task_error() -> None:
    """pve-manager ``PVE/VZDump.pm`` ``new``: a failed ``send_notification`` is logged as
    ``ERROR: ...`` before the run dies with ``could not activate storage '<id>': ...``,
    the ``TASK ERROR`` text (finding X4). That text is the guests' reason, and the storage
    it names is the run's target (here not PBS: the failure does not count)."""
    nas = "could not activate storage 'nas': storage 'nas' is not online"
    log = ["ERROR: could not notify via target `mail-to-root`: failed to run 'sendmail'",
           f"TASK ERROR: {nas}"]  # fmt: skip
    anomalies: list[Anomaly] = []
    got = _parse(_dead_task("100", nas), log, _dead_inventory(), "UTC", anomalies,
                 pairing=lambda: RunPairing(None, ()))  # fmt: skip
    assert got.task is not None and anomalies == []
    assert (got.task.storage, got.task.pbs) == ("nas", False)
    assert [(r.vmid, r.status, r.message) for r in got.task.results] == [(100, "failed", nas)]


def test_a_cli_started_lock_timeout_keeps_the_lock_error() -> None:
    """A run started on a shell or by a legacy ``vzdump.cron`` job is synchronous: after
    the worker's ``exit(-1)`` the parent ends the log with ``TASK ERROR: got unexpected
    control message:`` (pve-common ``src/PVE/RESTEnvironment.pm`` ``fork_worker``). The lock
    error logged before it is the reason the guests failed."""
    anomalies: list[Anomaly] = []
    log = [*LOCK_LOG, "TASK ERROR: got unexpected control message:"]
    task = _dead_task(status="got unexpected control message:")
    got = _parse(task, log, _dead_inventory(), "UTC", anomalies,
                 pairing=lambda: RunPairing("nightly", ("nightly",)))  # fmt: skip
    assert got.task is not None and anomalies == []
    assert {(r.status, r.message) for r in got.task.results} == {
        ("failed", "can't acquire lock '/var/run/vzdump.lock' - got timeout")
    }


# ------------------------------------------------- first task-list pages asked early


def test_inventory_asks_the_time_zones_and_names_the_nodes_before_it_normalises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As soon as ``/nodes`` is read, ``collect_inventory`` asks the online nodes' time
    zones and hands the nodes to ``on_nodes`` (the pipeline asks their first task-list
    pages from there): both are on the way while the rest of the inventory is normalised,
    not a round after it. The normalisation here waits (up to 10 s) for the time zone
    request to reach the simulator: asked after it, it would never come in time."""
    order: list[str] = []
    data = scenario(nodes=[sim_node("pve1"), sim_node("pve2", status="offline")])
    with Simulator(Scenario.from_dict(data), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
        )
        real = inventory_module._normalised

        def normalised(first: Any, anomalies: list[Anomaly]) -> Any:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _asked(sim, "/nodes/pve1/time"):
                time.sleep(0.005)
            order.append("normalised, time zone asked" if _asked(sim, "/nodes/pve1/time")
                         else "normalised, time zone not asked")  # fmt: skip
            return real(first, anomalies)

        def on_nodes(nodes: list[Node]) -> None:
            order.append("on_nodes " + " ".join(f"{n.name}:{n.status}" for n in nodes))

        monkeypatch.setattr(inventory_module, "_normalised", normalised)
        with PveClient(settings) as client:
            inventory = collect_inventory(client, on_nodes=on_nodes)
        asked = [r.path for r in sim.stats.records]
    assert order == ["on_nodes pve1:online pve2:offline", "normalised, time zone asked"]
    assert asked.count("/nodes/pve1/time") == 1 and "/nodes/pve2/time" not in asked
    assert [n.name for n in inventory.nodes] == ["pve1", "pve2"]
    assert inventory.nodes[0].timezone and inventory.nodes[0].timezone_fetched


def test_on_the_runs_threads_the_time_zones_go_before_what_on_nodes_asks() -> None:
    """On the pool given (the pipeline's, which then reads the first task-list pages),
    ``collect_inventory`` asks the time zones before it calls ``on_nodes``: the pool's
    queue is first in, first out, so the zones, needed as soon as the rest is normalised,
    do not wait behind the pages, needed only after the coverage. With one thread, a
    task ``on_nodes`` submits runs once every zone is read."""
    data = scenario(nodes=[sim_node("pve1"), sim_node("pve2"), sim_node("pve3", status="offline")])
    with Simulator(Scenario.from_dict(data), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret)
        )
        with PveClient(settings) as client, worker_pool(1) as pool:
            seen: list[Future[int]] = []

            def on_nodes(nodes: list[Node]) -> None:  # the client's count of answers read
                seen.append(pool.submit(lambda: client.stats.per_path["/nodes/{node}/time"]))

            collect_inventory(client, workers=1, on_nodes=on_nodes, pool=pool)
            zones_read_then = seen[0].result()
    assert zones_read_then == 2  # pve1 and pve2 (pve3 is offline)


def test_the_pipeline_reads_the_time_zones_before_the_first_task_pages_on_its_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline gives ``collect_inventory`` the threads it then asks the first
    task-list pages on (``pipeline._inventory``): with one thread, the first round, every
    time zone and then the pages are read by that one thread, in that order. On threads
    of their own the zones and the pages would come from two threads."""
    asked: list[tuple[str, int]] = []
    get, get_page = PveClient.get, PveClient.get_page

    def recording(real: Any) -> Any:
        def call(self: PveClient, path: str, *args: Any, **kw: Any) -> Any:
            asked.append((path, threading.get_ident()))
            return real(self, path, *args, **kw)

        return call

    monkeypatch.setattr(PveClient, "get", recording(get))
    monkeypatch.setattr(PveClient, "get_page", recording(get_page))
    tasks = [_task([100, 101], NOW - d * DAY) for d in range(1, 4)]
    base = scenario(
        now=NOW, nodes=[sim_node(f"pve{i}") for i in range(1, 5)],
        guests=[sim_guest(100), sim_guest(101)],
        jobs=[vzdump_job("daily", schedule="21:00", vmid="100,101")], tasks=tasks,
    )  # fmt: skip
    with Simulator(Scenario.from_dict(base), tls=False) as sim:
        _assess(sim, max_workers=1)
    early = [(p, t) for p, t in asked if "/" not in p[1:] or p.endswith(("/time", "/tasks"))]
    kinds = [p.rsplit("/", 1)[-1] for p, _t in early]
    first_pages = kinds.index("tasks")
    assert kinds[first_pages - 4 : first_pages] == ["time"] * 4, kinds
    assert len({t for _p, t in early[: first_pages + 4]}) == 1  # one thread, the pipeline's


def _asked(sim: Simulator, path: str) -> bool:
    return any(r.path == path for r in list(sim.stats.records))


def test_first_pages_are_asked_once_and_only_for_online_nodes() -> None:
    """The run asks each online node's first task-list page once (early, then used by
    the history), and none of an offline node, whose history stays unreadable."""
    tasks = [_task([100, 101, 102], NOW - d * DAY) for d in range(1, 15)]
    base = scenario(
        now=NOW,
        nodes=[sim_node("pve1"), sim_node("pve2", status="offline")],
        guests=[sim_guest(v) for v in (100, 101, 102)] + [sim_guest(200, node="pve2")],
        jobs=[
            vzdump_job("often", schedule="*:00", vmid="100,101,200"),
            vzdump_job("weekly", schedule="sun 01:00", vmid="102"),
        ],
        tasks=tasks,
    )
    with Simulator(Scenario.from_dict(base), tls=False) as sim:
        a, guests = _assess(sim, task_history_limit=5)
        pages = [(r.path, r.query) for r in sim.stats.records if r.path.endswith("/tasks")]
    first = [q for p, q in pages if p == "/nodes/pve1/tasks" and q.endswith("&start=0")]
    assert len(first) == 1 and first[0].startswith("typefilter=vzdump&since=")
    assert len(pages) == 2 and pages[1][1].endswith("&start=5")  # the next page: asked then
    assert a.stats.logs_fetched == 1
    assert all(guests[v].last_success is not None for v in (100, 101, 102))
    assert guests[200].last_success is None
    assert any("pve2" in str(x.message) for x in a.anomalies)
