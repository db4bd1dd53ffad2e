"""The backup runs of a generated cluster's history (``generate.py``): who each run backed
up and how it ended, recorded so the generator can state its ground truth (``truth.py``).

PVE's rules followed here:

* a run takes the guests the job selects on its node **at its start** (mgr
  ``PVE/VZDump.pm`` ``get_included_guests``) and logs the others as ``skip external VMs``;
* ``PVE::VZDump::new`` activates the storage before anything else: an unreachable PBS
  ends the task at once with ``TASK ERROR: could not activate storage ...``, before the
  command line and before the lock (mgr ``PVE/API2/VZDump.pm`` worker);
* then ``getlock`` waits up to ``lockwait`` minutes for ``/var/run/vzdump.lock``, held by
  the node's running vzdump; past it the worker logs the error and calls ``exit(-1)``: no
  ``TASK`` line, status ``unexpected status`` (pve-common ``RESTEnvironment::fork_worker``);
* a run that hangs keeps the lock: every later run of the node times out;
* a hanging guest's snapshot is already listed by PBS, without size and verification
  (proxmox-backup ``list_snapshots_blocking``; pve-storage ``PBSPlugin`` shows size 1).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pve_backup_report.pve.schedule import next_event, parse_event
from pve_backup_report.pve.upid import Upid, format_upid
from pve_sim.lifecycle import Lifecycle
from pve_sim.scenario import LogRecipe, RecipeRenderer, Scenario
from pve_sim.selection import SelectionError, included_guests
from pve_sim.synth import LOCK_TIMEOUT, seeded
from pve_sim.timeutil import zone

__all__ = [
    "EFI_WARNING",
    "ERROR_TRANSFER",
    "Events",
    "GuestResult",
    "History",
    "Pids",
    "build_history",
    "effective_storage",
    "enabled",
    "events",
    "render_notes",
]

EFI_WARNING = "no efidisk configured! Using temporary efivars disk."
_ERRORS_START = (
    "VM {vmid} qmp command 'backup' failed - got timeout",
    "unable to create temporary directory '/var/tmp/vzdumptmp{pid}_{vmid}' - No space left on "
    "device",
    "backup connect failed: command error: http request timed out",
)
ERROR_TRANSFER = "job failed with err -5 - Input/output error"
# pve-storage PBSPlugin ``activate_storage`` dies "$storeid: $@" when scan_datastores fails
_ACTIVATE_ERROR = (
    "could not activate storage '{storage}': {storage}: error fetching datastores - 500 Can't "
    "connect to {server}:8007 (Connection refused)"
)
_FOREVER = 2**62


@dataclass(frozen=True)
class Events:
    """What happens in a history besides the schedules: the generator draws it at random
    (``generate.py``), a preset such as the demo states it (``demo.py``).

    ``chronic``: vmid -> the time from which each of its runs fails mid-transfer
    (``ERROR_TRANSFER``, a failing disk); ``latest_fail``: guests whose latest run fails to
    start (a random ``_ERRORS_START`` text); ``scripted``: (job id, local date of the run,
    vmid) -> the error that guest fails with in that run; ``warnings``: vmid -> the
    ``WARN:`` texts each of its runs logs; ``failure_rate`` / ``job_error_rate``: the chance
    that a guest fails in a run / that a PBS run dies activating its storage; ``outage``:
    (PBS storage, from, to) unreachable; ``stuck_node``: last night's run there hangs;
    ``verify_failed``: (storage, vmid, local date of the snapshot) whose verification
    failed, ``verify_failure_rate`` the chance of it; ``protected``: vmids whose oldest kept
    snapshot is protected.
    """

    chronic: Mapping[int, int] = field(default_factory=dict)
    latest_fail: frozenset[int] = frozenset()
    scripted: Mapping[tuple[str, str, int], str] = field(default_factory=dict)
    warnings: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    failure_rate: float = 0.0
    job_error_rate: float = 0.0
    outage: tuple[str, int, int] | None = None
    stuck_node: str | None = None
    verify_failed: frozenset[tuple[str, int, str]] = frozenset()
    verify_failure_rate: float = 0.0
    protected: frozenset[int] = frozenset()


def enabled(job: Mapping[str, Any]) -> bool:
    """Perl truth of a job's raw ``enabled``: missing is enabled; ``""``, ``0``, ``"0"`` not."""
    raw = job.get("enabled", 1)
    return raw not in ("", 0, "0", None, False)


