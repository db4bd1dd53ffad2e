"""A large, synthetic but realistic cluster for benchmarks: ``generate_scenario``.

``python -m pve_sim --generate nodes=32,guests=10000,jobs=60,days=14,seed=1``
serves it (or writes it as YAML with ``--output FILE``). The same arguments always give the
same scenario.

What it contains (see docs/simulator.md and docs/performance.md):

* nodes ``pve01``.. in Europe/Paris; storages ``local`` (dir, per node), ``local-lvm``,
  ``nfs-backup`` (shared NFS) and 2-3 PBS storages (``keep-last=3``);
* guests (about 30 % containers, a few templates and stopped guests, notes on a third),
  about half of them in pools;
* jobs with real schedules: daily jobs at different evening/night times (some weekdays
  only) selecting a pool, a VMID list, or all guests of one node (``all`` + ``exclude``,
  node-restricted; cluster-wide on small clusters); a few hourly / 6-hourly jobs for a
  handful of guests of one node; weekly jobs; a few disabled and a few non-PBS jobs (one
  a ``dumpdir`` job); notes templates, some needing shell quotes; two legacy
  ``vzdump.cron`` jobs, one commented out (``"enabled": ""``). A few guests are in no job,
  only in a disabled job, only in a non-PBS job or only in a weekly job;
* what happens to the guests (``lifecycle.py``): the last node is drained (its guests
  migrate), a VM is deleted and its VMID reused by a container, guests are created this
  morning;
* ``days`` of vzdump history (``runs.py``): one task per node per run, listing the guests
  the job selected there at that time in ascending VMID order (``log_recipe``: the log is
  rendered by the simulator when asked, so a 10,000-guest history stays small), with a
  few guest failures (one recent, a few failing for days), runs that die before their
  guests (last night's PBS outage, lock timeouts behind a run that hangs since last
  night); plus non-backup tasks (aptupdate, vncproxy, qmstart, qmshutdown, migrations,
  deletion and creations);
* PBS content consistent with the history: the newest 3 snapshots per group and storage,
  verified by a daily 06:00 verification job (a few failed), a few protected, and the
  unfinished snapshot of the hanging run.

``generate_cluster`` also returns what the generator made happen: ``truth.py`` turns it
into the ground truth per guest.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pve_backup_report.pve.schedule import next_event, parse_event
from pve_sim.lifecycle import Lifecycle, changed, plan_lifecycle, reuse_window
from pve_sim.prune import parse_prune, prune_keep
from pve_sim.runs import EFI_WARNING, Events, History, Pids, build_history, enabled, events
from pve_sim.scenario import Scenario, TaskSpec
from pve_sim.selection import included_guests
from pve_sim.synth import LOCKWAIT_MINUTES, seeded
from pve_sim.timeutil import epoch_to_iso_z, local_datetime, parse_time, zone

__all__ = [
    "DEFAULT_NOW",
    "TOKEN_ID",
    "TOKEN_SECRET",
    "AdminTask",
    "GenerateSpec",
    "Generated",
    "generate_cluster",
    "generate_scenario",
    "parse_spec",
    "play",
    "task_guests",
]

DEFAULT_NOW = "2026-11-20T12:00:00Z"  # a Friday, 13:00 in Paris (as the demo)
TZ = "Europe/Paris"
GIB = 1024**3
TOKEN_ID = "monitor@pve!check"
TOKEN_SECRET = "6f1d2c3b-0a9e-4d8c-b7a6-5e4f3d2c1b0a"  # a benchmark value, not a secret


@dataclass(frozen=True)
class GenerateSpec:
    nodes: int = 3
    guests: int = 60
    jobs: int = 6
    days: int = 14
    seed: int = 1

    def as_text(self) -> str:
        return (
            f"nodes={self.nodes},guests={self.guests},jobs={self.jobs},"
            f"days={self.days},seed={self.seed}"
        )


def parse_spec(text: str) -> GenerateSpec:
    """``nodes=N,guests=N,jobs=N,days=N,seed=N`` (any subset; defaults otherwise)."""
    values: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or key not in ("nodes", "guests", "jobs", "days", "seed"):
            raise ValueError(f"expected key=N with key nodes, guests, jobs, days or seed: {part!r}")
        try:
            values[key] = int(raw)
        except ValueError:
            raise ValueError(f"{key}: not an integer: {raw!r}") from None
    spec = GenerateSpec(**values)
    if spec.nodes < 1 or spec.guests < 1 or spec.jobs < 1 or spec.days < 1:
        raise ValueError("nodes, guests, jobs and days must be at least 1")
    if spec.guests > 900_000:
        raise ValueError("at most 900000 guests")
    return spec


# --------------------------------------------------------------------------- building blocks

_ROLES = (
    # role, weight, type (None: either), disk GiB choices, memory GiB
    ("web", 18, None, (16, 32), 4),
    ("app", 18, None, (32, 64), 8),
    ("db", 8, "qemu", (100, 200), 16),
    ("cache", 5, "lxc", (8, 16), 4),
    ("mq", 3, None, (16, 32), 4),
    ("ci", 6, "lxc", (32, 64), 8),
    ("dns", 2, "lxc", (8,), 1),
    ("proxy", 4, "lxc", (8,), 2),
    ("mail", 2, "qemu", (64,), 8),
    ("files", 3, "qemu", (200, 500), 8),
    ("mon", 3, None, (32,), 4),
    ("win", 6, "qemu", (80, 100), 8),
    ("dev", 12, None, (16, 32), 4),
    ("archive", 1, "qemu", (500,), 4),
)
_POOL_BASES = ("prod", "dev", "test", "infra", "web", "data", "erp", "mail", "ci", "ops")
_DAILY = (
    "21:00",
    "21:30",
    "22:00",
    "22:30",
    "23:00",
    "23:30",
    "00:30",
    "01:00",
    "01:30",
    "02:00",
    "mon..fri 02:00",
    "mon..fri 22:00",
    "20:15",
)
_FREQUENT = ("hourly", "0/6:00", "*/2:15")
# Notes templates as admins write them; the task log shows them shell-quoted.
_NOTES = (
    "{{guestname}}",
    "{{guestname}}",
    "{{guestname}} keep 2 weeks",
    "{{cluster}}/{{node}}: {{guestname}}",
    "{{guestname}} (team's copy)",
)
_DUMPDIR = "/mnt/usb-backup/dump"
_WEEKLY = ("sun 03:00", "sat 22:00", "sun 01:30")


def _fingerprint(rng: random.Random) -> str:
    return ":".join(f"{rng.getrandbits(8):02x}" for _ in range(32))


def _storages(nodes: Sequence[str], rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "storage": "local",
            "type": "dir",
            "path": "/var/lib/vz",
            "content": "iso,vztmpl,backup",
            "prune-backups": "keep-last=2",
        },
        {
            "storage": "local-lvm",
            "type": "lvmthin",
            "vgname": "pve",
            "thinpool": "data",
            "content": "rootdir,images",
        },
        {
            "storage": "nfs-backup",
            "type": "nfs",
            "server": "192.0.2.50",
            "export": "/export/pve-backup",
            "path": "/mnt/pve/nfs-backup",
            "content": "backup",
            "shared": 1,
            "prune-backups": "keep-last=2",
        },
    ]
    pbs = [("pbs-a", "192.0.2.10", "main", "prod"), ("pbs-b", "192.0.2.11", "second", None)]
    if len(nodes) >= 4:
        pbs.append(("pbs-offsite", "198.51.100.20", "offsite", None))
    for sid, server, datastore, namespace in pbs:
        item: dict[str, Any] = {
            "storage": sid,
            "type": "pbs",
            "server": server,
            "datastore": datastore,
            "username": f"pve@pbs!{sid}",
            "content": "backup",
            "shared": 1,
            "fingerprint": _fingerprint(rng),
            "prune-backups": "keep-last=3",
        }
        if namespace:
            item["namespace"] = namespace
        out.append(item)
    return out


def _pick_role(rng: random.Random) -> tuple[str, str | None, tuple[int, ...], int]:
    total = sum(r[1] for r in _ROLES)
    x = rng.uniform(0, total)
    for role, weight, kind, disks, mem in _ROLES:
        x -= weight
        if x <= 0:
            return role, kind, disks, mem
    role, _, kind, disks, mem = _ROLES[-1]
    return role, kind, disks, mem


def _guests(count: int, nodes: Sequence[str], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    seq: dict[str, int] = {}
    vmid = 100
    for _ in range(count):
        role, kind, disks, mem = _pick_role(rng)
        kind = kind or ("lxc" if rng.random() < 0.35 else "qemu")
        seq[role] = seq.get(role, 0) + 1
        template = kind == "qemu" and role == "dev" and rng.random() < 0.04
        status = "stopped" if template or rng.random() < 0.08 else "running"
        entry: dict[str, Any] = {
            "vmid": vmid,
            "type": kind,
            "name": f"{role}-{seq[role]:04d}" if not template else f"{role}-tpl-{seq[role]}",
            "node": nodes[rng.randrange(len(nodes))],
            "status": status,
            "template": int(template),
            "tags": f"{role};{rng.choice(('prod', 'prod', 'dev', 'test'))}",
        }
        if rng.random() < 0.3:
            entry["description"] = f"{role} server\nOwner: team-{rng.randint(1, 40):02d}"
        disk = rng.choice(disks)
        entry.update(maxcpu=rng.choice((1, 2, 4, 8)), maxmem=mem * GIB, maxdisk=disk * GIB)
        out.append(entry)
        vmid += 1 if rng.random() < 0.9 else rng.randint(2, 5)  # a few gaps
    return out


def _pools(
    guests: Sequence[dict[str, Any]], rng: random.Random, skip: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    count = max(2, min(40, len(guests) // 250))
    names = [
        base if k < len(_POOL_BASES) else f"{base}-{k // len(_POOL_BASES) + 1}"
        for k, base in ((k, _POOL_BASES[k % len(_POOL_BASES)]) for k in range(count))
    ]
    members: dict[str, list[int]] = {n: [] for n in names}
    for g in guests:
        if int(g["vmid"]) not in skip and rng.random() < 0.5:
            members[rng.choice(names)].append(int(g["vmid"]))
    return [{"poolid": n, "comment": f"{n} guests", "members": sorted(members[n])} for n in names]


def _job_id(rng: random.Random) -> str:
    return f"backup-{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}"


def _take(pool: list[int], n: int, rng: random.Random) -> list[int]:
    """Remove and return ``n`` random items of ``pool``."""
    chosen: list[int] = []
    for _ in range(min(n, len(pool))):
        chosen.append(pool.pop(rng.randrange(len(pool))))
    return sorted(chosen)


def _vmid_list(vmids: Sequence[int]) -> str:
    return ",".join(str(v) for v in sorted(vmids))


def _jobs(
    count: int,
    nodes: Sequence[str],
    guests: Sequence[dict[str, Any]],
    pools: Sequence[dict[str, Any]],
    storages: Sequence[dict[str, Any]],
    rng: random.Random,
    new: frozenset[int] = frozenset(),
) -> list[dict[str, Any]]:
    """The backup jobs (see the module docstring for the mix).

    ``new`` guests are created today on the first node: only its ``all`` job takes them.
    """
    mix = _JobMix(count, nodes, guests, storages, rng, new)
    special = mix.set_aside(pools)
    mix.primary(pools, special)
    mix.frequent(special)
    mix.weekly(special)
    mix.retired()
    mix.to_files()
    candidates = sorted(v for v in mix.node_of if v not in special | new)
    mix.fill(candidates)
    if not mix.small:
        mix.jobs[:0] = _legacy_jobs(candidates, mix.legacy_off, mix.primary_pbs[0], mix.legacy_rng)
    return mix.jobs


class _JobMix:
    """The jobs of :func:`_jobs`, built kind by kind (the random draws keep their order,
    so a seed gives the same cluster as before)."""

    def __init__(
        self,
        count: int,
        nodes: Sequence[str],
        guests: Sequence[dict[str, Any]],
        storages: Sequence[dict[str, Any]],
        rng: random.Random,
        new: frozenset[int],
    ) -> None:
        pbs = [s["storage"] for s in storages if s["type"] == "pbs"]
        self.primary_pbs = [s for s in pbs if s != "pbs-offsite"]
        self.weekly_pbs = "pbs-offsite" if "pbs-offsite" in pbs else pbs[-1]
        self.count, self.nodes, self.guests, self.rng, self.new = count, nodes, guests, rng, new
        self.small = count < 6
        self.n_disabled = 0 if self.small else max(1, count // 20)
        self.n_nonpbs = 0 if self.small else max(1, count // 20)
        self.n_frequent = 0 if self.small else max(1, count // 20)
        self.n_weekly = 0 if count < 3 else max(1, count // 15)
        self.n_primary = count - self.n_disabled - self.n_nonpbs - self.n_frequent - self.n_weekly
        self.node_of = {int(g["vmid"]): str(g["node"]) for g in guests}
        self.role_of = {int(g["vmid"]): str(g["name"]).split("-")[0] for g in guests}
        self.jobs: list[dict[str, Any]] = []
        self.legacy_rng = seeded("legacy", len(guests), count)
        self.legacy_off: list[int] = []
        self.disabled_only: list[list[int]] = []
        self.nonpbs_only: list[list[int]] = []
        self.weekly_only: list[int] = []

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        rng = self.rng
        job: dict[str, Any] = {"id": _job_id(rng), "type": "vzdump", "enabled": 1, **fields}
        job.setdefault("mode", "snapshot")
        if rng.random() < 0.5 and not job.get("dumpdir"):
            job["notes-template"] = seeded("notes", job["id"]).choice(_NOTES)
        job.setdefault("comment", kind)
        self.jobs.append(job)
        return job

    def set_aside(self, pools: Sequence[dict[str, Any]]) -> set[int]:
        """Guests that must stay out of the primary jobs."""
        rng = self.rng
        pooled = {v for p in pools for v in p["members"]}
        free = [int(g["vmid"]) for g in self.guests if int(g["vmid"]) not in pooled | self.new]
        rng.shuffle(free)
        n_uncovered = max(1, len(self.guests) // 300) if len(self.guests) >= 4 else 0
        uncovered = _take(free, n_uncovered, rng)
        self.disabled_only = [_take(free, rng.randint(2, 4), rng) for _ in range(self.n_disabled)]
        self.nonpbs_only = [_take(free, rng.randint(2, 5), rng) for _ in range(self.n_nonpbs)]
        self.weekly_only = _take(free, rng.randint(3, 10), rng) if self.n_weekly else []
        if not self.small:
            self.legacy_off = _take(free, self.legacy_rng.randint(2, 3), self.legacy_rng)
        special = set(uncovered) | set(self.weekly_only) | set(self.legacy_off)
        return special | {v for group in (*self.disabled_only, *self.nonpbs_only) for v in group}

    def primary(self, pools: Sequence[dict[str, Any]], special: set[int]) -> None:
        """Primary daily jobs: node-wide "all" jobs, pool jobs, then VMID lists."""
        rng, nodes, node_of = self.rng, self.nodes, self.node_of
        n_all = 0 if self.n_primary < 2 else (1 if len(nodes) <= 4 else max(1, len(nodes) // 8))
        covered: set[int] = set(special)
        all_nodes = nodes[:n_all] if len(nodes) > 4 else []
        if n_all and not all_nodes:  # a small cluster: one cluster-wide all + exclude job
            self.add(
                "all guests", schedule="21:00", storage=self.primary_pbs[0], all=1,
                exclude=_vmid_list(sorted(special)),
            )  # fmt: skip
            covered |= set(node_of)
        for node in all_nodes:
            excluded = sorted(v for v in special if node_of[v] == node)
            fields: dict[str, Any] = {"schedule": rng.choice(_DAILY), "node": node, "all": 1}
            if excluded:
                fields["exclude"] = _vmid_list(excluded)
            self.add(f"all guests of {node}", storage=rng.choice(self.primary_pbs), **fields)
            covered |= {v for v, n in node_of.items() if n == node}
        left = self.n_primary - n_all
        pool_jobs = min(len(pools), max(0, left // 2)) if not self.small else 0
        if n_all and not all_nodes:
            pool_jobs = min(len(pools), left)  # everything is in the all job: pools on top
        for p in pools[:pool_jobs]:
            self.add(
                f"pool {p['poolid']}", schedule=rng.choice(_DAILY),
                storage=rng.choice(self.primary_pbs), pool=p["poolid"],
            )  # fmt: skip
            covered |= set(p["members"])
        self._lists(sorted(v for v in node_of if v not in covered | self.new), left - pool_jobs)

    def _lists(self, rest: list[int], n_lists: int) -> None:
        rng = self.rng
        n_lists = max(0, n_lists)
        if rest and n_lists == 0 and not self.jobs:
            n_lists = 1
        rng.shuffle(rest)
        for k in range(n_lists):
            chunk = sorted(rest[k::n_lists])
            if chunk:
                self.add(
                    "VMID list", schedule=rng.choice(_DAILY),
                    storage=rng.choice(self.primary_pbs), vmid=_vmid_list(chunk),
                )  # fmt: skip

    def frequent(self, special: set[int]) -> None:
        """Frequent jobs: a few databases of one node, also in their daily job."""
        for k in range(self.n_frequent):
            node = self.nodes[(k * 7 + 1) % len(self.nodes)]
            local = sorted(
                v for v, n in self.node_of.items() if n == node and v not in special | self.new
            )
            dbs = [v for v in local if self.role_of[v] == "db"] or local
            picked = dbs[: self.rng.randint(2, 6)]
            if picked:
                self.add(
                    f"frequent {node}", schedule=_FREQUENT[k % len(_FREQUENT)], node=node,
                    storage=self.primary_pbs[-1], vmid=_vmid_list(picked),
                )  # fmt: skip

    def weekly(self, special: set[int]) -> None:
        """Weekly jobs: the first also holds the weekly-only guests."""
        out = special | self.new
        for k in range(self.n_weekly):
            extra = sorted(
                self.rng.sample(
                    sorted(v for v in self.node_of if v not in out),
                    min(len(self.node_of) - len(out), self.rng.randint(10, 50)),
                )
            )
            chosen = sorted({*extra, *(self.weekly_only if k == 0 else [])})
            if chosen:
                self.add(
                    "weekly offsite", schedule=_WEEKLY[k % len(_WEEKLY)],
                    storage=self.weekly_pbs, mode="stop", vmid=_vmid_list(chosen),
                )  # fmt: skip

    def retired(self) -> None:
        for k, group in enumerate(self.disabled_only):
            self.add(
                "retired", schedule=("sat 01:00", "21:00")[k % 2], storage=self.primary_pbs[0],
                vmid=_vmid_list(group), enabled=0,
            )  # fmt: skip

    def to_files(self) -> None:
        for k, group in enumerate(self.nonpbs_only):
            # The first writes plain files to a directory (``dumpdir``, no storage): never
            # PBS, whatever the node's vzdump default storage is (mgr ``PVE::VZDump::new``).
            target = (
                {"dumpdir": _DUMPDIR} if k == 0 else {"storage": ("local", "nfs-backup")[k % 2]}
            )
            self.add(
                "to file storage", schedule=("22:30", "sun 04:00")[k % 2], **target,
                compress="zstd", vmid=_vmid_list(group),
            )  # fmt: skip

    def fill(self, candidates: list[int]) -> None:
        """Slots left (small clusters, empty chunks): a second daily copy of some guests."""
        while len(self.jobs) < self.count and candidates:
            picked = self.rng.sample(candidates, min(len(candidates), self.rng.randint(5, 40)))
            self.add(
                "second copy", schedule=self.rng.choice(_DAILY), storage=self.primary_pbs[-1],
                vmid=_vmid_list(picked),
            )  # fmt: skip


def _legacy_jobs(
    candidates: Sequence[int], disabled: Sequence[int], storage: str, rng: random.Random
) -> list[dict[str, Any]]:
    """Two jobs left in ``/etc/pve/vzdump.cron`` from before PVE 7: one active, one whose
    line is commented out. ``/cluster/backup`` lists them first, without ``type`` nor
    ``next-run``, ids ``<digest>:<n>``, and the disabled one with ``"enabled": ""``: guest-common
    ``parse_vzdump_cron_config`` sets ``enabled => !defined($commented)``, a Perl false."""
    digest = f"{rng.getrandbits(160):040x}"
    active = sorted(rng.sample(list(candidates), min(len(candidates), rng.randint(2, 5))))
    common = {"storage": storage, "mode": "snapshot"}
    jobs: list[dict[str, Any]] = [
        {"id": f"{digest}:1", "enabled": 1, "schedule": "sat 23:00", **common,
         "vmid": _vmid_list(active)},
        {"id": f"{digest}:2", "enabled": "", "schedule": "01:00", **common,
         "vmid": _vmid_list(disabled)},
    ]  # fmt: skip
    return [j for j in jobs if j["vmid"]]


# --------------------------------------------------------------------------- history


_APT_LOG = (
    "starting apt-get update\nHit:1 http://deb.debian.org/debian bookworm InRelease\n"
    "Hit:2 http://download.proxmox.com/debian/pve bookworm InRelease\n"
    "Reading package lists...\nTASK OK"
)


def _other_tasks(
    nodes: Sequence[str], vmids: Sequence[int], now: int, days: int, pids: Pids, visitors: bool
) -> list[dict[str, Any]]:
    """aptupdate once a day per node; with ``visitors``, console sessions, starts and
    shutdowns at random."""
    out: list[dict[str, Any]] = []

    def task(node: str, kind: str, start: int, seconds: int, tid: str, user: str, log: str) -> None:
        pid, pstart = pids.next(node, start)
        out.append(
            {
                "node": node,
                "type": kind,
                "id": tid,
                "user": user,
                "pid": pid,
                "pstart": pstart,
                "starttime": start,
                "endtime": start + seconds,
                "log": log,
            }
        )

    for i, node in enumerate(nodes):
        rng = seeded("other", node)
        for day in range(days, 0, -1):
            base = now - day * 86400
            task(
                node,
                "aptupdate",
                base - 7 * 3600 + i * 60 + rng.randint(0, 300),
                rng.randint(4, 12),
                "",
                "root@pam",
                _APT_LOG,
            )
            if not visitors:
                continue
            for _ in range(rng.randint(0, 2)):
                start = base + rng.randint(0, 86000)
                task(
                    node,
                    "vncproxy",
                    start,
                    rng.randint(60, 3600),
                    str(rng.choice(vmids)),
                    "admin@pam",
                    "TASK OK",
                )
            if rng.random() < 0.3:
                vmid = str(rng.choice(vmids))
                start = base + rng.randint(0, 80000)
                task(node, "qmshutdown", start, rng.randint(5, 60), vmid, "admin@pam", "TASK OK")
                task(node, "qmstart", start + 120, 3, vmid, "admin@pam", "TASK OK")
    return out


def _stamp(epoch: int) -> str:
    return local_datetime(epoch, TZ).strftime("%Y-%m-%d %H:%M:%S")


def _task(
    node: str,
    kind: str,
    start: int,
    seconds: int | None,
    tid: int | str,
    user: str,
    log: str,
    pids: Pids,
) -> dict[str, Any]:
    """A scenario task; ``seconds`` None: still running."""
    pid, pstart = pids.next(node, start)
    task: dict[str, Any] = {
        "node": node, "type": kind, "id": str(tid), "user": user, "pid": pid, "pstart": pstart,
        "starttime": start,
    }  # fmt: skip
    if seconds is None:
        task["status"] = "running"
    else:
        task["endtime"] = start + seconds
    task["log"] = log
    return task


@dataclass(frozen=True)
class AdminTask:
    """A task an administrator started (a preset's scripted task); ``seconds`` None: it
    still runs."""

    node: str
    type: str
    start: int
    seconds: int | None
    id: str
    user: str = "admin@pam"
    log: str = "TASK OK"


def _lifecycle_tasks(life: Lifecycle, types: Mapping[int, str], pids: Pids) -> list[dict[str, Any]]:
    """The tasks that show the guests' changes: migrations (their log lines as guest-common
    ``AbstractMigrate`` and qemu-server ``QemuMigrate`` / pve-container ``LXC::Migrate``
    print them), the deletion of the reused VMID's VM, the creations (task id = VMID)."""
    out = []
    for move in life.moves.values():
        seconds = 30 + move.vmid % 60
        word, kind = ("VM", "qmigrate") if move.type == "qemu" else ("CT", "vzmigrate")
        log = (
            f"{_stamp(move.time)} starting migration of {word} {move.vmid} to node "
            f"'{move.target}' (192.0.2.{100 + int(move.target[3:]) % 150})\n"
            f"{_stamp(move.time + seconds)} migration finished successfully "
            f"(duration 00:00:{seconds:02d})\nTASK OK"
        )
        out.append(_task(move.source, kind, move.time, seconds, move.vmid, "root@pam", log, pids))
    for old in life.former.values():
        out.append(_task(old.node, "qmdestroy", old.deleted, 4, old.vmid, "admin@pam",
                         "TASK OK", pids))  # fmt: skip
    for vmid, created in sorted(life.created.items()):
        kind = "qmcreate" if types[vmid] == "qemu" else "vzcreate"
        out.append(_task(life.node_now[vmid], kind, created, 6, vmid, "admin@pam", "TASK OK",
                         pids))  # fmt: skip
    return out


