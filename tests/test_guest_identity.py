"""Whose backup is it: VMIDs reused by a guest of the other type, unfinished snapshots.

Scenarios written from upstream code:

* pve-storage ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes`` lists PBS groups by type,
  ``backup/vm/100/...`` and ``backup/ct/100/...``; pve-manager ``PVE/VZDump.pm``
  ``exec_backup_task`` logs ``Starting Backup of VM 100 (qemu)`` or ``(lxc)``.
* proxmox-backup ``src/api2/admin/datastore.rs`` ``list_snapshots_blocking`` lists a
  snapshot without a manifest (a backup still running) with no size and no verification;
  ``PBSPlugin::list_volumes`` shows its size as 1.
"""

from __future__ import annotations

import json
from typing import Any

from builders import (
    LogGuest,
    backup,
    night,
    pbs_storage,
    scenario,
    sim_guest,
    snapshot_job,
    vzdump_clock,
    vzdump_log,
    vzdump_task,
)
from conftest import SimGet, SimulatorFactory
from pve_backup_report.timeutil import iso_utc, parse_timestamp
from pve_sim import Scenario
from test_check_cli import run

NOW = parse_timestamp("2026-11-20T12:00:00Z")
H = 3600


def _run(day: int, guests: list[LogGuest]) -> dict[str, Any]:
    """The 21:00 run of the ``all`` job on pve1 (``PVE::VZDump::exec_backup_task`` logs
    each guest 30 s after the previous one)."""
    start = night(day) + 1
    command = "vzdump --all 1 --storage pbs --mode snapshot"
    log = vzdump_log(guests, start=start, command=command, first=1, gap=30, took=20)
    return vzdump_task(start=start, end=start + 2 + 30 * len(guests), log=log)


def _snap(vmid: int, kind: str, day: int, **extra: Any) -> dict[str, Any]:
    return backup(vmid, ctime=night(day) + 2, type=kind, **extra)


def reused_cluster() -> dict[str, Any]:
    """pve1, an ``all`` job at 21:00.

    * VM 100 backed up until the 15th, deleted on the 16th; CT 100 created on the 16th,
      backed up on the 16th, 17th and 18th, failed on the 19th.
    * VM 101 backed up until last night, deleted this morning; CT 101 created at 09:00.
    * 102 a VM that was never touched (control).
    """
    tasks = []
    for day in range(10, 20):
        guests = [
            LogGuest(100)
            if day <= 15
            else LogGuest(100, "lxc", "unable to open file - No space left" if day == 19 else None),
            LogGuest(101),
            LogGuest(102),
        ]
        tasks.append(_run(day, guests))
    backups = [_snap(100, "qemu", d) for d in range(10, 16)]
    backups += [_snap(100, "lxc", d, size=2 * 1024**3) for d in (16, 17, 18)]
    backups += [_snap(101, "qemu", d, verification="ok") for d in range(10, 20)]
    backups += [_snap(102, "qemu", d) for d in range(10, 20)]
    return scenario(
        now=NOW,
        privileges={"/": ["PVEAuditor"], "/storage/pbs": ["Datastore.Allocate"]},
        storages=[pbs_storage(server="192.0.2.10", datastore="main")],
        guests=[
            sim_guest(100, type="lxc", name="new-ct"),
            sim_guest(101, type="lxc", name="fresh-ct"),
            sim_guest(102, name="vm"),
        ],
        jobs=[snapshot_job("daily", all=1)],
        tasks=tasks,
        backups=backups,
    )