def effective_storage(job: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None:
    """The storage a job writes to on a node with these vzdump defaults; None: a ``dumpdir``
    (mgr ``PVE::VZDump::new``: the defaults apply only without storage and dumpdir)."""
    if job.get("storage"):
        return str(job["storage"])
    if job.get("dumpdir"):
        return None
    if defaults.get("storage"):
        return str(defaults["storage"])
    return None if defaults.get("dumpdir") else "local"


def events(expr: str, first: int, now: int, tz: str) -> list[int]:
    """The schedule's events in ``[first, now)``."""
    event = parse_event(expr)
    out = []
    t = next_event(event, first - 1, tz)
    while t is not None and t < now:
        out.append(t)
        t = next_event(event, t, tz)
    return out


class Pids:
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


@dataclass(frozen=True)
class GuestResult:
    """One guest's outcome in one finished (or, for successes, still running) run."""

    vmid: int
    former: bool  # the deleted guest that had this VMID at the time
    started: int  # its ``Backup started at``; the task start when the run died before it
    ok: bool
    message: str | None
    upid: str  # the task's
    storage: str
    dead: bool = False  # the run died before its guests (storage activation, lock)


@dataclass
class History:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    # (storage, vmid, type) -> [(ctime, size, holder node or None)]
    snapshots: dict[tuple[str, int, str], list[tuple[int, int, str | None]]] = field(
        default_factory=dict
    )
    partial: list[tuple[str, int, str, int]] = field(default_factory=list)  # still written
    # (storage, vmid, type, ctime) -> the notes its job's notes template gave the backup
    notes: dict[tuple[str, int, str, int], str] = field(default_factory=dict)
    results: list[GuestResult] = field(default_factory=list)
    stuck: tuple[str, int, int] | None = None  # node, vmid, task start of the hanging run
    unreached: tuple[int, ...] = ()  # guests after the hanging one in its run
    outage: tuple[str, int, int] | None = None  # PBS storage unreachable from .. to


@dataclass
class _Run:
    start: int
    node: str
    job: dict[str, Any]
    local: list[int]
    recipe: dict[str, Any]
    storage: str | None


@dataclass
class _Context:
    data: dict[str, Any]
    life: Lifecycle
    renderer: RecipeRenderer
    now: int
    first: int
    lockwait: int
    tz: str
    pbs: dict[str, dict[str, Any]]
    defaults: dict[str, Mapping[str, Any]]
    members: dict[str, list[int]]
    events: Events
    shared: dict[str, bool]
    names: dict[int, str]
    _selections: dict[tuple[str, int], dict[str, list[int]]] = field(default_factory=dict)

    def selection_at(self, job: Mapping[str, Any], t: int) -> dict[str, list[int]]:
        key = (str(job["id"]), self.life.era(t))
        found = self._selections.get(key)
        if found is None:
            try:
                found = included_guests(job, self.life.vmlist_at(t), self.members)
            except SelectionError:
                found = {}
            self._selections[key] = found
        return found


def _job_error(ctx: _Context, run: _Run, jrng: random.Random) -> str | None:
    storage = ctx.pbs.get(run.storage or "")
    if storage is None or (not run.local and not run.job.get("all")):
        return None
    text = _ACTIVATE_ERROR.format(storage=storage["storage"], server=storage["server"])
    out = ctx.events.outage
    if out is not None and out[0] == storage["storage"] and out[1] <= run.start < out[2]:
        return text
    return text if run.local and jrng.random() < ctx.events.job_error_rate else None


def _guest_failures(
    ctx: _Context, run: _Run, jrng: random.Random, last: bool
) -> list[dict[str, Any]]:
    """The guests of ``run`` that fail, with their error (and stage when not ``start``)."""
    events = ctx.events
    day = ""
    if events.scripted:
        day = dt.datetime.fromtimestamp(run.start, zone(ctx.tz)).date().isoformat()
    failures: list[dict[str, Any]] = []
    for v in run.local:
        scripted = events.scripted.get((str(run.job["id"]), day, v))
        if v in events.chronic and run.start >= events.chronic[v]:
            failures.append({"vmid": v, "error": ERROR_TRANSFER, "stage": "transfer"})
        elif scripted is not None:
            failures.append({"vmid": v, "error": scripted})
        elif (v in events.latest_fail and last) or jrng.random() < events.failure_rate:
            text = jrng.choice(_ERRORS_START).format(vmid=v, pid=jrng.randint(1000, 99999))
            failures.append({"vmid": v, "error": text})
    return failures


def _plan_run(
    ctx: _Context, job: dict[str, Any], node: str, event: int, start: int, last: bool
) -> _Run:
    """One node's run of ``job`` for ``event``: its guests then, failures, warnings."""
    selected = ctx.selection_at(job, start)
    local = list(selected.get(node, []))
    storage = effective_storage(job, ctx.defaults[node])
    run = _Run(start, node, job, local, {"job": job["id"]}, storage)
    recipe = run.recipe
    if not ctx.life.is_now(start):
        external = sorted(v for n, vs in selected.items() if n not in (node, "") for v in vs)
        current = ctx.renderer.selection(str(job["id"]))
        now_ext = sorted(v for n, vs in current.items() if n not in (node, "") for v in vs)
        if local != current.get(node, []) or external != now_ext:
            recipe["vmids"], recipe["external"] = local, external
        former = {v: ctx.life.former[v] for v in local if ctx.life.identity_at(v, start)}
        if former:
            recipe["former"] = {v: {"type": f.type, "name": f.name} for v, f in former.items()}
    jrng = seeded("jobrun", job["id"], node, event)
    failures = _guest_failures(ctx, run, jrng, last)
    warnings = {v: list(ctx.events.warnings[v]) for v in local if v in ctx.events.warnings}
    job_error = _job_error(ctx, run, jrng)
    if failures:
        recipe["failures"] = failures
    if warnings:
        recipe["warnings"] = warnings
    if job_error:
        recipe["job_error"] = job_error
    return run


def _plan(ctx: _Context, nodes: Sequence[str]) -> dict[str, list[_Run]]:
    node_index = {n: i for i, n in enumerate(nodes)}
    runs: dict[str, list[_Run]] = {n: [] for n in nodes}
    for job in ctx.data["jobs"]:
        if not enabled(job):
            continue  # disabled before the history window
        runs_on = [job["node"]] if job.get("node") else nodes
        evs = events(job["schedule"], ctx.first, ctx.now, ctx.tz)
        for event in evs:
            for node in runs_on:
                # pvescheduler's run_jobs starts the jobs due in one pass in job-id order
                # (``sort keys``): one start for all of them; runs sort by (start, job id).
                delay = seeded("pass", node, event).randint(0, 20)
                start = event + 1 + node_index[node] % 5 + delay
                run = _plan_run(ctx, job, node, event, start, event == evs[-1])
                if run.local or job.get("all"):
                    runs[node].append(run)
    return runs


def _pick_stuck(ctx: _Context, runs: Sequence[_Run]) -> tuple[_Run, int] | None:
    """Last night's run that hangs in one guest's transfer (16 hours later, still going)."""
    life = ctx.life
    fits = [
        r
        for r in runs
        if ctx.now - 18 * 3600 <= r.start <= ctx.now - 14 * 3600
        and r.storage in ctx.pbs
        and len(r.local) >= 3
        and "job_error" not in r.recipe
    ]
    if not fits:
        return None
    run = max(fits, key=lambda r: (r.start, str(r.job["id"])))
    calm = [v for v in run.local if v not in life.moves and v not in life.created] or run.local
    return run, calm[len(calm) // 2]


def build_history(
    data: dict[str, Any],
    life: Lifecycle,
    days: int,
    now: int,
    pids: Pids,
    events: Events,
    *,
    tz: str,
    lockwait_minutes: int,
) -> History:
    """Every vzdump run of the history window, node by node (see the module docstring),
    with ``events`` happening in it."""
    scenario = Scenario.from_dict({k: v for k, v in data.items() if k != "tasks"})
    nodes = [n["node"] for n in data["nodes"]]
    ctx = _Context(
        data=data,
        life=life,
        renderer=scenario.recipes,
        now=now,
        first=now - days * 86400,
        lockwait=lockwait_minutes * 60,
        tz=tz,
        pbs={s["storage"]: s for s in data["storages"] if s["type"] == "pbs"},
        defaults={n["node"]: n.get("vzdump_defaults", {}) for n in data["nodes"]},
        members={p["poolid"]: list(p["members"]) for p in data["pools"]},
        events=events,
        shared={s["storage"]: bool(s.get("shared")) for s in data["storages"]},
        names={int(g["vmid"]): str(g["name"]) for g in data["guests"] if g.get("name")},
    )
    history = History(outage=events.outage)
    plan = _plan(ctx, nodes)
    for node in nodes:
        ordered = sorted(plan[node], key=lambda r: (r.start, str(r.job["id"])))
        stuck = _pick_stuck(ctx, ordered) if node == events.stuck_node else None
        _play_node(ctx, history, pids, ordered, stuck)
    return history


def _play_node(
    ctx: _Context,
    history: History,
    pids: Pids,
    runs: Sequence[_Run],
    stuck: tuple[_Run, int] | None,
) -> None:
    """A node's runs in start order under its vzdump lock."""
    held_until = 0  # the end of the node's previous run (it holds the lock until then)
    for run in runs:
        recipe = run.recipe
        dead = "job_error" in recipe  # died in PVE::VZDump::new, before getlock
        if not dead and held_until > run.start:
            wait = held_until - run.start
            if wait > ctx.lockwait:  # getlock gives up after ``lockwait`` minutes
                for key in ("failures", "warnings"):
                    recipe.pop(key, None)
                recipe["job_error"], wait = LOCK_TIMEOUT, ctx.lockwait
                dead = True
            recipe["lock_wait"] = wait
        if stuck is not None and run is stuck[0]:
            recipe["stuck"] = stuck[1]
        vz = ctx.renderer.run(run.node, run.start, _recipe(recipe))
        if vz.running:
            held_until = _FOREVER
        elif not dead:
            held_until = vz.endtime
        if not vz.running and vz.endtime > ctx.now:
            continue  # still running at ``now``: left out
        _record(ctx, history, pids, run, vz)


def _record(ctx: _Context, history: History, pids: Pids, run: _Run, vz: Any) -> None:
    """The task, its guests' results and the snapshots it left."""
    recipe = run.recipe
    pid, pstart = pids.next(run.node, run.start)
    task: dict[str, Any] = {
        "node": run.node,
        "type": "vzdump",
        "id": str(run.local[0]) if len(run.local) == 1 else "",
        "user": "root@pam",
        "pid": pid,
        "pstart": pstart,
        "starttime": run.start,
    }
    if vz.running:
        task["status"] = "running"
    else:
        task.update(endtime=vz.endtime, status=vz.status)
    task["log_recipe"] = recipe
    index = format_upid(
        Upid(run.node, pid, pstart, run.start, "vzdump", str(task["id"]), "root@pam")
    )
    history.tasks.append(task)
    if run.storage is not None:
        _keep_snapshots(ctx, history, run, vz, run.storage)
    if run.storage not in ctx.pbs:
        return  # only PBS runs make results the check judges
    former = set(recipe.get("former", {}))
    errors = {int(f["vmid"]): str(f["error"]) for f in recipe.get("failures", ())}
    if not vz.running and recipe.get("job_error"):
        for v in run.local:
            history.results.append(
                GuestResult(
                    v, v in former, run.start, False, recipe["job_error"], index, run.storage, True
                )
            )
        return
    failed = set(vz.failed)
    for v, started in vz.starts:
        ok = v not in failed
        history.results.append(
            GuestResult(v, v in former, started, ok, None if ok else errors.get(v), index,
                        run.storage)
        )  # fmt: skip
    if vz.partial is not None:
        p = vz.partial
        history.partial.append((run.storage, p.vmid, p.type, p.ctime))
        history.stuck = (run.node, p.vmid, run.start)
        history.unreached = tuple(v for v in run.local if v > p.vmid)


def _keep_snapshots(ctx: _Context, history: History, run: _Run, vz: Any, storage: str) -> None:
    """The snapshots ``run`` left on ``storage``, with the notes its job's template gives."""
    shared = storage in ctx.pbs or ctx.shared.get(storage, False)
    template = str(run.job.get("notes-template") or "")
    former = run.recipe.get("former", {})
    for snap in vz.snapshots:
        key = (storage, snap.vmid, snap.type)
        history.snapshots.setdefault(key, []).append(
            (snap.ctime, snap.size, None if shared else run.node)
        )
        if template:
            name = former.get(snap.vmid, {}).get("name") or ctx.names.get(snap.vmid)
            info = {"cluster": ctx.data.get("cluster_name") or "standalone node",
                    "guestname": name or f"VM {snap.vmid}", "node": run.node,
                    "vmid": str(snap.vmid)}  # fmt: skip
            history.notes[(storage, snap.vmid, snap.type, snap.ctime)] = render_notes(
                template, info
            )


def render_notes(template: str, info: Mapping[str, str]) -> str:
    """A backup's notes from its job's ``notes-template`` (mgr ``PVE/VZDump.pm``
    ``generate_notes``): ``{{cluster}}``, ``{{guestname}}``, ``{{node}}``, ``{{vmid}}``,
    and the escapes ``\\n`` and ``\\\\``."""
    text = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), template)
    return re.sub(r"\{\{([^\s{}]+)\}\}", lambda m: info.get(m.group(1), m.group(0)), text)


def _recipe(raw: Mapping[str, Any]) -> LogRecipe:
    return LogRecipe(
        job=str(raw["job"]),
        vmids=tuple(raw["vmids"]) if "vmids" in raw else None,
        failures={
            int(f["vmid"]): (str(f["error"]), str(f.get("stage", "start")))
            for f in raw.get("failures", ())
        },
        warnings={int(k): tuple(v) for k, v in raw.get("warnings", {}).items()},
        job_error=raw.get("job_error"),
        lock_wait=int(raw.get("lock_wait", 0)),
        external=tuple(raw["external"]) if "external" in raw else None,
        former={int(k): (str(v["type"]), str(v["name"])) for k, v in raw.get("former", {}).items()},
        stuck=raw.get("stuck"),
    )