def _verification(
    storage: str, vmid: int, ctime: int, now: int, events: Events
) -> dict[str, str] | None:
    """The daily 06:00 (local) verification job has seen every snapshot before its last run;
    it failed the ``events.verify_failed`` ones (and, at random, ``verify_failure_rate``)."""
    local_now = dt.datetime.fromtimestamp(now, zone(TZ))
    last = local_now.replace(hour=6, minute=0, second=0, microsecond=0)
    if last > local_now:
        last -= dt.timedelta(days=1)
    verified_at = int(last.timestamp())
    if ctime >= verified_at:
        return None
    day = dt.datetime.fromtimestamp(ctime, zone(TZ)).date().isoformat()
    failed = (storage, vmid, day) in events.verify_failed
    if seeded("verify", storage, vmid, day).random() < events.verify_failure_rate:
        failed = True
    state = "failed" if failed else "ok"
    upid = (
        f"UPID:{storage}:000004D2:0{verified_at % 0xFFFFFFF:07X}:00000000:{verified_at:08X}:"
        "verificationjob:daily:root@pam:"
    )
    return {"state": state, "upid": upid}


def _backups(
    history: History, data: Mapping[str, Any], now: int, events: Events
) -> list[dict[str, Any]]:
    """Each storage's backups as its ``prune-backups`` leaves them, per group (PBS:
    ``vm/<id>`` and ``ct/<id>`` are separate groups; a non-shared storage prunes each node's
    files), with the notes their job's template gave them, plus the snapshot a hanging run
    is still writing (no size, PVE lists 1; no verification; not pruned yet)."""
    storages = {s["storage"]: s for s in data["storages"]}
    guests = {int(g["vmid"]): g for g in data["guests"]}
    out = []
    for sid, vmid, _, ctime in history.partial:
        out.append({"storage": sid, "vmid": vmid, "ctime": ctime, "size": 1})
    for (sid, vmid, kind), snaps in sorted(history.snapshots.items()):
        pbs = storages[sid]["type"] == "pbs"
        keep = parse_prune(storages[sid].get("prune-backups"))
        by_node: dict[str | None, list[tuple[int, int, str | None]]] = {}
        for snap in snaps:  # one group on PBS and shared storages (holder None)
            by_node.setdefault(snap[2], []).append(snap)
        newest = []
        for group in by_node.values():
            kept = set(prune_keep([c for c, _, _ in group], keep, TZ))
            newest += [snap for snap in sorted(group) if snap[0] in kept]
        for i, (ctime, size, holder) in enumerate(newest):
            entry: dict[str, Any] = {"storage": sid, "vmid": vmid, "ctime": ctime, "size": size}
            if kind != guests[vmid]["type"]:
                entry["type"] = kind  # the deleted guest's, the VMID reused since
            if holder is not None:
                entry["node"] = holder
            if pbs:
                verification = _verification(sid, vmid, ctime, now, events)
                if verification is not None:
                    entry["verification"] = verification
                if i == 0 and vmid in events.protected:
                    entry["protected"] = 1
            notes = history.notes.get((sid, vmid, kind, ctime))
            if notes:
                entry["notes"] = notes
            out.append(entry)
    out.sort(key=lambda e: (e["storage"], e["vmid"], e["ctime"]))
    return out


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class Generated:
    """A generated cluster: the scenario dict and what the generator knows happened."""

    data: dict[str, Any]
    life: Lifecycle
    history: History
    days: int
    history_now: int
    spec_text: str
    events: Events

    def verification(self, storages: Iterable[str | None], vmid: int, kind: str) -> str | None:
        """The verification state of the guest's newest finished snapshot on ``storages``."""
        newest: tuple[int, str] | None = None
        for sid in storages:
            for ctime, _, _ in self.history.snapshots.get((str(sid), vmid, kind), ()):
                if newest is None or ctime > newest[0]:
                    newest = (ctime, str(sid))
        if newest is None:
            return None
        found = _verification(newest[1], vmid, newest[0], self.history_now, self.events)
        return None if found is None else found["state"]

    @cached_property
    def traits(self) -> dict[int, list[str]]:
        """What is special about a guest, to classify disagreements with the check."""
        out: dict[int, list[str]] = {v: [t] for v, t in changed(self.life).items()}
        history = self.history
        if history.stuck is not None:
            out.setdefault(history.stuck[1], []).append("stuck_run")
        for v in history.unreached:
            out.setdefault(v, []).append("unreached_by_stuck_run")
        vmlist = {int(g["vmid"]): str(g["node"]) for g in self.data["guests"]}
        members = {p["poolid"]: list(p["members"]) for p in self.data["pools"]}
        for job in self.data["jobs"]:
            kinds = _job_traits(job)
            for vmids in included_guests(job, vmlist, members).values() if kinds else ():
                for v in vmids:
                    out.setdefault(v, []).extend(kinds)
        return out


