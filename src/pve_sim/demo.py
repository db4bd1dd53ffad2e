"""The demo cluster: a preset of the generator's model, built whenever it is loaded
(``load_scenario("demo")``; nothing generated is committed).

The preset is data: the nodes, storages, pools, guests and jobs of the cluster, and what
happens in its 14 days of history (``EVENTS``: scripted failures, a guest failing for days,
a warning, a failed verification, a protected snapshot; ``ADMIN``: the administrators'
tasks). :func:`pve_sim.generate.play` turns it into the scenario with the same functions
that build generated clusters (runs, task logs, other tasks, backups, pruning,
verification), and ``truth.ground_truth`` states what the check must say about it.

``python -m pve_sim.synth --write-demo PATH`` writes it as YAML. The story is told in
``docs/simulator.md``.
"""

from __future__ import annotations

from typing import Any

from pve_sim.generate import TZ, AdminTask, Generated, play
from pve_sim.lifecycle import Lifecycle
from pve_sim.runs import EFI_WARNING, Events
from pve_sim.timeutil import epoch_to_iso_z, parse_time

__all__ = ["build_demo", "demo_cluster"]

NOW = parse_time("2026-11-20T12:00:00Z")  # a Friday, 13:00 in Paris
DAYS = 14
NODES = ("pve1", "pve2", "pve3")


def _guest(
    vmid: int,
    kind: str,
    name: str,
    node: str,
    tags: str | None,
    *,
    status: str = "running",
    disk_gib: int = 32,
    mem_gib: int = 2,
    cores: int = 2,
    template: int = 0,
    description: str | None = None,
    hastate: str | None = None,
) -> dict[str, Any]:
    """A ``guests`` item of the scenario."""
    entry: dict[str, Any] = {
        "vmid": vmid, "type": kind, "name": name, "node": node, "status": status,
        "template": template,
    }  # fmt: skip
    if tags:
        entry["tags"] = tags
    if description:
        entry["description"] = description
    if hastate:
        entry["hastate"] = hastate
    entry.update(maxcpu=cores, maxmem=mem_gib * 1024**3, maxdisk=disk_gib * 1024**3)
    return entry


