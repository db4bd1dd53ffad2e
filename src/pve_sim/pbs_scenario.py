"""The scenario's ``pbs`` key: one simulated Proxmox Backup Server beside the PVE cluster.

Its snapshots are not listed separately: they are the scenario's ``backups`` on storages
of type ``pbs`` (datastore and namespace from the storage), so the PVE view
(``.../storage/{id}/content``) and the PBS view (``/admin/datastore/{store}/snapshots``)
always agree. The ``pbs`` mapping adds the PBS token and, per datastore, its usage and
its latest garbage-collection and verify runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pve_sim.fields import Fields, ScenarioError
from pve_sim.permissions import covers, normalize_path

__all__ = ["PBS_ROLES", "GcSpec", "PbsAcl", "PbsDatastore", "PbsSpec", "VerifyJobSpec", "parse_pbs"]

# proxmox-backup pbs-api-types src/acl.rs: the ROLE_* constants (privilege names as PBS
# shows them in /access/permissions).
PBS_ROLES: Mapping[str, frozenset[str]] = {
    "Admin": frozenset(
        {
            "Sys.Audit",
            "Datastore.Audit",
            "Datastore.Modify",
            "Datastore.Read",
            "Datastore.Verify",
            "Datastore.Backup",
            "Datastore.Prune",
        }
    ),
    "Audit": frozenset({"Sys.Audit", "Datastore.Audit"}),
    "NoAccess": frozenset(),
    "DatastoreAdmin": frozenset(
        {
            "Datastore.Audit",
            "Datastore.Modify",
            "Datastore.Read",
            "Datastore.Verify",
            "Datastore.Backup",
            "Datastore.Prune",
        }
    ),
    "DatastoreReader": frozenset({"Datastore.Audit", "Datastore.Verify", "Datastore.Read"}),
    "DatastoreBackup": frozenset({"Datastore.Backup"}),
    "DatastorePowerUser": frozenset({"Datastore.Prune", "Datastore.Backup"}),
    "DatastoreAudit": frozenset({"Datastore.Audit"}),
}

DEFAULT_PBS_TOKEN_ID = "monitor@pbs!check"
DEFAULT_PBS_SECRET = "11111111-1111-1111-1111-111111111111"


@dataclass(frozen=True)
class PbsAcl:
    entries: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def privileges(self, path: str) -> frozenset[str]:
        out: set[str] = set()
        for acl_path, privs in self.entries.items():
            if covers(acl_path, path):
                out |= privs
        return frozenset(out)

    def any_below(self, path: str) -> bool:
        """Some privilege on ``path`` or a path below it (a namespace)."""
        return any(
            privs and (covers(acl, path) or acl.startswith(path + "/"))
            for acl, privs in self.entries.items()
        )


@dataclass(frozen=True)
class PbsToken:
    id: str
    secret: str
    acl: PbsAcl


@dataclass(frozen=True)
class GcSpec:
    last_run: int | None  # endtime of the latest run; None: never ran
    state: str  # "OK", "WARNINGS: 1" or the error message, as PBS's TaskState prints it
    schedule: str | None
    removed_bytes: int = 0
    pending_bytes: int = 0


@dataclass(frozen=True)
class VerifyJobSpec:
    id: str
    schedule: str | None
    last_run: int | None
    state: str | None
    next_run: int | None
    ns: str | None = None
    outdated_after: int | None = None


@dataclass(frozen=True)
class PbsDatastore:
    name: str
    total: int
    used: int
    avail: int
    estimated_full: int | None
    gc: GcSpec | None
    verify_jobs: tuple[VerifyJobSpec, ...]
    error: str | None = None


@dataclass(frozen=True)
class PbsSpec:
    node: str
    version: str
    token: PbsToken
    datastores: Mapping[str, PbsDatastore]
    owner: str  # the group owner when the PVE storage names no username
    latency_ms: int = 0
    faults: tuple[Any, ...] = ()  # FaultSpec, as for the PVE API


def parse_pbs(raw: object, storages: Sequence[Any], parse_fault: Any) -> PbsSpec | None:
    """The ``pbs`` mapping; datastores the PBS storages name exist even when not listed."""
    if raw is None:
        return None
    keys = ("node", "version", "token", "datastores", "owner", "latency_ms", "faults")
    f = Fields(raw, "pbs", keys)
    node = f.text("node", "pbs")
    stores: dict[str, PbsDatastore] = {}
    for name, value in (f.mapping("datastores", {}) or {}).items():
        stores[name] = _parse_store(f"pbs.datastores.{name}", name, value or {}, node)
    for s in storages:
        name = s.config.get("datastore") if s.type == "pbs" else None
        if name and name not in stores:
            stores[str(name)] = _parse_store(f"pbs.datastores.{name}", str(name), {}, node)
    faults = tuple(
        parse_fault(f"pbs.faults[{i}]", v) for i, v in enumerate(f.sequence("faults", []))
    )
    return PbsSpec(
        node=node,
        version=f.text("version", "3.3.2"),
        token=_parse_token(f),
        datastores=stores,
        owner=f.text("owner", "root@pam"),
        latency_ms=f.integer("latency_ms", 0, minimum=0),
        faults=faults,
    )


def _parse_token(f: Fields) -> PbsToken:
    raw = f.mapping("token", None)
    if raw is None:
        every = {"/datastore": PBS_ROLES["DatastoreAudit"]}
        return PbsToken(DEFAULT_PBS_TOKEN_ID, DEFAULT_PBS_SECRET, PbsAcl(every))
    t = Fields(raw, "pbs.token", ("id", "secret", "privileges"))
    token_id: str = t.text("id", DEFAULT_PBS_TOKEN_ID)
    if "@" not in token_id or "!" not in token_id:
        raise t.error("id", f"expected USER@REALM!TOKENID, got {token_id!r}")
    secret: str = t.nonempty_text("secret") if t.has("secret") else DEFAULT_PBS_SECRET
    entries: dict[str, frozenset[str]] = {}
    for path, names in (t.mapping("privileges", {}) or {}).items():
        where = f"pbs.token.privileges[{path!r}]"
        names = [names] if isinstance(names, str) else names
        if not path.startswith("/") or not isinstance(names, list):
            raise ScenarioError(f"{where}: expected '/path': [Role or privilege, ...]")
        privs: set[str] = set()
        for name in names:
            if name in PBS_ROLES:
                privs |= PBS_ROLES[name]
            elif isinstance(name, str) and "." in name:
                privs.add(name)
            else:
                raise ScenarioError(f"{where}: unknown PBS role or privilege {name!r}")
        entries[normalize_path(path)] = frozenset(privs)
    return PbsToken(token_id, secret, PbsAcl(entries))


def _parse_store(where: str, name: str, raw: object, node: str) -> PbsDatastore:
    keys = ("total", "used", "avail", "estimated_full", "gc", "verify", "error")
    f = Fields(raw, where, keys)
    total = f.integer("total", 4 * 1024**4, minimum=0)
    used = f.integer("used", total // 4, minimum=0)
    gc_raw = f.mapping("gc", None)
    jobs = tuple(
        _parse_verify(f"{where}.verify[{i}]", v, name)
        for i, v in enumerate(f.sequence("verify", []))
    )
    return PbsDatastore(
        name=name,
        total=total,
        used=used,
        avail=f.integer("avail", max(0, total - used), minimum=0),
        estimated_full=f.time("estimated_full", None),
        gc=_parse_gc(f"{where}.gc", gc_raw) if gc_raw is not None else None,
        verify_jobs=jobs,
        error=f.text("error", None),
    )


def _parse_gc(where: str, raw: object) -> GcSpec:
    f = Fields(raw, where, ("last_run", "state", "schedule", "removed_bytes", "pending_bytes"))
    return GcSpec(
        last_run=f.time("last_run", None),
        state=f.text("state", "OK"),
        schedule=f.text("schedule", "daily"),
        removed_bytes=f.integer("removed_bytes", 0, minimum=0),
        pending_bytes=f.integer("pending_bytes", 0, minimum=0),
    )


def _parse_verify(where: str, raw: object, store: str) -> VerifyJobSpec:
    keys = ("id", "schedule", "last_run", "state", "next_run", "ns", "outdated_after")
    f = Fields(raw, where, keys)
    return VerifyJobSpec(
        id=f.text("id", f"v-{store}"),
        schedule=f.text("schedule", "daily"),
        last_run=f.time("last_run", None),
        state=f.text("state", "OK"),
        next_run=f.time("next_run", None),
        ns=f.text("ns", None),
        outdated_after=f.integer("outdated_after", None, minimum=0),
    )