def _job_traits(job: Mapping[str, Any]) -> list[str]:
    kinds = []
    if "type" not in job:
        kinds.append("legacy_job")
    if job.get("dumpdir"):
        kinds.append("dumpdir_job")
    notes = str(job.get("notes-template") or "")
    if " " in notes or "'" in notes:
        kinds.append("quoted_notes_job")
    return kinds


def _new_guests(guests: list[dict[str, Any]], nodes: Sequence[str], count: int) -> frozenset[int]:
    """The last ``count`` guests (not templates) are created this morning on the first node."""
    picked = [g for g in reversed(guests) if not g["template"]][:count]
    for g in picked:
        g.update(node=nodes[0], status="running")
    return frozenset(int(g["vmid"]) for g in picked)


def _reuse_candidate(
    guests: Sequence[dict[str, Any]],
    pools: Sequence[dict[str, Any]],
    jobs: Sequence[dict[str, Any]],
    avoid_nodes: Sequence[str],
    avoid: frozenset[int],
    gap: tuple[int, int],
) -> int | None:
    """A VM an ``all`` job takes and no job naming it runs while its VMID is free (``gap``):
    PVE would fail a run on a missing VMID. Its VMID is reused by a container."""
    vmlist = {int(g["vmid"]): str(g["node"]) for g in guests}
    members = {p["poolid"]: list(p["members"]) for p in pools}
    by_all: set[int] = set()
    busy: set[int] = set()  # named by a job that runs in the gap
    for job in jobs:
        runs = bool(events(str(job["schedule"]), gap[0], gap[1], TZ)) if enabled(job) else False
        for vmids in included_guests(job, vmlist, members).values():
            if job.get("all"):
                by_all.update(vmids)
            elif runs:
                busy.update(vmids)
    fits = sorted(
        int(g["vmid"])
        for g in guests
        if g["type"] == "qemu" and not g["template"] and int(g["vmid"]) not in avoid | busy
        and g["node"] not in avoid_nodes and int(g["vmid"]) in by_all
    )  # fmt: skip
    return seeded("reuse", len(guests)).choice(fits) if fits else None


