"""Runs that die before any guest, through the real CLI against the simulator.

pve-manager ``PVE/API2/VZDump.pm`` ``vzdump``: the worker builds ``PVE::VZDump->new``
(which activates the target storage: ``could not activate storage '<id>': …``), then
takes the node's lock (``PVE::VZDump::getlock``: ``can't acquire lock
'/var/run/vzdump.lock' - got timeout``, then ``exit(-1)``), and only then
``exec_backup`` logs ``starting new backup job: vzdump …``. A run that dies in ``new`` has
one line, pve-common ``src/PVE/RESTEnvironment.pm`` ``fork_worker``'s ``TASK ERROR: <error>``;
a lock timeout has no ``TASK`` line at all (the task list says ``unexpected status``,
pve-common ``src/PVE/UPID.pm`` ``read_status``). Neither names a guest: the run is paired with
the job due at its start on its node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
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
from pve_backup_report.model import GuestType
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

NOW = "2026-11-20T12:00:00Z"
SECRET = "d3ad-run-5ecret"
TONIGHT = parse_timestamp("2026-11-20T00:00:00Z")  # 01:00 in Europe/Paris
DAY = 86400
PBS_DOWN = (
    "could not activate storage 'pbs-main': pbs-main: error fetching datastores - "
    "500 Can't connect to 192.0.2.10:8007 (No route to host)"
)
OFFSITE_DOWN = PBS_DOWN.replace("pbs-main", "pbs-offsite").replace("192.0.2.10", "198.51.100.20")
LOCK_TIMEOUT = "can't acquire lock '/var/run/vzdump.lock' - got timeout"
LOCK_LOG = f"INFO: trying to get global lock - waiting...\nERROR: {LOCK_TIMEOUT}"
NAMES = {100: "web1", 101: "mail", 102: "dns", 103: "db1", 106: "git", 107: "wiki"}
TYPES: dict[int, GuestType] = {102: "lxc"}


def _ok_task(
    node: str, vmids: list[int], start: int, *, storage: str = "pbs-main", **task: Any
) -> dict[str, Any]:
    """A successful run as pve-manager ``PVE/VZDump.pm`` ``exec_backup`` logs it, in
    node-local time (Europe/Paris, UTC+1 in November)."""
    ids = " ".join(map(str, vmids))
    return vzdump_run(
        [LogGuest(v, TYPES.get(v, "qemu")) for v in vmids],
        start=start,
        node=node,
        end=start + 1 + 31 * len(vmids),
        task=task,
        command=f"vzdump {ids} --mode snapshot --storage {storage} --notification-mode auto",
        first=1,
        gap=31,
        took=30,
        tz_offset=3600,
        details=("backup mode: snapshot",),
    )


def _snapshots(vmids: list[int], start: int, storage: str = "pbs-main") -> list[dict[str, Any]]:
    return [
        backup(v, ctime=start + 1 + 31 * i, storage=storage, size=2**30)
        for i, v in enumerate(vmids)
    ]


def _scenario(tasks: list[dict[str, Any]], backups: list[dict[str, Any]],
              jobs: list[dict[str, Any]] | None = None,
              vmids: tuple[int, ...] | None = None) -> Scenario:  # fmt: skip
    """The nightly job: 100, 101 on pve1 and 102, 103 on pve2; with ``jobs``: 100, 101,
    106, 107 on pve1 (or ``vmids``)."""
    vmids = vmids or ((100, 101, 106, 107) if jobs else (100, 101, 102, 103))
    nightly = _job("backup-nightly", vmid="100,101,102,103")
    pbs = {"datastore": "main", "username": "backup@pbs!pve"}
    return Scenario.from_dict(
        scenario(
            secret=SECRET,
            privileges={"/": ["Sys.Audit", "VM.Audit", "Datastore.Audit"],
                        "/storage": ["Datastore.Allocate"]},
            nodes=[sim_node("pve1", timezone="Europe/Paris"),
                   sim_node("pve2", timezone="Europe/Paris")],
            storages=[
                pbs_storage("pbs-main", server="192.0.2.10", **pbs),
                pbs_storage("pbs-offsite", server="198.51.100.20", **pbs),
                {"storage": "nas", "type": "nfs", "server": "192.0.2.30",
                 "export": "/backup", "path": "/mnt/pve/nas", "content": "backup"},
            ],
            guests=[sim_guest(v, type=TYPES.get(v, "qemu"), name=n,
                              node="pve2" if v in (102, 103) else "pve1")
                    for v, n in NAMES.items() if v in vmids],
            jobs=jobs or [nightly],
            tasks=tasks,
            backups=backups,
        )
    )  # fmt: skip


def _job(
    id: str, *, schedule: str = "01:00", storage: str = "pbs-main", **selection: Any
) -> dict[str, Any]:
    """A job at 01:00 (Paris) to pbs-main in snapshot mode."""
    return vzdump_job(id, schedule=schedule, storage=storage, **selection, mode="snapshot")


def _last_night() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nightly job's runs of last night on both nodes: all backed up."""
    start = TONIGHT - DAY
    tasks = [_ok_task("pve1", [100, 101], start + 5), _ok_task("pve2", [102, 103], start + 4)]
    return tasks, _snapshots([100, 101], start + 5) + _snapshots([102, 103], start + 4)


