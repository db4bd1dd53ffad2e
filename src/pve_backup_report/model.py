"""Domain value objects shared by collection, analysis, the check and the report.

Everything here is a frozen dataclass built from API data by ``collect/inventory.py`` (acquisition)
and consumed by the pure analysis modules (``analysis/coverage.py``, ``analysis/history.py``,
``pve/schedule.py``, ``analysis/freshness.py``) and by the presentation layer (``output/check.py``,
``output/report.py``). No module in this file does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pve_backup_report.records import quick_init

NOT_SPECIFIED = "not specified"


class Severity(str, enum.Enum):
    """How bad an anomaly is. ``critical`` means coverage cannot be known at all."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class Problem(str, enum.Enum):
    """Why a guest needs attention. The check maps each to a state via thresholds."""

    NOT_COVERED = "not_covered"
    INDETERMINATE = "indeterminate"
    DISABLED_ONLY = "disabled_only"
    NON_PBS_ONLY = "non_pbs_only"
    FAILED = "failed"
    STALE = "stale"
    NEVER = "never"
    VERIFY_FAILED = "verify_failed"
    AGE_WARNING = "age_warning"  # latest success older than the warning --max-age
    AGE_CRITICAL = "age_critical"  # ... older than the critical --max-age


# pve-manager PVE/API2/Nodes.pm ``index``: a node's status is one of these
NodeStatus = Literal["online", "offline", "unknown"]
GuestType = Literal["qemu", "lxc"]


def guest_type(value: object) -> GuestType | None:
    """``qemu`` or ``lxc`` as PVE writes them (resources, vzdump log, our cache); None
    for anything else."""
    return "qemu" if value == "qemu" else "lxc" if value == "lxc" else None


# how the connection to the API is protected (the output says so when it is not verified)
TlsMode = Literal["verified", "pinned", "not verified", "plain http"]

# what an anomaly is about (the report groups and explains by it)
Component = Literal[
    "api", "nodes", "storages", "jobs", "guests", "pools", "tasks", "pbs_content", "pbs",
    "permissions", "schedule", "coverage", "config", "cache", "report",
]  # fmt: skip


@dataclass(frozen=True)
class Anomaly:
    """Something odd seen while collecting or analysing; never contains secrets.

    ``component`` is one of: ``api``, ``nodes``, ``storages``, ``jobs``, ``guests``,
    ``pools``, ``tasks``, ``pbs_content``, ``pbs``, ``permissions``, ``schedule``, ``coverage``,
    ``config``, ``cache``, ``report``.

    ``message`` is English; when the plugin wrote it, it is a ``messages.Msg`` that also
    keeps its code and arguments, so the report can show it in its own language.
    """

    severity: Severity
    component: Component
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "component": self.component,
            "message": self.message,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Node:
    name: str
    status: NodeStatus
    timezone: str | None = None  # IANA name from /nodes/{node}/time, None when unknown
    timezone_fetched: bool = False  # read from the API in this run (not cache or fallback)