def _scenario_data(
    spec: GenerateSpec,
    clock: int,
    node_names: Sequence[str],
    storages: list[dict[str, Any]],
    pools: list[dict[str, Any]],
    guest_list: list[dict[str, Any]],
    job_list: list[dict[str, Any]],
    full: bool,
) -> dict[str, Any]:
    """The scenario's configuration part (no tasks, no backups yet)."""
    pbs_default = {"storage": storages[3]["storage"]} if full else {}
    return {
        "now": epoch_to_iso_z(clock),
        "latency_ms": 0,
        "version": {"version": "8.3.0", "release": "8.3", "repoid": "c1689ccb1065a83b"},
        "cluster_name": f"gen{spec.nodes}",
        "token": {
            "id": TOKEN_ID,
            "secret": TOKEN_SECRET,
            "privileges": {
                "/": ["PVEAuditor"],
                "/storage": ["Datastore.AllocateSpace"],
                "/vms": ["VM.Backup"],
            },
        },
        "nodes": [
            # vzdump.conf: the first half of the nodes default to PBS, the others set
            # nothing (``/nodes/{node}/vzdump/defaults`` then answers ``storage: local``)
            {
                "node": n,
                "status": "online",
                "timezone": TZ,
                "vzdump_defaults": dict(pbs_default) if i < len(node_names) // 2 else {},
            }
            for i, n in enumerate(node_names)
        ],
        "storages": storages,
        "pools": pools,
        "guests": guest_list,
        "jobs": job_list,
    }