def _coverage(sim: Any, env: dict[str, str] | None = None) -> dict[int, dict[str, Any]]:
    proc = run(sim, "--dump-coverage", "--format", "json", "--now", str(NOW), "--no-cache", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {g["vmid"]: g for g in json.loads(proc.stdout)["guests"]}


def test_pbs_lists_the_two_groups_of_a_reused_vmid(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    """As ``PBSPlugin::list_volumes``: ``backup/vm/100/...`` and ``backup/ct/100/...``,
    both with ``vmid`` 100, told apart by the volid and ``subtype``."""
    sim = simulator_factory(Scenario.from_dict(reused_cluster()))
    items = sim_get(sim, "/nodes/pve1/storage/pbs/content", {"content": "backup"}).json()["data"]
    mine = {(i["volid"].split(":backup/")[1].split("/")[0], i["subtype"])
            for i in items if i["vmid"] == 100}  # fmt: skip
    assert mine == {("vm", "qemu"), ("ct", "lxc")}


def test_container_reusing_a_vmid_keeps_only_its_own_results(
    simulator_factory: SimulatorFactory,
) -> None:
    """CT 100 replaced VM 100 on the 16th: its latest result is its own failure of the
    19th, its latest success the 18th, its snapshot ``ct/100`` (not the VM's)."""
    sim = simulator_factory(Scenario.from_dict(reused_cluster()))
    g = _coverage(sim)[100]
    assert g["last_backup"]["status"] == "failed"
    assert g["last_success"]["started"] >= night(18)
    assert g["last_success"]["archive"].startswith("ct/100/")
    assert g["pbs_snapshot"]["archive"].startswith("ct/100/")
    assert "failed" in g["problems"]


def test_container_created_today_does_not_inherit_the_deleted_vms_backups(
    simulator_factory: SimulatorFactory,
) -> None:
    """CT 101 was created this morning, after VM 101's last successful (and verified)
    backup: it has no backup at all, neither from the tasks nor from PBS."""
    sim = simulator_factory(Scenario.from_dict(reused_cluster()))
    for env in (None, {"PVE_PBS_CONTENT": "false"}):
        g = _coverage(sim, env)[101]
        assert g["last_backup"] is None and g["last_success"] is None
        assert g["pbs_snapshot"] is None and g["verification"] is None
        assert g["freshness"] != "fresh"
    assert _coverage(sim)[102]["freshness"] == "fresh"


def running_cluster() -> dict[str, Any]:
    """VM 100's backup started 16 hours ago and still runs (its PBS snapshot has no
    manifest yet); its previous success is three nights old."""
    data = reused_cluster()
    data["guests"] = [sim_guest(100, name="big")]
    start = NOW - 16 * H
    data["tasks"] = [
        _run(16, [LogGuest(100)]),
        vzdump_task(id="100", start=start, status="running", log="\n".join([
            "INFO: starting new backup job: vzdump 100 --storage pbs --mode snapshot",
            "INFO: Starting Backup of VM 100 (qemu)",
            f"INFO: Backup started at {vzdump_clock(start + 1)}",
            f"INFO: creating Proxmox Backup Server archive 'vm/100/{iso_utc(start + 1)}'",
            "INFO:   0% (1.2 GiB of 4.0 TiB) in 3s, read: 409.6 MiB/s, write: 0 B/s",
        ])),
    ]  # fmt: skip
    data["backups"] = [
        _snap(100, "qemu", 16, size=34359738368, verification="ok"),
        backup(100, ctime=start + 1, type="qemu", unfinished=True),
    ]
    return data


def test_pbs_lists_an_unfinished_snapshot_as_pve_does(
    simulator_factory: SimulatorFactory, sim_get: SimGet
) -> None:
    """proxmox-backup ``list_snapshots_blocking`` gives a snapshot without manifest no
    size and no verification; ``PBSPlugin::list_volumes`` shows ``size: 1``."""
    sim = simulator_factory(Scenario.from_dict(running_cluster()))
    items = sim_get(sim, "/nodes/pve1/storage/pbs/content", {"content": "backup"}).json()["data"]
    newest = max(items, key=lambda i: i["ctime"])
    assert newest["size"] == 1
    assert "verification" not in newest and "encrypted" not in newest
    assert "notes" not in newest


def test_unfinished_snapshot_is_not_a_success(simulator_factory: SimulatorFactory) -> None:
    """A backup stuck for 16 hours: its snapshot is listed, but the guest's latest
    success stays the one of the 16th (stale, older than the expected run)."""
    sim = simulator_factory(Scenario.from_dict(running_cluster()))
    g = _coverage(sim)[100]
    assert g["last_backup"]["status"] == "running"
    assert g["last_success"]["started"] < night(17)
    assert g["pbs_snapshot"]["ctime"] == night(16) + 2
    assert g["verification"] == "ok"
    assert g["freshness"] == "stale"
    proc = run(sim, "--now", str(NOW), "--no-cache")
    assert proc.returncode == 1, proc.stdout
    assert "stale" in proc.stdout.splitlines()[0]