Run = subprocess.CompletedProcess[str]


def _check(sim: Simulator, cache: Path, *args: str, now: str = NOW) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    env.update(PVE_HOST=sim.url, PVE_API_TOKEN_ID=sim.token_id,
               PVE_API_TOKEN_SECRET=sim.token_secret, XDG_CACHE_HOME=str(cache))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", "--now", now, "-v", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert SECRET not in proc.stdout + proc.stderr
    return proc


def _anomaly_line(out: str, upid: str) -> str:
    """The long output's anomaly line about the task."""
    return next(x for x in out.splitlines() if x.startswith("[warning] tasks: ") and upid in x)


def _guest_line(out: str, label: str) -> str:
    return next(x for x in out.splitlines() if x.startswith(label))


def test_unreachable_pbs_and_lock_timeout_fail_the_jobs_guests(tmp_path: Path) -> None:
    """Tonight pve1's run could not reach the PBS (only ``TASK ERROR: could not activate
    storage …``) and pve2's run gave up waiting for the lock held by a manual backup of
    VM 103 to the NAS (no ``TASK`` line). Each node's guests of the job failed with the
    node's error; before, they stayed ``ok`` from last night (OK inside ``--grace``, then
    only a WARNING "stale") and the error was never shown. The report shows it too."""
    tasks, backups = _last_night()
    manual = _ok_task("pve2", [103], TONIGHT - 1800, storage="nas")
    manual["endtime"] = TONIGHT + 4 * 3600
    tasks += [
        manual,
        vzdump_task(node="pve1", start=TONIGHT + 5, end=TONIGHT + 12, status=PBS_DOWN),
        vzdump_task(node="pve2", start=TONIGHT + 4, end=TONIGHT + 4 + 10801, log=LOCK_LOG),
    ]
    report = tmp_path / "report.md"
    with Simulator(_scenario(tasks, backups), tls=False) as sim:
        proc = _check(sim, tmp_path / "cache", "--report", str(report))
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr
    names = out.split("\n", 1)[0].removeprefix("PVE_BACKUP CRITICAL - 4 failed backups (")
    names = names.split(")", 1)[0]  # worst first: the oldest success, then the VMID
    assert sorted(names.split(", ")) == ["ct 102 dns", "vm 100 web1", "vm 101 mail", "vm 103 db1"]
    for label in ("vm 100 web1", "vm 101 mail"):
        assert f"failed at 2026-11-20T00:00:12Z ({PBS_DOWN})" in _guest_line(out, label)
    for label in ("ct 102 dns", "vm 103 db1"):
        assert f"failed at 2026-11-20T03:00:05Z ({LOCK_TIMEOUT})" in _guest_line(out, label)
    assert "Anomalies" not in out  # the runs are explained, not odd
    bullets = [x for x in report.read_text().splitlines() if x.startswith("- **")]
    for label, text in (("vm 100 web1", PBS_DOWN), ("ct 102 dns", LOCK_TIMEOUT)):
        bullet = next(x for x in bullets if x.startswith(f"- **{label}**"))
        assert f"; error `{text}`; latest success 2026-11-19T00:00:0" in bullet


def test_a_dead_run_inside_the_grace_is_not_ok(tmp_path: Path) -> None:
    """Half an hour after the run died, the guests are not OK "inside --grace": their
    latest result is the failure."""
    tasks, backups = _last_night()
    tasks.append(vzdump_task(node="pve1", start=TONIGHT + 5, end=TONIGHT + 12, status=PBS_DOWN))
    with Simulator(_scenario(tasks, backups), tls=False) as sim:
        proc = _check(sim, tmp_path, now="2026-11-20T00:30:00Z")
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.startswith(
        "PVE_BACKUP CRITICAL - 2 failed backups (vm 100 web1, vm 101 mail)"
    )
    assert "ct 102 dns" not in proc.stdout.splitlines()[0]  # pve2's run is still to come