GUESTS = (
    _guest(100, "qemu", "web1", "pve1", "prod;web", mem_gib=4, hastate="started",
           description="Main web server\nOwner: web team"),
    _guest(101, "qemu", "web2", "pve1", "prod;web", mem_gib=4, hastate="started"),
    _guest(102, "qemu", "db1", "pve1", "prod;db", disk_gib=200, mem_gib=16, cores=8,
           hastate="started", description="PostgreSQL primary"),
    _guest(103, "qemu", "mail", "pve1", "mail", disk_gib=64, mem_gib=8),
    _guest(104, "qemu", "monitoring", "pve1", "ops", mem_gib=4),
    _guest(200, "lxc", "dns1", "pve1", "infra;dns", disk_gib=8, mem_gib=1, cores=1),
    _guest(201, "lxc", "proxy", "pve1", "infra", disk_gib=8, mem_gib=1, cores=1),
    _guest(9000, "qemu", "debian-12-template", "pve1", "template", status="stopped",
           disk_gib=8, template=1),
    _guest(105, "qemu", "db2", "pve2", "prod;db", disk_gib=200, mem_gib=16, cores=8,
           hastate="started", description="PostgreSQL replica"),
    _guest(106, "qemu", "erp", "pve2", "prod", disk_gib=120, mem_gib=12, cores=4),
    _guest(107, "qemu", "fileserver", "pve2", "files", disk_gib=500, mem_gib=8,
           description="SMB shares; data disk on local-lvm"),
    _guest(108, "qemu", "win-app", "pve2", "windows", disk_gib=80, mem_gib=8, cores=4),
    _guest(202, "lxc", "dns2", "pve2", "infra;dns", disk_gib=8, mem_gib=1, cores=1),
    _guest(203, "lxc", "git", "pve2", "dev-tools", disk_gib=40, mem_gib=4),
    _guest(204, "lxc", "ci-runner", "pve2", "dev;ci", disk_gib=40, mem_gib=8, cores=4),
    _guest(208, "lxc", "log-collector", "pve2", "ops", disk_gib=60, mem_gib=2),
    _guest(110, "qemu", "dev-web", "pve3", "dev;web"),
    _guest(111, "qemu", "dev-db", "pve3", "dev;db", disk_gib=64, mem_gib=8),
    _guest(112, "qemu", "build01", "pve3", "dev;ci", status="stopped", disk_gib=64),
    _guest(113, "qemu", "win-ts", "pve3", "windows", disk_gib=100, mem_gib=16, cores=8,
           description="Terminal server; backed up to local storage only"),
    _guest(114, "qemu", "legacy-app", "pve3", "legacy", status="stopped",
           description="Old ERP; only in the disabled legacy job"),
    _guest(115, "qemu", "jump-host", "pve3", "infra", disk_gib=16),
    _guest(205, "lxc", "wiki", "pve3", "docs", disk_gib=20, mem_gib=2),
    _guest(206, "lxc", "sandbox", "pve3", "dev", disk_gib=16, mem_gib=2),
    _guest(207, "lxc", "scratch", "pve3", None, status="stopped", disk_gib=8, mem_gib=1,
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

# the jobs as /cluster/backup serves them (``play`` adds ``next-run``)
JOBS: tuple[dict[str, Any], ...] = (
    {"id": DAILY, "type": "vzdump", "enabled": 1, "schedule": "21:00", "storage": "pbs-main",
      "all": 1, "exclude": "110,111,112,113,114,204,205,206,207", "mode": "snapshot",
      "notes-template": "{{guestname}}", "comment": "Nightly backup of all guests"},
    {"id": LEGACY, "enabled": 0, "schedule": "sat 01:00", "storage": "pbs-main", "vmid": "114",
      "mode": "snapshot", "mailnotification": "failure", "quiet": 1},
    {"id": LOCAL, "type": "vzdump", "enabled": 1, "schedule": "22:30", "storage": "local",
      "vmid": "113", "mode": "stop", "compress": "zstd", "comment": "Terminal server to local"},
    {"id": POOL_JOB, "type": "vzdump", "enabled": 1, "schedule": "mon..fri 02:00",
      "storage": "pbs-main", "pool": "dev", "mode": "snapshot", "comment": "Dev pool, workdays"},
    {"id": WEEKLY, "type": "vzdump", "enabled": 1, "schedule": "sun 03:00",
      "storage": "pbs-main", "node": "pve3", "vmid": "200,205", "mode": "stop",
      "comment": "Weekly stop-mode backup of the wiki"},
)  # fmt: skip

_QMP_TIMEOUT = "VM 103 qmp command 'backup' failed - got timeout"
_NO_SPACE = (
    "unable to create temporary directory '/var/tmp/vzdumptmp{pid}_201' - No space left on device"
)

# What happens besides the schedules: 103 fails last night, 201 once on Nov 10, 107's
# disk fails from Sunday Nov 15 on (every run since fails mid-transfer), 108 has no EFI
# disk; db1's newest snapshot fails verification and its oldest is protected.
EVENTS = Events(
    scripted={
        (DAILY, "2026-11-19", 103): _QMP_TIMEOUT,
        (DAILY, "2026-11-10", 201): _NO_SPACE.format(pid=48211),
    },
    chronic={107: parse_time("2026-11-15T00:00:00+01:00")},
    warnings={108: (EFI_WARNING,)},
    verify_failed=frozenset({("pbs-main", 102, "2026-11-19")}),
    protected=frozenset({102}),
)

_IFRELOAD = "command 'ifreload -a' failed: exit code 1"

# The administrators' tasks: console sessions, a shutdown and start of 107, a start of
# 103, a failed network reload, and a console session still open.
ADMIN = (
    AdminTask("pve1", "vncproxy", parse_time("2026-11-18T09:02:11Z"), 1740, "100"),
    AdminTask("pve2", "qmshutdown", parse_time("2026-11-16T08:14:03Z"), 41, "107"),
    AdminTask("pve2", "qmstart", parse_time("2026-11-16T08:15:10Z"), 3, "107"),
    AdminTask("pve2", "vncproxy", parse_time("2026-11-16T08:15:20Z"), 900, "107"),
    AdminTask("pve1", "qmstart", parse_time("2026-11-20T07:45:31Z"), 2, "103"),
    AdminTask("pve3", "srvreload", parse_time("2026-11-13T10:21:44Z"), 1, "networking",
              log=f"{_IFRELOAD}\nTASK ERROR: {_IFRELOAD}"),
    AdminTask("pve2", "vncproxy", parse_time("2026-11-20T11:40:02Z"), None, "106",
              user="admin@pve", log=""),
)  # fmt: skip


def _config() -> dict[str, Any]:
    """The cluster's configuration as a scenario dict (no tasks, backups nor faults)."""
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
        "pools": [dict(p, members=list(p["members"])) for p in POOLS],
        "guests": [dict(g) for g in sorted(GUESTS, key=lambda g: int(g["vmid"]))],
        "jobs": [dict(j) for j in JOBS],
        "pbs": _pbs(),
    }


def demo_cluster() -> Generated:
    """The demo played by the generator's model, with what happened in it (for
    ``truth.ground_truth``)."""
    data = _config()
    life = Lifecycle.unchanged(data["guests"])
    return play(data, life, DAYS, NOW, EVENTS, "demo", visitors=False, admin=ADMIN)


def build_demo() -> dict[str, Any]:
    """The demo scenario as a plain dict, ready to be dumped as YAML."""
    return demo_cluster().data


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
