"""A large, synthetic but realistic cluster for benchmarks: ``generate_scenario``.

``python -m pve_backup_report.simulator --generate nodes=32,guests=10000,jobs=60,days=14,seed=1``
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
  handful of guests of one node; weekly jobs; a few disabled and a few non-PBS jobs. A few
  guests are in no job, only in a disabled job, only in a non-PBS job or only in a weekly
  job;
* ``days`` of vzdump history: one task per node per run, listing that node's guests in
  ascending VMID order (``log_recipe``: the log is rendered by the simulator when asked,
  so a 10,000-guest history stays small), with a few guest failures (one recent, a few
  failing for days) and job-level failures; plus non-backup tasks (aptupdate, vncproxy,
  qmstart, qmshutdown, qmigrate);
* PBS content consistent with the history: the newest 3 snapshots per guest and storage,
  verified by a daily 06:00 verification job (a few failed), a few protected.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pve_backup_report.schedule import next_event, parse_event
from pve_backup_report.simulator.scenario import LogRecipe, Scenario, TaskSpec
from pve_backup_report.simulator.synth import LOCK_TIMEOUT, LOCKWAIT_MINUTES, seeded
from pve_backup_report.simulator.timeutil import epoch_to_iso_z, parse_time, zone

__all__ = [
    "DEFAULT_NOW",
    "TOKEN_ID",
    "TOKEN_SECRET",
    "GenerateSpec",
    "generate_scenario",
    "parse_spec",
    "task_guests",
]

DEFAULT_NOW = "2026-11-20T12:00:00Z"  # a Friday, 13:00 in Paris (as the demo)
TZ = "Europe/Paris"
GIB = 1024**3
KEEP_PBS = 3  # prune-backups keep-last=3 on the PBS storages
KEEP_FILE = 2  # and keep-last=2 on the file storages
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
_EFI_WARNING = "no efidisk configured! Using temporary efivars disk."
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
_WEEKLY = ("sun 03:00", "sat 22:00", "sun 01:30")
_ERRORS_START = (
    "VM {vmid} qmp command 'backup' failed - got timeout",
    "unable to create temporary directory '/var/tmp/vzdumptmp{pid}_{vmid}' - No space left on "
    "device",
    "backup connect failed: command error: http request timed out",
)
_ERROR_TRANSFER = "job failed with err -5 - Input/output error"
_JOB_ERRORS = (
    "could not activate storage '{storage}': {storage}: error fetching datastores - 500 Can't "
    "connect to {server}:8007 (Connection refused)",
    LOCK_TIMEOUT,
)


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


def _pools(guests: Sequence[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    count = max(2, min(40, len(guests) // 250))
    names = [
        base if k < len(_POOL_BASES) else f"{base}-{k // len(_POOL_BASES) + 1}"
        for k, base in ((k, _POOL_BASES[k % len(_POOL_BASES)]) for k in range(count))
    ]
    members: dict[str, list[int]] = {n: [] for n in names}
    for g in guests:
        if rng.random() < 0.5:
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
) -> list[dict[str, Any]]:
    """The backup jobs (see the module docstring for the mix)."""
    pbs = [s["storage"] for s in storages if s["type"] == "pbs"]
    primary_pbs = [s for s in pbs if s != "pbs-offsite"]
    weekly_pbs = "pbs-offsite" if "pbs-offsite" in pbs else pbs[-1]
    small = count < 6
    n_disabled = 0 if small else max(1, count // 20)
    n_nonpbs = 0 if small else max(1, count // 20)
    n_frequent = 0 if small else max(1, count // 20)
    n_weekly = 0 if count < 3 else max(1, count // 15)
    n_primary = count - n_disabled - n_nonpbs - n_frequent - n_weekly
    node_of = {int(g["vmid"]): str(g["node"]) for g in guests}
    role_of = {int(g["vmid"]): str(g["name"]).split("-")[0] for g in guests}

    # Guests that must stay out of the primary jobs.
    pooled = {v for p in pools for v in p["members"]}
    free = [int(g["vmid"]) for g in guests if int(g["vmid"]) not in pooled]
    rng.shuffle(free)
    n_uncovered = max(1, len(guests) // 300) if len(guests) >= 4 else 0
    uncovered = _take(free, n_uncovered, rng)
    disabled_only = [_take(free, rng.randint(2, 4), rng) for _ in range(n_disabled)]
    nonpbs_only = [_take(free, rng.randint(2, 5), rng) for _ in range(n_nonpbs)]
    weekly_only = _take(free, rng.randint(3, 10), rng) if n_weekly else []
    special = set(uncovered) | set(weekly_only)
    special |= {v for group in (*disabled_only, *nonpbs_only) for v in group}

    jobs: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> dict[str, Any]:
        job: dict[str, Any] = {"id": _job_id(rng), "type": "vzdump", "enabled": 1, **fields}
        job.setdefault("mode", "snapshot")
        if rng.random() < 0.5:
            job["notes-template"] = "{{guestname}}"
        job.setdefault("comment", kind)
        jobs.append(job)
        return job

    # Primary daily jobs: node-wide "all" jobs, pool jobs, then VMID lists.
    n_all = 0 if n_primary < 2 else (1 if len(nodes) <= 4 else max(1, len(nodes) // 8))
    covered: set[int] = set(special)
    all_nodes = nodes[:n_all] if len(nodes) > 4 else []
    if n_all and not all_nodes:  # a small cluster: one cluster-wide all + exclude job
        add(
            "all guests",
            schedule="21:00",
            storage=primary_pbs[0],
            all=1,
            exclude=_vmid_list(sorted(special)),
        )
        covered |= set(node_of)
    for node in all_nodes:
        excluded = sorted(v for v in special if node_of[v] == node)
        fields: dict[str, Any] = {"schedule": rng.choice(_DAILY), "node": node, "all": 1}
        if excluded:
            fields["exclude"] = _vmid_list(excluded)
        add(f"all guests of {node}", storage=rng.choice(primary_pbs), **fields)
        covered |= {v for v, n in node_of.items() if n == node}
    left = n_primary - n_all
    pool_jobs = min(len(pools), max(0, left // 2)) if not small else 0
    if n_all and not all_nodes:
        pool_jobs = min(len(pools), left)  # everything is in the all job: pools on top
    for p in pools[:pool_jobs]:
        add(
            f"pool {p['poolid']}",
            schedule=rng.choice(_DAILY),
            storage=rng.choice(primary_pbs),
            pool=p["poolid"],
        )
        covered |= set(p["members"])
    rest = sorted(v for v in node_of if v not in covered)
    n_lists = max(0, left - pool_jobs)
    if rest and n_lists == 0 and not jobs:
        n_lists = 1
    rng.shuffle(rest)
    for k in range(n_lists):
        chunk = sorted(rest[k::n_lists])
        if not chunk:
            continue
        add(
            "VMID list",
            schedule=rng.choice(_DAILY),
            storage=rng.choice(primary_pbs),
            vmid=_vmid_list(chunk),
        )

    # Frequent jobs: a few databases of one node, also in their daily job.
    for k in range(n_frequent):
        node = nodes[(k * 7 + 1) % len(nodes)]
        local = sorted(v for v, n in node_of.items() if n == node and v not in special)
        dbs = [v for v in local if role_of[v] == "db"] or local
        picked = dbs[: rng.randint(2, 6)]
        if picked:
            add(
                f"frequent {node}",
                schedule=_FREQUENT[k % len(_FREQUENT)],
                node=node,
                storage=primary_pbs[-1],
                vmid=_vmid_list(picked),
            )
    # Weekly jobs: the first also holds the weekly-only guests.
    for k in range(n_weekly):
        extra = sorted(
            rng.sample(
                sorted(v for v in node_of if v not in special),
                min(len(node_of) - len(special), rng.randint(10, 50)),
            )
        )
        chosen = sorted({*extra, *(weekly_only if k == 0 else [])})
        if chosen:
            add(
                "weekly offsite",
                schedule=_WEEKLY[k % len(_WEEKLY)],
                storage=weekly_pbs,
                mode="stop",
                vmid=_vmid_list(chosen),
            )
    for k, group in enumerate(disabled_only):
        add(
            "retired",
            schedule=("sat 01:00", "21:00")[k % 2],
            storage=primary_pbs[0],
            vmid=_vmid_list(group),
            enabled=0,
        )
    for k, group in enumerate(nonpbs_only):
        add(
            "to file storage",
            schedule=("22:30", "sun 04:00")[k % 2],
            storage=("local", "nfs-backup")[k % 2],
            compress="zstd",
            vmid=_vmid_list(group),
        )
    # Slots left (small clusters, empty chunks): a second daily copy of some guests.
    candidates = sorted(v for v in node_of if v not in special)
    while len(jobs) < count and candidates:
        picked = rng.sample(candidates, min(len(candidates), rng.randint(5, 40)))
        add(
            "second copy",
            schedule=rng.choice(_DAILY),
            storage=primary_pbs[-1],
            vmid=_vmid_list(picked),
        )
    return jobs


# --------------------------------------------------------------------------- history


class _Pids:
    """Deterministic, unique pid/pstart per node (pstart = clock ticks since boot)."""

    def __init__(self, nodes: Sequence[str], now: int) -> None:
        self.boot = {n: now - 40 * 86400 - i * 3607 for i, n in enumerate(nodes)}
        self.count: dict[str, int] = dict.fromkeys(nodes, 0)
        self.last: dict[str, tuple[int, int]] = {}  # node -> (start, pstart) of the last call

    def next(self, node: str, start: int) -> tuple[int, int]:
        """Processes started in the same second get increasing ``pstart``s."""
        self.count[node] += 1
        c = self.count[node]
        pstart = (start - self.boot[node]) * 100 + c % 50
        last = self.last.get(node)
        if last is not None and last[0] == start:
            pstart = last[1] + 1
        self.last[node] = (start, pstart)
        return 1000 + (c * 7919) % 4_000_000, pstart


def _events(expr: str, first: int, now: int, tz: str) -> list[int]:
    event = parse_event(expr)
    out = []
    t = next_event(event, first - 1, tz)
    while t is not None and t < now:
        out.append(t)
        t = next_event(event, t, tz)
    return out


@dataclass
class _History:
    tasks: list[dict[str, Any]]
    snapshots: dict[tuple[str, int], list[tuple[int, int, str | None]]]  # ctime, size, node


def _failures(
    guests: Sequence[dict[str, Any]], now: int, rng: random.Random
) -> tuple[dict[int, int], set[int], float]:
    """Chronic failures (vmid -> failing since), failures of the latest run, sporadic rate."""
    vmids = [int(g["vmid"]) for g in guests if not g["template"]]
    chronic = {
        v: now - rng.randint(2, 5) * 86400
        for v in rng.sample(vmids, min(len(vmids), max(1, len(vmids) // 1000)))
    }
    latest = set(rng.sample(vmids, min(len(vmids), max(1, len(vmids) // 300))))
    return chronic, latest, 0.002


def _history(data: dict[str, Any], days: int, now: int, rng: random.Random) -> _History:
    scenario = Scenario.from_dict({k: v for k, v in data.items() if k != "tasks"})
    renderer = scenario.recipes
    nodes = [n["node"] for n in data["nodes"]]
    node_index = {n: i for i, n in enumerate(nodes)}
    guests = {int(g["vmid"]): g for g in data["guests"]}
    storages = {s["storage"]: s for s in data["storages"]}
    pids = _Pids(nodes, now)
    chronic, latest_fail, sporadic = _failures(data["guests"], now, rng)
    first = now - days * 86400
    # All runs first (per node), then each node's runs in start order: vzdump holds the
    # node-wide lock /var/run/vzdump.lock for a whole run, so a run that starts while
    # another one runs waits for it (``lock_wait``) before its first guest.
    runs: dict[str, list[tuple[int, str, dict[str, Any]]]] = {n: [] for n in nodes}
    job_storage: dict[str, dict[str, Any]] = {}
    lockwait: dict[str, int] = {}
    for job in data["jobs"]:
        if not job.get("enabled", 1):
            continue  # disabled before the history window
        selected = renderer.selection(job["id"])
        storage = storages[job["storage"]]
        job_storage[job["id"]] = storage
        lockwait[job["id"]] = int(job.get("lockwait", LOCKWAIT_MINUTES)) * 60
        runs_on = [job["node"]] if job.get("node") else nodes
        events = _events(job["schedule"], first, now, TZ)
        last_event = events[-1] if events else None
        for node in runs_on:
            local = selected.get(node, [])
            if not local and not job.get("all"):
                continue
            for event in events:
                jrng = seeded("jobrun", job["id"], node, event)
                # pvescheduler's run_jobs starts the jobs due in one pass in job-id order
                # (``sort keys``): one start for all of them, and the runs are sorted by
                # (start, job id) below, as their pids and pstarts are.
                delay = seeded("pass", node, event).randint(0, 20)
                start = event + 1 + node_index[node] % 5 + delay
                recipe: dict[str, Any] = {"job": job["id"]}
                failures = []
                for v in local:
                    if v in chronic and start >= chronic[v]:
                        failures.append({"vmid": v, "error": _ERROR_TRANSFER, "stage": "transfer"})
                    elif (v in latest_fail and event == last_event) or jrng.random() < sporadic:
                        text = jrng.choice(_ERRORS_START).format(
                            vmid=v, pid=jrng.randint(1000, 99999)
                        )
                        failures.append({"vmid": v, "error": text})
                warnings = {
                    v: [_EFI_WARNING]
                    for v in local
                    if str(guests[v]["name"]).startswith("win-") and not guests[v]["template"]
                }
                job_error = None
                if local and jrng.random() < 0.003:
                    job_error = jrng.choice(_JOB_ERRORS).format(
                        storage=storage["storage"], server=storage.get("server", "192.0.2.50")
                    )
                if failures:
                    recipe["failures"] = failures
                if warnings:
                    recipe["warnings"] = warnings
                if job_error:
                    recipe["job_error"] = job_error
                runs[node].append((start, job["id"], recipe))
    tasks: list[dict[str, Any]] = []
    snapshots: dict[tuple[str, int], list[tuple[int, int, str | None]]] = {}
    for node in nodes:
        held_until = 0  # the endtime of the node's previous run (it holds the lock until then)
        for start, job_id, recipe in sorted(runs[node], key=lambda r: (r[0], r[1])):
            timed_out = False
            if held_until > start:
                wait = held_until - start
                if wait > lockwait[job_id]:  # getlock gives up after ``lockwait`` minutes
                    wait, timed_out = lockwait[job_id], True
                    recipe.pop("failures", None)
                    recipe.pop("warnings", None)
                    recipe["job_error"] = LOCK_TIMEOUT
                recipe["lock_wait"] = wait
            run = renderer.run(node, start, _recipe(recipe))
            if not timed_out:
                held_until = run.endtime
            if run.endtime > now:
                continue  # still running at ``now``: left out
            local = renderer.selection(job_id).get(node, [])
            pid, pstart = pids.next(node, start)
            tasks.append(
                {
                    "node": node,
                    "type": "vzdump",
                    "id": str(local[0]) if len(local) == 1 else "",
                    "user": "root@pam",
                    "pid": pid,
                    "pstart": pstart,
                    "starttime": start,
                    "endtime": run.endtime,
                    "status": run.status,
                    "log_recipe": recipe,
                }
            )
            storage = job_storage[job_id]
            for snap in run.snapshots:
                holder = None if storage.get("shared") else node
                snapshots.setdefault((storage["storage"], snap.vmid), []).append(
                    (snap.ctime, snap.size, holder)
                )
    tasks += _other_tasks(nodes, sorted(guests), now, days, pids)
    return _History(tasks, snapshots)


def _recipe(raw: Mapping[str, Any]) -> LogRecipe:
    return LogRecipe(
        job=str(raw["job"]),
        failures={
            int(f["vmid"]): (str(f["error"]), str(f.get("stage", "start")))
            for f in raw.get("failures", ())
        },
        warnings={int(k): tuple(v) for k, v in raw.get("warnings", {}).items()},
        job_error=raw.get("job_error"),
        lock_wait=int(raw.get("lock_wait", 0)),
    )


_APT_LOG = (
    "starting apt-get update\nHit:1 http://deb.debian.org/debian bookworm InRelease\n"
    "Hit:2 http://download.proxmox.com/debian/pve bookworm InRelease\n"
    "Reading package lists...\nTASK OK"
)


def _other_tasks(
    nodes: Sequence[str], vmids: Sequence[int], now: int, days: int, pids: _Pids
) -> list[dict[str, Any]]:
    """aptupdate once a day per node, console sessions, starts, shutdowns, migrations."""
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
            if rng.random() < 0.1:
                start = base + rng.randint(0, 80000)
                task(
                    node,
                    "qmigrate",
                    start,
                    rng.randint(30, 300),
                    str(rng.choice(vmids)),
                    "admin@pam",
                    "migration finished successfully (duration 00:01:12)\nTASK OK",
                )
    return out


def _verification(storage: str, vmid: int, ctime: int, now: int) -> dict[str, str] | None:
    """The daily 06:00 (local) verification job has seen every snapshot before its last run."""
    local_now = dt.datetime.fromtimestamp(now, zone(TZ))
    last = local_now.replace(hour=6, minute=0, second=0, microsecond=0)
    if last > local_now:
        last -= dt.timedelta(days=1)
    verified_at = int(last.timestamp())
    if ctime >= verified_at:
        return None
    day = dt.datetime.fromtimestamp(ctime, zone(TZ)).date().isoformat()
    state = "failed" if seeded("verify", storage, vmid, day).random() < 0.002 else "ok"
    upid = (
        f"UPID:{storage}:000004D2:0{verified_at % 0xFFFFFFF:07X}:00000000:{verified_at:08X}:"
        "verificationjob:daily:root@pam:"
    )
    return {"state": state, "upid": upid}


def _backups(history: _History, data: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    storages = {s["storage"]: s for s in data["storages"]}
    guests = {int(g["vmid"]): g for g in data["guests"]}
    notes_jobs = any(j.get("notes-template") for j in data["jobs"])
    out = []
    for (sid, vmid), snaps in sorted(history.snapshots.items()):
        pbs = storages[sid]["type"] == "pbs"
        keep = KEEP_PBS if pbs else KEEP_FILE
        if pbs:
            newest = sorted(snaps)[-keep:]
        else:  # per node on a non-shared storage
            by_node: dict[str | None, list[tuple[int, int, str | None]]] = {}
            for s in snaps:
                by_node.setdefault(s[2], []).append(s)
            newest = [s for group in by_node.values() for s in sorted(group)[-keep:]]
        for i, (ctime, size, holder) in enumerate(newest):
            entry: dict[str, Any] = {"storage": sid, "vmid": vmid, "ctime": ctime, "size": size}
            if holder is not None:
                entry["node"] = holder
            if pbs:
                verification = _verification(sid, vmid, ctime, now)
                if verification is not None:
                    entry["verification"] = verification
                if i == 0 and vmid % 97 == 0:
                    entry["protected"] = 1
            if notes_jobs:
                entry["notes"] = guests[vmid]["name"]
            out.append(entry)
    return out


# --------------------------------------------------------------------------- entry point


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
    clock = parse_time(now if now is not None else DEFAULT_NOW)
    # ``days`` is not part of the seed: a longer history of the same cluster, whose runs
    # (seeded per job, node and event) are the same where the two histories overlap.
    rng = seeded("generate", spec.nodes, spec.guests, spec.jobs, spec.seed)
    width = max(2, len(str(spec.nodes)))
    node_names = [f"pve{i:0{width}d}" for i in range(1, spec.nodes + 1)]
    storages = _storages(node_names, rng)
    guest_list = _guests(spec.guests, node_names, rng)
    pools = _pools(guest_list, rng)
    job_list = _jobs(spec.jobs, node_names, guest_list, pools, storages, rng)
    data: dict[str, Any] = {
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
            {"node": n, "status": "online", "timezone": TZ, "vzdump_defaults": {}}
            for n in node_names
        ],
        "storages": storages,
        "pools": pools,
        "guests": guest_list,
        "jobs": job_list,
    }
    history = _history(data, spec.days, clock, rng)
    for job in job_list:
        if job.get("enabled", 1) and job.get("schedule"):
            job["next-run"] = next_event(parse_event(job["schedule"]), clock, TZ)
    history.tasks.sort(key=lambda t: (t["node"], t["starttime"], t["pid"]))
    data["tasks"] = history.tasks
    data["backups"] = _backups(history, data, clock)
    data["faults"] = []
    return data


def task_guests(scenario: Scenario) -> Iterator[tuple[TaskSpec, dict[int, tuple[bool, int]]]]:
    """Each recipe task with the guests its log names: ``{vmid: (succeeded, started)}``.

    ``started`` is the guest's ``Backup started at`` (the task start when the task died
    before any guest), the time the plugin orders results by. The ground truth the
    benchmark computes the minimal number of requests from; it renders every log.
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
