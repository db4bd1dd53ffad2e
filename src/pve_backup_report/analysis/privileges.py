"""What the token's effective permissions say about what the check can see (pure).

``GET /access/permissions`` (pve-access-control ``src/PVE/API2/AccessControl.pm``
``permissions``, ``PVE::RPCEnvironment::get_effective_permissions``) answers
``{path: {privilege: propagate}}`` for the top-level paths (``/``, ``/nodes``, ``/pool``,
``/storage``, ``/vms``, ...), every path named in an ACL and every pool member
(``/vms/<vmid>``); a path where the token has no privilege is left out. The flag is the
privilege's propagation: ``1`` reaches every path below, ``0`` only that path. Privileges
that come only through a pool ACL appear on the pool's guests with ``0`` (never
propagated, ``compile_acl_path``), and a privsep token has the intersection of its own
and its user's privileges, both flags combined.

PVE computes each listed path itself (a more specific ACL replaces what an ancestor
grants), so "every guest" is read from the ``/vms`` entry, never guessed from ``/``.
Used by ``--check-api`` and by every check run (one request).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, BackupJob, BackupVisibility, Severity, perl_truth

Grant = Literal["yes", "partly", "no", "unknown"]


@dataclass(frozen=True)
class Need:
    """A privilege the plugin relies on, and what goes wrong silently without it.

    ``below``: the privilege must reach every path below ``path`` (propagated there, and
    not taken away on a listed sub-path); otherwise it is needed on ``path`` itself.
    ``any_of``: other privileges that serve as well (PVE's ``check_any``).
    """

    privilege: str
    path: str
    scope: str  # human-readable, e.g. "the guests (/vms)"
    without_it: str
    below: bool = True
    any_of: tuple[str, ...] = ()

    @property
    def privileges(self) -> tuple[str, ...]:
        return (self.privilege, *self.any_of)

    @property
    def label(self) -> str:
        names = " or ".join(self.privileges)
        return f"{names} on {self.path}" + (" (propagated)" if self.below else "")


SYS_AUDIT_ROOT = Need(
    "Sys.Audit",
    "/",
    "/",
    "403 on the backup jobs (pve-manager PVE/API2/Backup.pm index), so coverage cannot be known",
    below=False,
)
SYS_AUDIT_NODES = Need(
    "Sys.Audit",
    "/nodes",
    "the nodes (/nodes)",
    "task lists come back EMPTY (scheduled backups run as root@pam and are filtered "
    "out, pve-manager PVE/API2/Tasks.pm), so history looks like 'never backed up' and "
    "failures cannot be seen",
)
VM_AUDIT = Need(
    "VM.Audit",
    "/vms",
    "the guests (/vms)",
    "guests silently disappear from /cluster/resources (pve-manager PVE/API2/Cluster.pm "
    "resources), so they are neither checked nor reported as not covered",
)
DATASTORE_AUDIT = Need(
    "Datastore.Audit",
    "/storage",
    "the storages (/storage)",
    "storages silently disappear from /storage, so jobs look like they write to an unknown storage",
    any_of=("Datastore.AllocateSpace",),
)
POOL_AUDIT = Need(
    "Pool.Audit",
    "/pool",
    "the pools (/pool)",
    "pools silently disappear from /pools and the pool field from guests, so pool jobs "
    "cannot be resolved",
)

# Not a need of the check: what lets a content list show a guest's backups without
# Datastore.Allocate (``backup_visibility``).
_VM_BACKUP = Need("VM.Backup", "/vms", "the guests (/vms)", "their backups are not listed")

# What --check-api lists, in this order.
API_CHECK_NEEDS = (SYS_AUDIT_ROOT, SYS_AUDIT_NODES, VM_AUDIT, DATASTORE_AUDIT, POOL_AUDIT)


# Paths PVE always evaluates (``get_effective_permissions``): absent means no privilege.
_TOP_LEVEL = frozenset(
    ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")
)


def _has(entry: Any, privileges: Iterable[str]) -> bool:
    return isinstance(entry, Mapping) and any(p in entry for p in privileges)


def _propagates(entry: Any, privileges: Iterable[str]) -> bool:
    return isinstance(entry, Mapping) and any(perl_truth(entry.get(p)) for p in privileges)


def _at(perms: Mapping[str, Any], path: str) -> Any:
    """The privileges on ``path``: its own entry when PVE lists or always evaluates it,
    else what the nearest listed ancestor propagates (no ACL names the path)."""
    if path in perms or path in _TOP_LEVEL:
        return perms.get(path)
    parent = path.rsplit("/", 1)[0] or "/"
    entry = _at(perms, parent) if path != "/" else None
    if not isinstance(entry, Mapping):
        return None
    return {p: flag for p, flag in entry.items() if perl_truth(flag)}


def granted(perms: Any, need: Need) -> Grant:
    """``yes``, ``partly`` (only some paths below), ``no``, or ``unknown`` (no answer)."""
    if not isinstance(perms, Mapping):
        return "unknown"
    privs = need.privileges
    if not need.below:
        return "yes" if _has(_at(perms, need.path), privs) else "no"
    prefix = need.path.rstrip("/") + "/"
    below = [entry for path, entry in perms.items() if str(path).startswith(prefix)]
    if _propagates(_at(perms, need.path), privs):
        # a listed path below without it: an ACL there replaces what the parent grants
        return "yes" if all(_has(e, privs) for e in below) else "partly"
    return "partly" if any(_has(e, privs) for e in below) else "no"


def allows(perms: Mapping[str, Any], path: str, privilege: str) -> bool:
    """Whether the token has ``privilege`` on ``path`` (``PVE::RPCEnvironment::check``).

    One case says yes where PVE says no: ``get_effective_permissions`` drops a path
    where the token has nothing (``NoAccess``), and ``_at`` then takes what its parent
    propagates. For ``backup_visibility`` that is safe: such a guest has no
    ``VM.Audit`` and is not in the inventory, and such a storage answers its content
    call with 403 (an anomaly: no snapshot hint is given)."""
    entry = _at(perms, path)
    return isinstance(entry, Mapping) and privilege in entry


def backup_visibility(
    perms: Any, storages: Iterable[str], guests: Iterable[int]
) -> BackupVisibility | None:
    """Whose backups each storage's content list shows the token (``BackupVisibility``,
    pve-storage ``src/PVE/Storage.pm`` ``check_volume_access``); None without an answer."""
    if not isinstance(perms, Mapping):
        return None
    storages = list(storages)
    every = frozenset(s for s in storages if allows(perms, f"/storage/{s}", "Datastore.Allocate"))
    space = frozenset(
        s for s in storages if allows(perms, f"/storage/{s}", "Datastore.AllocateSpace")
    )
    vm_backup: frozenset[int] | None = None
    if granted(perms, _VM_BACKUP) != "yes":
        vm_backup = frozenset(v for v in guests if allows(perms, f"/vms/{v}", "VM.Backup"))
    return BackupVisibility(every, space, vm_backup)


def check_needs(jobs: Iterable[BackupJob]) -> tuple[Need, ...]:
    """What a check run relies on without PVE saying so (a 403 names itself): Pool.Audit
    only when a job selects a pool."""
    needs = [SYS_AUDIT_NODES, VM_AUDIT, DATASTORE_AUDIT]
    if any(j.pool for j in jobs):
        needs.append(POOL_AUDIT)
    return tuple(needs)


# The code of each need's ``without_it`` text, for the report's languages.
_WITHOUT = {
    ("Sys.Audit", "/"): "without_sys_audit_root",
    ("Sys.Audit", "/nodes"): "without_sys_audit_nodes",
    ("VM.Audit", "/vms"): "without_vm_audit",
    ("Datastore.Audit", "/storage"): "without_datastore_audit",
    ("Pool.Audit", "/pool"): "without_pool_audit",
}


def _names(need: Need) -> Msg | str:
    """``A`` or ``A or B`` (a need met by either privilege)."""
    if not need.any_of:
        return need.privilege
    return Msg("perm_or", first=need.privilege, second=" or ".join(need.any_of))


def privilege_anomalies(perms: Any, jobs: Iterable[BackupJob]) -> list[Anomaly]:
    """One WARNING per privilege the token lacks (or has only on some paths) that makes
    PVE hide data with HTTP 200 instead of refusing."""
    out: list[Anomaly] = []
    for need in check_needs(jobs):
        grant = granted(perms, need)
        if grant not in ("no", "partly"):
            continue
        names = _names(need)
        without = Msg(_WITHOUT[(need.privilege, need.path)])
        if grant == "partly":
            message = Msg("perm_partly", names=names, path=need.path, without=without)
        else:
            code = "perm_label_propagated" if need.below else "perm_label"
            label = Msg(code, names=names, path=need.path)
            message = Msg("perm_lacks", label=label, without=without)
        out.append(
            Anomaly(
                Severity.WARNING,
                "permissions",
                message,
                {"missing_privilege": need.label, "granted": grant},
            )
        )
    return out
