"""The simulator's scenario: a validated, immutable description of one PVE cluster.

The YAML/dict format is a public contract documented in ``docs/simulator.md``. Every
mapping is read strictly (unknown keys are an error) and every error names its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pve_backup_report.pve.upid import Upid, format_upid
from pve_sim.fields import ScenarioError
from pve_sim.permissions import TokenAcl

if TYPE_CHECKING:
    from pve_sim.synth import VzdumpRun

__all__ = [
    "DEFAULT_TOKEN_ID",
    "DEFAULT_TOKEN_SECRET",
    "BackupSpec",
    "FaultSpec",
    "GuestSpec",
    "JobSpec",
    "LogRecipe",
    "NodeSpec",
    "PoolSpec",
    "Scenario",
    "ScenarioError",
    "StorageSpec",
    "TaskSpec",
    "Token",
    "load_scenario",
]

DEFAULT_TOKEN_ID = "monitor@pve!check"
DEFAULT_TOKEN_SECRET = "00000000-0000-0000-0000-000000000000"
DEFAULT_VERSION: Mapping[str, str] = {
    "version": "8.3.0",
    "release": "8.3",
    "repoid": "c1689ccb1065a83b",
}


@dataclass(frozen=True)
class Token:
    id: str
    secret: str
    acl: TokenAcl

    @property
    def user(self) -> str:
        """``monitor@pve`` for ``monitor@pve!check``."""
        return self.id.split("!", 1)[0]


@dataclass(frozen=True)
class NodeSpec:
    node: str
    status: str  # online / offline
    timezone: str
    vzdump_defaults: Mapping[str, Any]
    index: int

    @property
    def online(self) -> bool:
        return self.status == "online"


@dataclass(frozen=True)
class StorageSpec:
    id: str
    type: str
    config: Mapping[str, Any]  # the /storage item as given (without digest)
    status: Mapping[str, int] | None = None  # .../storage/{id}/status: total, used, avail

    @property
    def nodes(self) -> tuple[str, ...] | None:
        raw = self.config.get("nodes")
        return tuple(n for n in str(raw).split(",") if n) if raw else None

    @property
    def disabled(self) -> bool:
        return bool(self.config.get("disable"))

    @property
    def content(self) -> tuple[str, ...]:
        return tuple(c for c in str(self.config.get("content", "")).split(",") if c)

    @property
    def shared(self) -> bool:
        """PBS content is the same from every node; other storages need ``shared: 1``."""
        return self.type == "pbs" or bool(self.config.get("shared"))

    def available_on(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes


@dataclass(frozen=True)
class PoolSpec:
    poolid: str
    comment: str | None
    members: tuple[int, ...]


@dataclass(frozen=True)
class GuestSpec:
    vmid: int
    type: str
    name: str | None
    node: str
    status: str
    template: int
    tags: str | None = None
    description: str | None = None
    lock: str | None = None
    hastate: str | None = None
    maxcpu: int = 2
    maxmem: int = 2 * 1024**3
    maxdisk: int = 32 * 1024**3
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """The RRD name PVE reports: the config name, else ``VM <id>`` / ``CT<id>``."""
        if self.name:
            return self.name
        return f"VM {self.vmid}" if self.type == "qemu" else f"CT{self.vmid}"


@dataclass(frozen=True)
class JobSpec:
    config: Mapping[str, Any]  # the /cluster/backup item (next-run only where PVE has one)

    @property
    def id(self) -> str:
        return str(self.config["id"])

    @property
    def legacy(self) -> bool:
        """A vzdump.cron job (no ``type``)."""
        return "type" not in self.config


@dataclass(frozen=True)
class LogRecipe:
    """A vzdump log built when it is asked for (``log_recipe``), not stored in the scenario.

    ``vmids`` None: the guests the job selects on the task's node (PVE's order).
    ``external`` None: the ``skip external VMs`` list from the guests' current nodes (those
    the job selects on other nodes, ``vmids`` left out); given, the list as it was at the
    run (a guest migrated since: pve-manager ``PVE/API2/VZDump.pm`` builds the skip list
    from ``get_included_guests`` at run time).
    ``failures``: vmid -> (error text, ``start`` or ``transfer``); ``warnings``: vmid ->
    ``WARN:`` texts; ``job_error``: the task dies before any guest; ``lock_wait``: seconds
    the task waited for the node's global vzdump lock before its guests. For a cluster
    that changed since the run: ``external`` None: the job's guests on other nodes now
    (``skip external VMs``), else these; ``former``: vmid -> (type, name) of a guest that
    had that VMID then (deleted since, the VMID reused). ``stuck``: the task still runs,
    hanging in that guest's transfer.
    """

    job: str
    vmids: tuple[int, ...] | None = None
    failures: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    warnings: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    job_error: str | None = None
    lock_wait: int = 0
    external: tuple[int, ...] | None = None
    former: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    stuck: int | None = None


@dataclass(frozen=True)
class TaskSpec:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    endtime: int | None
    status: str  # the PVE status string, or "running"
    log: tuple[str, ...]
    log_recipe: LogRecipe | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    @cached_property
    def upid(self) -> str:
        return format_upid(
            Upid(self.node, self.pid, self.pstart, self.starttime, self.type, self.id, self.user)
        )


@dataclass(frozen=True)
class BackupSpec:
    storage: str
    vmid: int
    type: str
    ctime: int
    size: int
    verification: Mapping[str, str] | None = None
    protected: bool = False
    encrypted: str | None = None
    notes: str | None = None
    node: str | None = None  # holder node for non-shared storages
    format: str | None = None  # dir storages: vma.zst, tar.zst, ...
    owner: str | None = None  # PBS group owner (default: the storage's username)


@dataclass(frozen=True)
class FaultSpec:
    path: str
    status: int | None = None
    message: str | None = None
    body: str | None = None
    content_type: str = "application/json;charset=UTF-8"
    no_data: bool = False
    delay_ms: int = 0
    drop: bool = False
    truncate: bool = False
    times: int | None = None


@dataclass(frozen=True)
class Scenario:
    """One simulated cluster. Build with :meth:`from_dict` or :func:`load_scenario`."""

    now: int | None
    latency_ms: int
    version: Mapping[str, str]
    cluster_name: str | None
    token: Token
    nodes: tuple[NodeSpec, ...]
    storages: tuple[StorageSpec, ...]
    pools: tuple[PoolSpec, ...]
    guests: tuple[GuestSpec, ...]
    jobs: tuple[JobSpec, ...]
    tasks: tuple[TaskSpec, ...]
    backups: tuple[BackupSpec, ...]
    faults: tuple[FaultSpec, ...]
    source: str | None = None
    pbs: Any = None  # pbs_scenario.PbsSpec: the simulated PBS server, when given
    _guest_index: dict[int, GuestSpec] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _pool_of: dict[int, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _task_index: dict[tuple[str, str], TaskSpec] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _node_tasks: dict[str, tuple[TaskSpec, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._guest_index.update({g.vmid: g for g in self.guests})
        for pool in self.pools:
            for vmid in pool.members:
                self._pool_of[vmid] = pool.poolid
        self._task_index.update({(t.node, t.upid): t for t in self.tasks})
        for node in self.nodes:
            self._node_tasks[node.node] = tuple(t for t in self.tasks if t.node == node.node)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], base_dir: Path | None = None, source: str | None = None
    ) -> Scenario:
        """Validate ``data``; relative ``log_file`` paths are taken from ``base_dir``."""
        from pve_sim.scenario_parse import parse_scenario

        return parse_scenario(data, base_dir or Path.cwd(), source)

    def node(self, name: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.node == name), None)

    def storage(self, storage_id: str) -> StorageSpec | None:
        return next((s for s in self.storages if s.id == storage_id), None)

    def pool(self, poolid: str) -> PoolSpec | None:
        return next((p for p in self.pools if p.poolid == poolid), None)

    def guest(self, vmid: int) -> GuestSpec | None:
        return self._guest_index.get(vmid)

    def pool_of(self, vmid: int) -> str | None:
        return self._pool_of.get(vmid)

    def task(self, node: str, upid: str) -> TaskSpec | None:
        """The task with this UPID in ``node``'s task list."""
        return self._task_index.get((node, upid))

    def tasks_on(self, node: str) -> tuple[TaskSpec, ...]:
        return self._node_tasks.get(node, ())

    def task_log(self, task: TaskSpec) -> tuple[str, ...]:
        """The task's log lines; a ``log_recipe`` is rendered now (nothing is kept)."""
        if task.log_recipe is None:
            return task.log
        return self.recipes.run(task.node, task.starttime, task.log_recipe).lines

    @cached_property
    def recipes(self) -> RecipeRenderer:
        return RecipeRenderer(self.nodes, self.storages, self.guests, self.pools, self.jobs)