@dataclass(frozen=True)
class Storage:
    """A storage from ``/storage``. Only PBS ones carry server/datastore/namespace/username."""

    id: str
    type: str
    enabled: bool
    nodes: tuple[str, ...] | None  # None: available on every node
    content: tuple[str, ...]
    server: str | None = None
    datastore: str | None = None
    namespace: str | None = None
    username: str | None = None
    port: int | None = None  # PBS API port (8007 when not set)

    @property
    def is_pbs(self) -> bool:
        return self.type == "pbs"

    @property
    def has_backup_content(self) -> bool:
        """``backup`` in its content (a PBS storage without ``content`` holds backups)."""
        return "backup" in self.content or (self.is_pbs and not self.content)

    def available_on(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes


class Selection(str, enum.Enum):
    """Which branch of ``PVE::VZDump::get_included_guests`` a job takes (pool > vmid > all)."""

    POOL = "pool"
    VMID = "vmid"
    ALL = "all"
    NONE = "none"


def perl_true(value: str | None) -> bool:
    """Perl truthiness of a stored option string: unset, ``""`` and ``"0"`` are false."""
    return value is not None and value not in ("", "0")


def perl_truth(value: Any) -> bool:
    """Perl truthiness of a JSON value PVE serves: ``null``, ``false``, ``0``, ``0.0``,
    ``""`` and ``"0"`` are false; every other value (``"false"``, ``"00"``, ``" 0"``,
    lists, objects) is true, as in Perl.

    Legacy ``vzdump.cron`` jobs carry ``enabled => !defined($enabled)`` (pve-guest-common
    ``src/PVE/VZDump/Common.pm`` ``parse_vzdump_cron_config``): Perl's false, served as ``""``.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value not in ("", "0")
    return True


def pve_selection(
    pool: str | None, vmid_raw: str | None, all_flag: bool, exclude_raw: str | None
) -> Selection:
    """The branch ``PVE::VZDump::get_included_guests`` takes: pool > vmid > all.

    An ``exclude`` without ``all`` runs as all-minus-exclude (``verify_vzdump_parameters``
    sets ``all=1``).
    """
    if perl_true(pool):
        return Selection.POOL
    if perl_true(vmid_raw):
        return Selection.VMID
    if all_flag or exclude_raw is not None:
        return Selection.ALL
    return Selection.NONE


@dataclass(frozen=True)
class BackupJob:
    """A backup job from ``/cluster/backup`` (jobs.cfg or legacy vzdump.cron)."""

    id: str
    enabled: bool
    storage: str | None  # None: the node's vzdump default applies
    schedule: str | None
    mode: str | None
    selection: Selection
    vmid_raw: str | None  # the raw ``vmid`` string as stored
    exclude_raw: str | None  # the raw ``exclude`` string as stored
    all_flag: bool
    pool: str | None
    node: str | None  # node restriction
    comment: str | None = None
    next_run: int | None = None
    legacy: bool = False  # no ``type`` field: vzdump.cron entry
    dumpdir: str | None = None  # plain files to this directory instead of a storage
    # a missed event (node or pvescheduler down) is run at the scheduler's next pass
    repeat_missed: bool = False


@quick_init
@dataclass(frozen=True)
class Guest:
    vmid: int
    type: GuestType
    name: str
    node: str
    status: str
    template: bool
    pool: str | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None  # guest description, only collected when the output needs it

    @property
    def kind(self) -> str:
        """Short label used in texts: ``vm`` or ``ct``."""
        return "ct" if self.type == "lxc" else "vm"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.vmid} {self.name}".rstrip()


@dataclass(frozen=True)
class BackupVisibility:
    """Whose backups the token sees in a storage's content list.

    pve-storage ``src/PVE/API2/Storage/Content.pm`` ``index`` drops every volume that
    ``src/PVE/Storage.pm`` ``check_volume_access`` refuses (with no VMID asked): a token
    with ``Datastore.Allocate`` on ``/storage/<id>`` sees every backup there; otherwise a
    backup only with ``Datastore.AllocateSpace`` on the storage and ``VM.Backup`` on
    ``/vms/<its VMID>``. From ``/access/permissions`` (``privileges.backup_visibility``).
    """

    every_backup: frozenset[str]  # storages with Datastore.Allocate
    with_vm_backup: frozenset[str]  # storages with Datastore.AllocateSpace
    vm_backup: frozenset[int] | None  # guests with VM.Backup; None: every guest

    def sees(self, storage: str, vmid: int) -> bool:
        """Whether ``storage``'s content lists the backups of guest ``vmid`` it holds."""
        if storage in self.every_backup:
            return True
        return storage in self.with_vm_backup and (self.vm_backup is None or vmid in self.vm_backup)


@dataclass(frozen=True)
class Pool:
    id: str
    comment: str | None
    members: tuple[int, ...] | None  # direct guest members; None when unreadable


@dataclass(frozen=True)
class Inventory:
    """Everything collected about the cluster configuration (no history)."""

    nodes: tuple[Node, ...]
    storages: tuple[Storage, ...]
    jobs: tuple[BackupJob, ...]
    guests: tuple[Guest, ...]
    pools: tuple[Pool, ...]
    # effective default storage per node for jobs without ``storage`` (vzdump defaults)
    node_default_storage: dict[str, str] = field(default_factory=dict)
    # nodes whose vzdump default is a directory (vzdump.conf ``dumpdir``, no ``storage``):
    # node -> the directory, "" when PVE does not show it (no Sys.Audit on the node)
    node_default_dumpdir: dict[str, str] = field(default_factory=dict)
    # VMIDs PVE's own /cluster/backup-info/not-backed-up lists; None when not read
    not_backed_up: tuple[int, ...] | None = None
    anomalies: tuple[Anomaly, ...] = ()
    version: str | None = None
    cluster_name: str | None = None
    # what could not be read at all: any of "guests", "jobs", "storages", "pools"
    unreadable: frozenset[str] = frozenset()
    # storages the jobs or node defaults name that /storage does not list: True when the
    # token has Datastore.Audit or Datastore.AllocateSpace on /storage/<id> (so /storage
    # would list it: it does not exist), False when it lacks both (it may be hidden);
    # absent when not known
    storage_audit: dict[str, bool] = field(default_factory=dict)
    # whose backups the storages' content lists show; None: permissions not read
    backup_visibility: BackupVisibility | None = None

    @cached_property
    def jobs_by_id(self) -> Mapping[str, BackupJob]:
        """The jobs by id (the one lookup every layer uses)."""
        return {j.id: j for j in self.jobs}

    def storage(self, storage_id: str) -> Storage | None:
        for s in self.storages:
            if s.id == storage_id:
                return s
        return None

    def pool(self, pool_id: str) -> Pool | None:
        for p in self.pools:
            if p.id == pool_id:
                return p
        return None

    def node(self, name: str) -> Node | None:
        for n in self.nodes:
            if n.name == name:
                return n
        return None
