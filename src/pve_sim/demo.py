"""The demo cluster, built deterministically with :mod:`synth` whenever it is loaded
(``load_scenario("demo")``, about 0.2 s; nothing generated is committed).

``python -m pve_sim.synth --write-demo PATH`` writes it as YAML. The story is told in
``docs/simulator.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pve_sim.selection import included_guests
from pve_sim.synth import (
    BackupTarget,
    GuestRun,
    seeded,
    task_entry,
    vzdump_command,
    vzdump_run,
)
from pve_sim.timeutil import epoch_to_iso_z, parse_time, zone

__all__ = ["build_demo"]

NOW = parse_time("2026-11-20T12:00:00Z")  # a Friday, 13:00 in Paris
TZ = "Europe/Paris"
DAYS = 14
NODES = ("pve1", "pve2", "pve3")


@dataclass(frozen=True)
class _Guest:
    vmid: int
    type: str
    name: str
    node: str
    tags: str | None = None
    status: str = "running"
    disk_gib: int = 32
    mem_gib: int = 2
    cores: int = 2
    template: int = 0
    description: str | None = None
    hastate: str | None = None
    warnings: tuple[str, ...] = ()


_EFI_WARNING = "no efidisk configured! Using temporary efivars disk."

GUESTS = (
    _Guest(100, "qemu", "web1", "pve1", "prod;web", mem_gib=4, hastate="started",
           description="Main web server\nOwner: web team"),
    _Guest(101, "qemu", "web2", "pve1", "prod;web", mem_gib=4, hastate="started"),
    _Guest(102, "qemu", "db1", "pve1", "prod;db", disk_gib=200, mem_gib=16, cores=8,
           hastate="started", description="PostgreSQL primary"),
    _Guest(103, "qemu", "mail", "pve1", "mail", disk_gib=64, mem_gib=8),
    _Guest(104, "qemu", "monitoring", "pve1", "ops", mem_gib=4),
    _Guest(200, "lxc", "dns1", "pve1", "infra;dns", disk_gib=8, mem_gib=1, cores=1),
    _Guest(201, "lxc", "proxy", "pve1", "infra", disk_gib=8, mem_gib=1, cores=1),
    _Guest(9000, "qemu", "debian-12-template", "pve1", "template", status="stopped",
           disk_gib=8, template=1),
    _Guest(105, "qemu", "db2", "pve2", "prod;db", disk_gib=200, mem_gib=16, cores=8,
           hastate="started", description="PostgreSQL replica"),
    _Guest(106, "qemu", "erp", "pve2", "prod", disk_gib=120, mem_gib=12, cores=4),
    _Guest(107, "qemu", "fileserver", "pve2", "files", disk_gib=500, mem_gib=8,
           description="SMB shares; data disk on local-lvm"),
    _Guest(108, "qemu", "win-app", "pve2", "windows", disk_gib=80, mem_gib=8, cores=4,
           warnings=(_EFI_WARNING,)),
    _Guest(202, "lxc", "dns2", "pve2", "infra;dns", disk_gib=8, mem_gib=1, cores=1),
    _Guest(203, "lxc", "git", "pve2", "dev-tools", disk_gib=40, mem_gib=4),
    _Guest(204, "lxc", "ci-runner", "pve2", "dev;ci", disk_gib=40, mem_gib=8, cores=4),
    _Guest(208, "lxc", "log-collector", "pve2", "ops", disk_gib=60, mem_gib=2),
    _Guest(110, "qemu", "dev-web", "pve3", "dev;web"),
    _Guest(111, "qemu", "dev-db", "pve3", "dev;db", disk_gib=64, mem_gib=8),
    _Guest(112, "qemu", "build01", "pve3", "dev;ci", status="stopped", disk_gib=64),
    _Guest(113, "qemu", "win-ts", "pve3", "windows", disk_gib=100, mem_gib=16, cores=8,
           description="Terminal server; backed up to local storage only"),
    _Guest(114, "qemu", "legacy-app", "pve3", "legacy", status="stopped",
           description="Old ERP; only in the disabled legacy job"),
    _Guest(115, "qemu", "jump-host", "pve3", "infra", disk_gib=16),
    _Guest(205, "lxc", "wiki", "pve3", "docs", disk_gib=20, mem_gib=2),
    _Guest(206, "lxc", "sandbox", "pve3", "dev", disk_gib=16, mem_gib=2),
    _Guest(207, "lxc", "scratch", "pve3", None, status="stopped", disk_gib=8, mem_gib=1,
           description="Throw-away container, in no backup job"),
)  # fmt: skip

POOLS: tuple[dict[str, Any], ...] = (
    {"poolid": "prod", "comment": "Production", "members": [100, 101, 102, 105, 106]},
    {"poolid": "dev", "comment": "Development", "members": [110, 111, 112, 204, 206]},
)

_PBS_MAIN_FP = "7b:e1:3a:9f:54:0c:22:d8:91:6e:aa:03:b4:5f:c7:18:e2:0d:66:9a:31:f4:8c:57:b9:02:de:73:1a:c5:88:4e"  # noqa: E501
_PBS_OFFSITE_FP = "c4:19:8e:52:07:bb:d3:6a:f1:40:9c:2e:85:7d:13:e9:5a:b6:0f:c2:94:38:71:de:a7:26:4b:e0:1c:93:5f:d8"  # noqa: E501

STORAGES: tuple[dict[str, Any], ...] = (
    {"storage": "local", "type": "dir", "path": "/var/lib/vz", "content": "iso,vztmpl,backup"},
    {"storage": "local-lvm", "type": "lvmthin", "vgname": "pve", "thinpool": "data",
     "content": "rootdir,images"},
    {"storage": "pbs-main", "type": "pbs", "server": "192.0.2.10", "datastore": "main",
     "namespace": "prod", "username": "backup@pbs!pve", "content": "backup",
     "fingerprint": _PBS_MAIN_FP, "prune-backups": "keep-daily=14,keep-weekly=8", "shared": 1},
    {"storage": "pbs-offsite", "type": "pbs", "server": "198.51.100.20", "datastore": "offsite",
     "username": "sync@pbs!pve-offsite", "content": "backup", "nodes": "pve1,pve2",
     "fingerprint": _PBS_OFFSITE_FP, "prune-backups": "keep-weekly=12", "shared": 1},
)  # fmt: skip

DAILY = "backup-4f9a2c1e-7d3b"
POOL_JOB = "backup-c3a70e5f-92d1"
WEEKLY = "backup-e5b8194d-06af"
LOCAL = "backup-8e21d4b0-1c55"
LEGACY = "6e3db65d0e925f0314fbbdadf9c8808801be0c85:1"

# job id -> (job as /cluster/backup serves it, weekdays it runs on or None, hour, minute)
_JOBS: tuple[tuple[dict[str, Any], frozenset[int] | None, int, int], ...] = (
    ({"id": DAILY, "type": "vzdump", "enabled": 1, "schedule": "21:00", "storage": "pbs-main",
      "all": 1, "exclude": "110,111,112,113,114,204,205,206,207", "mode": "snapshot",
      "notes-template": "{{guestname}}", "comment": "Nightly backup of all guests"},
     None, 21, 0),
    ({"id": LEGACY, "enabled": 0, "schedule": "sat 01:00", "storage": "pbs-main", "vmid": "114",
      "mode": "snapshot", "mailnotification": "failure", "quiet": 1},
     None, 0, 0),
    ({"id": LOCAL, "type": "vzdump", "enabled": 1, "schedule": "22:30", "storage": "local",
      "vmid": "113", "mode": "stop", "compress": "zstd", "comment": "Terminal server to local"},
     None, 22, 30),
    ({"id": POOL_JOB, "type": "vzdump", "enabled": 1, "schedule": "mon..fri 02:00",
      "storage": "pbs-main", "pool": "dev", "mode": "snapshot", "comment": "Dev pool, workdays"},
     frozenset(range(5)), 2, 0),
    ({"id": WEEKLY, "type": "vzdump", "enabled": 1, "schedule": "sun 03:00",
      "storage": "pbs-main", "node": "pve3", "vmid": "200,205", "mode": "stop",
      "comment": "Weekly stop-mode backup of the wiki"},
     frozenset({6}), 3, 0),
)  # fmt: skip

_QMP_TIMEOUT = "VM 103 qmp command 'backup' failed - got timeout"
_IO_ERROR = "job failed with err -5 - Input/output error"
_NO_SPACE = (
    "unable to create temporary directory '/var/tmp/vzdumptmp{pid}_201' - No space left on device"
)

# (job id, local date of the run, vmid) -> error text
FAILURES: Mapping[tuple[str, str, int], str] = {
    (DAILY, "2026-11-19", 103): _QMP_TIMEOUT,
    (DAILY, "2026-11-10", 201): _NO_SPACE.format(pid=48211),
    **{(DAILY, f"2026-11-{day}", 107): _IO_ERROR for day in range(15, 20)},
}


def _runs(days: frozenset[int] | None, hour: int, minute: int) -> Iterator[int]:
    """Start epochs of a daily/weekday schedule in the node time zone, before NOW."""
    tz = zone(TZ)
    first = dt.datetime.fromtimestamp(NOW, tz).date() - dt.timedelta(days=DAYS)
    for offset in range(DAYS + 1):
        day = first + dt.timedelta(days=offset)
        if days is not None and day.weekday() not in days:
            continue
        start = int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp())
        if NOW - DAYS * 86400 <= start < NOW:
            yield start


def _next_run(days: frozenset[int] | None, hour: int, minute: int) -> int:
    tz = zone(TZ)
    day = dt.datetime.fromtimestamp(NOW, tz).date()
    while True:
        start = int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp())
        if start > NOW and (days is None or day.weekday() in days):
            return start
        day += dt.timedelta(days=1)


class _Clock:
    """Deterministic pid/pstart per node (pstart = clock ticks since boot)."""

    def __init__(self) -> None:
        self.boot = {n: NOW - 40 * 86400 - i * 3607 for i, n in enumerate(NODES)}

    def pid(self, node: str, start: int) -> int:
        return 1000 + (start - self.boot[node]) * 13 % 4_000_000

    def pstart(self, node: str, start: int) -> int:
        return (start - self.boot[node]) * 100 + 417


def _target(storage_id: str) -> BackupTarget:
    spec = next(s for s in STORAGES if s["storage"] == storage_id)
    if spec["type"] != "pbs":
        return BackupTarget(storage_id, "dir", path=str(spec["path"]))
    return BackupTarget(
        storage_id,
        "pbs",
        server=str(spec["server"]),
        datastore=str(spec["datastore"]),
        namespace=spec.get("namespace"),
        username=str(spec["username"]),
    )


def _verification(vmid: int, ctime: int) -> dict[str, str]:
    """Verified by a nightly PBS verification job, about nine hours after the backup."""
    verified_at = ctime + 9 * 3600 + (vmid % 50) * 7
    upid = (
        f"UPID:pbs:000004D2:0{verified_at % 0xFFFFFFF:07X}:00000000:{verified_at:08X}:"
        "verificationjob:main\\x3av\\x2d6a1f0c3e\\x2db2d4:root@pam:"
    )
    return {"state": "ok", "upid": upid}


def _backup_tasks(clock: _Clock) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    vmlist = {g.vmid: g.node for g in GUESTS}
    members = {str(p["poolid"]): list(p["members"]) for p in POOLS}
    tasks: list[dict[str, Any]] = []
    backups: list[dict[str, Any]] = []
    for job, days, hour, minute in _JOBS:
        if not job.get("enabled", 1):
            continue
        selected = included_guests(job, vmlist, members)
        for node_index, node in enumerate(NODES):
            if job.get("node") and job["node"] != node:
                continue
            local = selected.get(node, [])
            if not local and not job.get("all"):
                continue
            external = [v for n, vs in selected.items() if n not in (node, "") for v in vs]
            for start in _runs(days, hour, minute):
                task, snaps = _node_run(job, node, start + 1 + node_index, local, external, clock)
                tasks.append(task)
                backups += snaps
    _mark_special_backups(backups)
    return tasks, backups


def _node_run(
    job: dict[str, Any],
    node: str,
    start: int,
    local: list[int],
    external: list[int],
    clock: _Clock,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One node's task of one run of ``job``, and the snapshots it made."""
    guests = {g.vmid: g for g in GUESTS}
    target = _target(str(job["storage"]))
    date = dt.datetime.fromtimestamp(start, zone(TZ)).date().isoformat()
    runs = [
        GuestRun(
            g.vmid, g.type, g.name, status=g.status, disk_gib=g.disk_gib,
            error=FAILURES.get((str(job["id"]), date, g.vmid)),
            error_stage="transfer" if g.vmid == 107 else "start",
            warnings=g.warnings, template=bool(g.template),
        )
        for g in (guests[v] for v in local)
    ]  # fmt: skip
    run = vzdump_run(
        node=node, timezone=TZ, start=start, command=vzdump_command(job), guests=runs,
        target=target, mode=str(job.get("mode", "snapshot")), external=external,
        notes=bool(job.get("notes-template")),
    )  # fmt: skip
    task = task_entry(
        node, "vzdump", start, end=run.endtime, log=run.log,
        task_id=str(local[0]) if len(local) == 1 else "",
        pid=clock.pid(node, start), pstart=clock.pstart(node, start),
    )  # fmt: skip
    snaps = []
    for snap in run.snapshots:
        entry: dict[str, Any] = {
            "storage": target.storage, "vmid": snap.vmid, "type": snap.type,
            "ctime": epoch_to_iso_z(snap.ctime), "size": snap.size,
        }  # fmt: skip
        if target.type == "pbs":
            entry["verification"] = _verification(snap.vmid, snap.ctime)
        if job.get("notes-template"):
            entry["notes"] = guests[snap.vmid].name
        snaps.append(entry)
    return task, snaps