class RecipeRenderer:
    """Renders ``log_recipe`` tasks from the scenario's jobs, guests, pools and storages."""

    def __init__(
        self,
        nodes: tuple[NodeSpec, ...],
        storages: tuple[StorageSpec, ...],
        guests: tuple[GuestSpec, ...],
        pools: tuple[PoolSpec, ...],
        jobs: tuple[JobSpec, ...],
    ) -> None:
        self._tz = {n.node: n.timezone for n in nodes}
        self._defaults = {n.node: n.vzdump_defaults.get("storage") for n in nodes}
        self._storages = {s.id: s for s in storages}
        self._guests = {g.vmid: g for g in guests}
        self._vmlist = {g.vmid: g.node for g in guests}
        self._members = {p.poolid: list(p.members) for p in pools}
        self._jobs = {j.id: j for j in jobs}
        self._selection: dict[str, dict[str, list[int]]] = {}

    def has_job(self, job_id: str) -> bool:
        return job_id in self._jobs

    def has_guest(self, vmid: int) -> bool:
        return vmid in self._guests

    def selection(self, job_id: str) -> dict[str, list[int]]:
        """``{node: [vmids]}`` the job includes (``included_guests``), computed once."""
        found = self._selection.get(job_id)
        if found is None:
            from pve_sim.selection import SelectionError, included_guests

            try:
                found = included_guests(self._jobs[job_id].config, self._vmlist, self._members)
            except SelectionError:
                found = {}
            self._selection[job_id] = found
        return found

    def run(self, node: str, start: int, recipe: LogRecipe) -> VzdumpRun:
        from pve_sim.synth import GuestRun, recipe_run

        job = self._jobs[recipe.job].config
        selected = self.selection(recipe.job)
        vmids = recipe.vmids if recipe.vmids is not None else selected.get(node, [])
        runs = []
        for vmid in vmids:
            g = self._guests[vmid]
            error, stage = recipe.failures.get(vmid, (None, "start"))
            kind, name = recipe.former.get(vmid, (g.type, g.display_name))
            runs.append(
                GuestRun(
                    vmid,
                    kind,
                    name,
                    status=g.status,
                    disk_gib=max(1, g.maxdisk // 1024**3),
                    error=error,
                    error_stage=stage,
                    warnings=recipe.warnings.get(vmid, ()),
                    template=bool(g.template),
                )
            )
        if recipe.external is not None:
            external = list(recipe.external)
        else:
            here = set(vmids)
            external = [
                v for n, vs in selected.items() if n not in (node, "") for v in vs if v not in here
            ]
        config = self._target(job, node)
        return recipe_run(
            node=node,
            timezone=self._tz.get(node, "UTC"),
            start=start,
            job=job,
            storage=config,
            guests=runs,
            external=external,
            job_error=recipe.job_error,
            lock_wait=recipe.lock_wait,
            stuck=recipe.stuck,
        )

    def _target(self, job: Mapping[str, Any], node: str) -> Mapping[str, Any]:
        """Where the job writes on ``node``: its storage, else its ``dumpdir``, else the
        node's vzdump default storage (else ``local``), as mgr ``PVE::VZDump::new``."""
        if not job.get("storage") and job.get("dumpdir"):
            return {"storage": "", "type": "dir", "dumpdir": str(job["dumpdir"])}
        storage_id = str(job.get("storage") or self._defaults.get(node) or "local")
        storage = self._storages.get(storage_id)
        if storage is None:
            return {"storage": storage_id, "type": "dir"}
        return {"storage": storage_id, **storage.config}


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a YAML scenario file; ``"demo"`` is the demo cluster, built when loaded
    (``demo.build_demo``; ``python -m pve_sim.synth --write-demo PATH`` writes it out)."""
    if str(path_or_name) == "demo":
        from pve_sim.demo import build_demo

        return Scenario.from_dict(build_demo(), source="demo")
    path = Path(path_or_name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {exc.strerror}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path.name}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{path.name}: the scenario must be a mapping")
    return Scenario.from_dict(data, base_dir=path.parent, source=str(path))