def generate_cluster(spec: GenerateSpec, now: int | str | None = None) -> Generated:
    """The generated cluster of ``spec`` with its history (deterministic)."""
    clock = parse_time(now if now is not None else DEFAULT_NOW)
    # ``days`` is not part of the seed: a longer history of the same cluster, whose runs
    # (seeded per job, node and event) are the same where the two histories overlap.
    rng = seeded("generate", spec.nodes, spec.guests, spec.jobs, spec.seed)
    width = max(2, len(str(spec.nodes)))
    node_names = [f"pve{i:0{width}d}" for i in range(1, spec.nodes + 1)]
    full = spec.jobs >= 6  # the operations below need the full mix of jobs
    storages = _storages(node_names, rng)
    guest_list = _guests(spec.guests, node_names, rng)
    new = _new_guests(guest_list, node_names, max(1, spec.guests // 500)) if full else frozenset()
    pools = _pools(guest_list, rng, new)
    job_list = _jobs(spec.jobs, node_names, guest_list, pools, storages, rng, new)
    stuck_node = node_names[1] if full and len(node_names) >= 3 else None
    avoid_nodes = [node_names[-1], *([stuck_node] if stuck_node else [])]
    gap = reuse_window(clock, spec.days, TZ)
    reuse = None
    if full and spec.days >= 2:
        reuse = _reuse_candidate(guest_list, pools, job_list, avoid_nodes, new, gap)
    life = plan_lifecycle(
        guest_list, node_names, clock, spec.days if full else 1, TZ, new_guests=sorted(new),
        reuse=reuse,
    )  # fmt: skip
    data = _scenario_data(spec, clock, node_names, storages, pools, guest_list, job_list, full)
    events = _random_events(data, clock, rng, stuck_node)
    return play(data, life, spec.days, clock, events, spec.as_text())


def _random_events(
    data: Mapping[str, Any], now: int, rng: random.Random, stuck_node: str | None
) -> Events:
    """What happens in a generated cluster's history: a few guests failing for days, a few
    failing last night, rare random failures, last night's PBS outage, a hanging run, EFI
    warnings of the Windows VMs, rare failed verifications, a few protected snapshots."""
    guests = data["guests"]
    vmids = [int(g["vmid"]) for g in guests if not g["template"]]
    chronic = {
        v: now - rng.randint(2, 5) * 86400
        for v in rng.sample(vmids, min(len(vmids), max(1, len(vmids) // 1000)))
    }
    latest = frozenset(rng.sample(vmids, min(len(vmids), max(1, len(vmids) // 300))))
    warnings = {
        int(g["vmid"]): (EFI_WARNING,)
        for g in guests
        if str(g["name"]).startswith("win-") and not g["template"]
    }
    return Events(
        chronic=chronic, latest_fail=latest, warnings=warnings, failure_rate=0.002,
        job_error_rate=0.003, outage=_outage(data, now), stuck_node=stuck_node,
        verify_failure_rate=0.002,
        protected=frozenset(int(g["vmid"]) for g in guests if int(g["vmid"]) % 97 == 0),
    )  # fmt: skip


def _outage(data: Mapping[str, Any], now: int) -> tuple[str, int, int] | None:
    """Last night the second PBS was unreachable from 00:45 to 02:15 (a network outage)."""
    pbs = [s["storage"] for s in data["storages"] if s["type"] == "pbs"]
    if len(pbs) < 2 or len(data["jobs"]) < 6:
        return None
    today = dt.datetime.fromtimestamp(now, zone(TZ)).date()
    start = dt.datetime(today.year, today.month, today.day, 0, 45, tzinfo=zone(TZ))
    return pbs[1], int(start.timestamp()), int(start.timestamp()) + 90 * 60


def play(
    data: dict[str, Any],
    life: Lifecycle,
    days: int,
    now: int,
    events: Events,
    name: str,
    *,
    visitors: bool = True,
    admin: Sequence[AdminTask] = (),
) -> Generated:
    """``days`` of history up to ``now`` of the cluster configured in ``data`` (a scenario
    dict without tasks nor backups), its guests changing as ``life`` says and ``events``
    happening: the vzdump runs (``runs.py``), the other tasks (daily ``aptupdate``; random
    console sessions, starts and shutdowns with ``visitors``; the ``admin`` tasks), the
    lifecycle's tasks, and the backups left on the storages. ``data`` gets ``tasks``,
    ``backups``, ``faults`` and the jobs' ``next-run``."""
    node_names = [str(n["node"]) for n in data["nodes"]]
    pids = Pids(node_names, now)
    history = build_history(
        data, life, days, now, pids, events, tz=TZ, lockwait_minutes=LOCKWAIT_MINUTES
    )
    for job in data["jobs"]:
        if "type" in job and enabled(job) and job.get("schedule"):
            job["next-run"] = next_event(parse_event(job["schedule"]), now, TZ)
    types = {int(g["vmid"]): str(g["type"]) for g in data["guests"]}
    tasks = history.tasks + _other_tasks(node_names, sorted(types), now, days, pids, visitors)
    tasks += _lifecycle_tasks(life, types, pids)
    tasks += [_task(a.node, a.type, a.start, a.seconds, a.id, a.user, a.log, pids) for a in admin]
    tasks.sort(key=lambda t: (t["node"], t["starttime"], t["pid"]))
    data["tasks"] = tasks
    data["backups"] = _backups(history, data, now, events)
    data["faults"] = []
    return Generated(data, life, history, days, now, name, events)


def generate_scenario(
    nodes: int = 3,
    guests: int = 60,
    jobs: int = 6,
    days: int = 14,
    seed: int = 1,
    now: int | str | None = None,
) -> dict[str, Any]:
    """The scenario dict of a generated cluster (deterministic for the same arguments).

    Load it with ``Scenario.from_dict`` or give it to ``Simulator``; ``dump_scenario`` (in
    ``synth``) writes it as YAML.
    """
    spec = parse_spec(f"nodes={nodes},guests={guests},jobs={jobs},days={days},seed={seed}")
    return generate_cluster(spec, now).data


def task_guests(scenario: Scenario) -> Iterator[tuple[TaskSpec, dict[int, tuple[bool, int]]]]:
    """Each recipe task with the guests its log names: ``{vmid: (succeeded, started)}``.

    ``started`` is the guest's ``Backup started at`` (the task start when the task died
    before any guest), the time the plugin orders results by. ``bench/run.py`` reads the
    runs a reader cannot skip from it; it renders every log.
    """
    renderer = scenario.recipes
    for task in scenario.tasks:
        recipe = task.log_recipe
        if recipe is None:
            continue
        run = renderer.run(task.node, task.starttime, recipe)
        if recipe.job_error is not None:
            vmids = recipe.vmids
            if vmids is None:
                vmids = tuple(renderer.selection(recipe.job).get(task.node, ()))
            yield task, dict.fromkeys(vmids, (False, task.starttime))
            continue
        failed = set(run.failed)
        yield task, {v: (v not in failed, t) for v, t in run.starts}