def _mark_special_backups(backups: list[dict[str, Any]]) -> None:
    """db1's newest snapshot failed verification; one old db1 snapshot is protected."""
    db1 = [b for b in backups if b["vmid"] == 102]
    newest = max(db1, key=lambda b: parse_time(b["ctime"]))
    newest["verification"]["state"] = "failed"
    oldest = min(db1, key=lambda b: parse_time(b["ctime"]))
    oldest["protected"] = 1


_APT_LOG = "\n".join(
    [
        "starting apt-get update",
        "Hit:1 http://security.debian.org/debian-security bookworm-security InRelease",
        "Hit:2 http://deb.debian.org/debian bookworm InRelease",
        "Hit:3 http://deb.debian.org/debian bookworm-updates InRelease",
        "Hit:4 http://download.proxmox.com/debian/pve bookworm InRelease",
        "Reading package lists...",
        "TASK OK",
    ]
)


def _other_tasks(clock: _Clock) -> list[dict[str, Any]]:
    """Daily aptupdate per node, a few console sessions and admin actions."""
    tasks = []
    for node_index, node in enumerate(NODES):
        rng = seeded("aptupdate", node)
        for day in range(DAYS, 0, -1):
            start = NOW - day * 86400 - 7 * 3600 + node_index * 600 + rng.randint(0, 300)
            tasks.append(
                task_entry(
                    node,
                    "aptupdate",
                    start,
                    end=start + rng.randint(4, 12),
                    log=_APT_LOG,
                    pid=clock.pid(node, start),
                    pstart=clock.pstart(node, start),
                )
            )

    def admin(
        node: str,
        kind: str,
        when: str,
        seconds: int | None,
        vmid: str,
        user: str = "admin@pam",
        log: str = "TASK OK",
    ) -> None:
        start = parse_time(when)
        end = None if seconds is None else start + seconds
        tasks.append(
            task_entry(
                node,
                kind,
                start,
                end=end,
                log=log,
                task_id=vmid,
                user=user,
                pid=clock.pid(node, start),
                pstart=clock.pstart(node, start),
            )
        )

    admin("pve1", "vncproxy", "2026-11-18T09:02:11Z", 1740, "100")
    admin("pve2", "qmshutdown", "2026-11-16T08:14:03Z", 41, "107")
    admin("pve2", "qmstart", "2026-11-16T08:15:10Z", 3, "107")
    admin("pve2", "vncproxy", "2026-11-16T08:15:20Z", 900, "107")
    admin("pve1", "qmstart", "2026-11-20T07:45:31Z", 2, "103")
    admin(
        "pve3",
        "srvreload",
        "2026-11-13T10:21:44Z",
        1,
        "networking",
        log="command 'ifreload -a' failed: exit code 1\nTASK ERROR: command 'ifreload -a' "
        "failed: exit code 1",
    )
    admin("pve2", "vncproxy", "2026-11-20T11:40:02Z", None, "106", user="admin@pve", log="")
    return tasks


