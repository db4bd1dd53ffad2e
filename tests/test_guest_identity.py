"""Whose backup is it: VMIDs reused by a guest of the other type, unfinished snapshots.

Scenarios written from upstream code:

* pve-storage ``PVE/Storage/PBSPlugin.pm`` ``list_volumes`` lists PBS groups by type,
  ``backup/vm/100/...`` and ``backup/ct/100/...``; pve-manager ``PVE/VZDump.pm``
  ``exec_backup_task`` logs ``Starting Backup of VM 100 (qemu)`` or ``(lxc)``.
* proxmox-backup ``src/api2/admin/datastore.rs`` ``list_snapshots_blocking`` lists a
  snapshot without a manifest (a backup still running) with no size and no verification;
  ``PBSPlugin::list_volumes`` shows its size as 1.
"""

from __future__ import annotations

import json
from typing import Any

from conftest import SimGet, SimulatorFactory
from pve_backup_report.timeutil import iso_utc, parse_timestamp
from pve_sim import Scenario
from test_check_cli import run

NOW = parse_timestamp("2026-11-20T12:00:00Z")
H = 3600


def _night(day: int) -> int:
    return parse_timestamp(f"2026-11-{day:02d}T21:00:00Z")


def _clock(t: int) -> str:
    return (iso_utc(t) or "").replace("T", " ").rstrip("Z")


def _guest_lines(vmid: int, kind: str, start: int, error: str | None = None) -> list[str]:
    """One guest's section as ``PVE::VZDump::exec_backup_task`` logs it."""
    group = "vm" if kind == "qemu" else "ct"
    lines = [f"INFO: Starting Backup of VM {vmid} ({kind})",
             f"INFO: Backup started at {_clock(start)}"]  # fmt: skip
    if error is not None:
        return [*lines, f"ERROR: Backup of VM {vmid} failed - {error}",
                f"INFO: Failed at {_clock(start + 20)}"]  # fmt: skip
    return [
        *lines,
        f"INFO: creating Proxmox Backup Server archive '{group}/{vmid}/{iso_utc(start)}'",
        f"INFO: Finished Backup of VM {vmid} (00:00:20)",
        f"INFO: Backup finished at {_clock(start + 20)}",
    ]


def _run(day: int, guests: list[tuple[int, str, str | None]]) -> dict[str, Any]:
    """The 21:00 run of the ``all`` job on pve1 with these (vmid, type, error) guests."""
    start = _night(day) + 1
    lines = ["INFO: starting new backup job: vzdump --all 1 --storage pbs --mode snapshot"]
    t = start + 1
    for vmid, kind, error in guests:
        lines += _guest_lines(vmid, kind, t, error)
        t += 30
    failed = any(e is not None for _, _, e in guests)
    lines.append("INFO: Backup job finished " + ("with errors" if failed else "successfully"))
    lines.append("TASK ERROR: job errors" if failed else "TASK OK")
    return {"node": "pve1", "type": "vzdump", "starttime": start, "endtime": t + 1,
            "log": "\n".join(lines)}  # fmt: skip


def _snap(vmid: int, kind: str, day: int, **extra: Any) -> dict[str, Any]:
    return {"storage": "pbs", "vmid": vmid, "type": kind, "ctime": _night(day) + 2, **extra}


def reused_cluster() -> dict[str, Any]:
    """pve1, an ``all`` job at 21:00.

    * VM 100 backed up until the 15th, deleted on the 16th; CT 100 created on the 16th,
      backed up on the 16th, 17th and 18th, failed on the 19th.
    * VM 101 backed up until last night, deleted this morning; CT 101 created at 09:00.
    * 102 a VM that was never touched (control).
    """
    tasks = []
    for day in range(10, 20):
        guests: list[tuple[int, str, str | None]] = []
        guests.append(
            (100, "qemu", None)
            if day <= 15
            else (100, "lxc", "unable to open file - No space left" if day == 19 else None)
        )
        guests += [(101, "qemu", None), (102, "qemu", None)]
        tasks.append(_run(day, guests))
    backups = [_snap(100, "qemu", d) for d in range(10, 16)]
    backups += [_snap(100, "lxc", d, size=2 * 1024**3) for d in (16, 17, 18)]
    backups += [_snap(101, "qemu", d, verification="ok") for d in range(10, 20)]
    backups += [_snap(102, "qemu", d) for d in range(10, 20)]
    return {
        "now": NOW,
        "token": {"id": "monitor@pve!check", "secret": "s",
                  "privileges": {"/": ["PVEAuditor"], "/storage/pbs": ["Datastore.Allocate"]}},
        "nodes": [{"node": "pve1", "status": "online", "timezone": "UTC"}],
        "storages": [{"storage": "pbs", "type": "pbs", "server": "192.0.2.10",
                      "datastore": "main", "content": "backup"}],
        "guests": [
            {"vmid": 100, "type": "lxc", "name": "new-ct", "node": "pve1", "status": "running"},
            {"vmid": 101, "type": "lxc", "name": "fresh-ct", "node": "pve1",
             "status": "running"},
            {"vmid": 102, "type": "qemu", "name": "vm", "node": "pve1", "status": "running"},
        ],
        "jobs": [{"id": "daily", "type": "vzdump", "enabled": 1, "schedule": "21:00",
                  "storage": "pbs", "all": 1, "mode": "snapshot"}],
        "tasks": tasks,
        "backups": backups,
    }  # fmt: skip


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
    assert g["last_success"]["started"] >= _night(18)
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
    data["guests"] = [{"vmid": 100, "type": "qemu", "name": "big", "node": "pve1",
                       "status": "running"}]  # fmt: skip
    start = NOW - 16 * H
    data["tasks"] = [
        _run(16, [(100, "qemu", None)]),
        {"node": "pve1", "type": "vzdump", "id": "100", "starttime": start, "status": "running",
         "log": "\n".join([
             "INFO: starting new backup job: vzdump 100 --storage pbs --mode snapshot",
             "INFO: Starting Backup of VM 100 (qemu)",
             f"INFO: Backup started at {_clock(start + 1)}",
             f"INFO: creating Proxmox Backup Server archive 'vm/100/{iso_utc(start + 1)}'",
             "INFO:   0% (1.2 GiB of 4.0 TiB) in 3s, read: 409.6 MiB/s, write: 0 B/s",
         ])},
    ]  # fmt: skip
    data["backups"] = [
        _snap(100, "qemu", 16, size=34359738368, verification="ok"),
        {"storage": "pbs", "vmid": 100, "type": "qemu", "ctime": start + 1, "unfinished": True},
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
    assert g["last_success"]["started"] < _night(17)
    assert g["pbs_snapshot"]["ctime"] == _night(16) + 2
    assert g["verification"] == "ok"
    assert g["freshness"] == "stale"
    proc = run(sim, "--now", str(NOW), "--no-cache")
    assert proc.returncode == 1, proc.stdout
    assert "stale" in proc.stdout.splitlines()[0]