def test_the_cache_keeps_a_dead_runs_result(tmp_path: Path) -> None:
    """The second run takes the dead run's result from the task cache (no log read) and
    still reports the failure with its error."""
    tasks, backups = _last_night()
    tasks.append(vzdump_task(node="pve1", start=TONIGHT + 5, end=TONIGHT + 12, status=PBS_DOWN))
    with Simulator(_scenario(tasks, backups), tls=False) as sim:
        first = _check(sim, tmp_path)
        logs_first = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
        second = _check(sim, tmp_path)
        logs_second = sum(n for p, n in sim.stats.per_path.items() if p.endswith("/log"))
    assert first.returncode == second.returncode == 2
    assert logs_first > 0 and logs_second == logs_first  # everything from the cache
    assert f"({PBS_DOWN})" in _guest_line(second.stdout, "vm 100 web1")
    cache = json.loads(next((tmp_path / "check_pve_backup").glob("tasks-*.json")).read_text())
    dead = [t for t in cache["tasks"].values() if t["starttime"] == TONIGHT + 5]
    assert [(r[0], r[1], r[5]) for r in dead[0]["results"]] == [
        (100, "failed", PBS_DOWN),
        (101, "failed", PBS_DOWN),
    ]


def test_a_dead_run_matching_no_job_is_an_anomaly(tmp_path: Path) -> None:
    """A manual run (``vzdump 100 101``, task id empty) at 11:00 could not reach the PBS:
    no job was due, so which guests it was to back up is not known. The anomaly names the
    task, its node and its error, on every check while it is the newest run (it is not
    cached)."""
    tasks, backups = _last_night()
    tasks.append(
        vzdump_task(
            node="pve1", start=TONIGHT + 11 * 3600, end=TONIGHT + 11 * 3600 + 9, status=PBS_DOWN
        )
    )
    tasks.append(_ok_task("pve1", [100, 101], TONIGHT + 5))
    tasks.append(_ok_task("pve2", [102, 103], TONIGHT + 4))
    with Simulator(
        _scenario(tasks, backups + _snapshots([100, 101], TONIGHT + 5)), tls=False
    ) as sim:
        upid = sim.scenario.tasks[-3].upid
        runs = [_check(sim, tmp_path) for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 1, proc.stdout
        first = proc.stdout.splitlines()[0]
        assert first.startswith(f"PVE_BACKUP WARNING - task {upid} on node pve1 died before")
        anomaly = _anomaly_line(proc.stdout, upid)  # the status line shortens it
        assert "matches no scheduled job" in anomaly and PBS_DOWN in anomaly
        assert "Guests needing attention" not in proc.stdout  # tonight's runs backed all up


def _two_jobs() -> list[dict[str, Any]]:
    """Two jobs due at 01:00 on pve1: pvescheduler starts them in job-id order."""
    return [
        _job("backup-aaa", vmid="100,101"),
        _job("backup-bbb", storage="pbs-offsite", vmid="106,107"),
    ]


Items = list[dict[str, Any]]


def _two_jobs_history(tonight_bbb: dict[str, Any]) -> tuple[Items, Items]:
    start = TONIGHT - DAY + 5
    tasks = [
        _ok_task("pve1", [100, 101], start, pstart=50_000_000),
        _ok_task("pve1", [106, 107], start, pstart=50_000_001, storage="pbs-offsite"),
        _ok_task("pve1", [100, 101], TONIGHT + 5, pstart=58_640_000),
        vzdump_task(node="pve1", start=TONIGHT + 5, pstart=58_640_001, **tonight_bbb),
    ]
    backups = (_snapshots([100, 101], start) + _snapshots([106, 107], start, "pbs-offsite")
               + _snapshots([100, 101], TONIGHT + 5))  # fmt: skip
    return tasks, backups


def test_at_a_shared_event_the_dead_run_is_the_next_job_in_id_order(tmp_path: Path) -> None:
    """backup-aaa and backup-bbb are due together; the second task started is bbb's run
    (pve-manager ``PVE/Jobs.pm`` ``run_jobs`` sorts the job ids). It waited for aaa's lock
    and gave up: 106 and 107 failed, aaa's guests are fine."""
    dead = {"endtime": TONIGHT + 5 + 10801, "log": LOCK_LOG}
    tasks, backups = _two_jobs_history(dead)
    with Simulator(_scenario(tasks, backups, _two_jobs()), tls=False) as sim:
        proc = _check(sim, tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.startswith(
        "PVE_BACKUP CRITICAL - 2 failed backups (vm 106 git, vm 107 wiki)"
    )
    assert LOCK_TIMEOUT in _guest_line(proc.stdout, "vm 106 git")
    assert "vm 100 web1" not in proc.stdout


def test_an_ambiguous_dead_run_is_an_anomaly(tmp_path: Path) -> None:
    """An admin also ran ``vzdump 106 107 --storage pbs-offsite`` at 01:02: three tasks at
    an event of two jobs, so which job the dead one ran is not known (it may have been the
    manual one). No guest is failed on a guess; the anomaly names both jobs."""
    dead = {"endtime": TONIGHT + 5 + 10801, "log": LOCK_LOG}
    tasks, backups = _two_jobs_history(dead)
    tasks.append(_ok_task("pve1", [106, 107], TONIGHT + 120, storage="pbs-offsite"))
    backups += _snapshots([106, 107], TONIGHT + 120, "pbs-offsite")
    with Simulator(_scenario(tasks, backups, _two_jobs()), tls=False) as sim:
        upid = sim.scenario.tasks[3].upid
        proc = _check(sim, tmp_path)
    assert proc.returncode == 1, proc.stdout
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"PVE_BACKUP WARNING - task {upid} on node pve1 died before")
    assert "failed" not in first
    anomaly = _anomaly_line(proc.stdout, upid)  # the status line shortens it
    assert "jobs backup-aaa, backup-bbb were due at its start" in anomaly
    assert LOCK_TIMEOUT in anomaly


def test_a_manual_single_guest_run_that_dies_early(tmp_path: Path) -> None:
    """``vzdump 100`` by hand at 10:00 (task id 100) gave up waiting for the lock: the task
    names its guest, whose latest result is that failure (its target is not known, so it
    counts). ``vzdump 101 --storage nas`` could not activate the NAS: the error names a
    storage that is not PBS, so 101's PBS results are untouched."""
    tasks, backups = _last_night()
    tasks += [_ok_task("pve1", [100, 101], TONIGHT + 5), _ok_task("pve2", [102, 103], TONIGHT + 4)]
    backups += _snapshots([100, 101], TONIGHT + 5) + _snapshots([102, 103], TONIGHT + 4)
    tasks += [
        vzdump_task(
            node="pve1",
            id="100",
            start=TONIGHT + 10 * 3600,
            end=TONIGHT + 10 * 3600 + 10801,
            log=LOCK_LOG,
        ),
        vzdump_task(
            node="pve1",
            id="101",
            start=TONIGHT + 11 * 3600,
            end=TONIGHT + 11 * 3600 + 2,
            status="could not activate storage 'nas': storage 'nas' is not online",
        ),
    ]
    with Simulator(_scenario(tasks, backups), tls=False) as sim:
        proc = _check(sim, tmp_path, now="2026-11-20T14:00:00Z")
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.startswith("PVE_BACKUP CRITICAL - 1 failed backup (vm 100 web1)")
    assert f"failed at 2026-11-20T10:00:00Z ({LOCK_TIMEOUT})" in _guest_line(proc.stdout, "vm 100")
    assert "vm 101 mail" not in proc.stdout and "Anomalies" not in proc.stdout


def test_an_all_job_on_a_node_where_it_has_no_guest(tmp_path: Path) -> None:
    """An ``--all`` job makes a task on every node, also where it has no guest (pve-manager
    ``PVE/API2/VZDump.pm`` skips such a node only when ``all`` is not set): on pve2 it
    excludes 102, which a weekly job backs up. Tonight the PBS was unreachable from both
    nodes: pve1's guests failed, and pve2's dead run is the ``--all`` job's run with
    nothing to back up there, not an unexplained task."""
    jobs = [
        _job("backup-all", all=1, exclude="102"),
        _job("backup-db", schedule="sun 03:00", vmid="102"),
    ]
    start = TONIGHT - DAY
    sunday = TONIGHT - 5 * DAY + 2 * 3600  # Sun 2026-11-15 03:00 in Paris
    nothing = ("INFO: starting new backup job: vzdump --all 1 --exclude 102 --mode snapshot "
               "--storage pbs-main\nINFO: skip external VMs: 100, 101, 106, 107\n"
               "INFO: Backup job finished successfully\nTASK OK")  # fmt: skip
    tasks = [
        _ok_task("pve1", [100, 101, 106, 107], start + 5),
        vzdump_task(node="pve2", start=start + 4, end=start + 6, log=nothing),
        _ok_task("pve2", [102], sunday + 3),
        vzdump_task(node="pve1", start=TONIGHT + 5, end=TONIGHT + 12, status=PBS_DOWN),
        vzdump_task(node="pve2", start=TONIGHT + 4, end=TONIGHT + 11, status=PBS_DOWN),
    ]
    backups = _snapshots([100, 101, 106, 107], start + 5) + _snapshots([102], sunday + 3)
    vmids = (100, 101, 102, 106, 107)
    with Simulator(_scenario(tasks, backups, jobs, vmids)) as sim:
        proc = _check(sim, tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.startswith("PVE_BACKUP CRITICAL - 4 failed backups (vm 100 web1, vm 101")
    assert "ct 102 dns" not in proc.stdout and "Anomalies" not in proc.stdout