def _guest_entry(g: _Guest) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "vmid": g.vmid,
        "type": g.type,
        "name": g.name,
        "node": g.node,
        "status": g.status,
        "template": g.template,
    }
    if g.tags:
        entry["tags"] = g.tags
    if g.description:
        entry["description"] = g.description
    if g.hastate:
        entry["hastate"] = g.hastate
    entry.update(maxcpu=g.cores, maxmem=g.mem_gib * 1024**3, maxdisk=g.disk_gib * 1024**3)
    return entry


def build_demo() -> dict[str, Any]:
    """The demo scenario as a plain dict, ready to be dumped as YAML."""
    clock = _Clock()
    tasks, backups = _backup_tasks(clock)
    tasks += _other_tasks(clock)
    tasks.sort(key=lambda t: (t["node"], t["starttime"]))
    backups.sort(key=lambda b: (b["storage"], b["vmid"], b["ctime"]))
    jobs = []
    for job, days, hour, minute in _JOBS:
        served = dict(job)
        if "type" in served:
            served["next-run"] = _next_run(days, hour, minute)
        jobs.append(served)
    return {
        "now": epoch_to_iso_z(NOW),
        "latency_ms": 0,
        "version": {"version": "8.3.0", "release": "8.3", "repoid": "c1689ccb1065a83b"},
        "cluster_name": "demo",
        "token": {
            "id": "monitor@pve!check",
            "secret": "5d6c1a4e-2b7f-4c1d-9e8a-0f3b2c1d4e5f",
            "privileges": {
                "/": ["PVEAuditor"],
                "/storage": ["Datastore.AllocateSpace"],
                "/vms": ["VM.Backup"],
            },
        },
        "nodes": [
            {"node": n, "status": "online", "timezone": TZ, "vzdump_defaults": {"storage": "local"}}
            for n in NODES
        ],
        "storages": [dict(s) for s in STORAGES],
        "pools": [dict(p) for p in POOLS],
        "guests": [_guest_entry(g) for g in sorted(GUESTS, key=lambda g: g.vmid)],
        "jobs": jobs,
        "tasks": tasks,
        "backups": backups,
        "faults": [],
        "pbs": _pbs(),
    }


def _pbs() -> dict[str, Any]:
    """The demo's PBS: a read-only token (DatastoreAudit), usage, GC and verify runs."""
    return {
        "node": "pbs",
        "token": {
            "id": "monitor@pbs!check",
            "secret": "11111111-2222-3333-4444-555555555555",
            "privileges": {"/datastore": ["DatastoreAudit"]},
        },
        "datastores": {
            "main": {
                "total": 8 * 1024**4,
                "used": 3518437208883,
                "estimated_full": "2027-09-14T00:00:00Z",
                "gc": {"last_run": "2026-11-20T02:31:00Z", "state": "OK", "schedule": "daily"},
                "verify": [
                    {
                        "id": "v-6a1f0c3e-b2d4",
                        "schedule": "daily",
                        "last_run": "2026-11-20T04:12:00Z",
                        "state": "OK",
                    }
                ],
            },
            "offsite": {
                "total": 16 * 1024**4,
                "used": 5277655813324,
                "gc": {"last_run": "2026-11-15T05:02:00Z", "state": "OK", "schedule": "sat 05:00"},
            },
        },
    }
