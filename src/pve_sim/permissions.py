"""The API token's privileges: PVE ACL paths, role expansion and propagation.

Every ACL entry propagates to all sub-paths (``/`` covers everything, ``/vms`` covers
``/vms/100``), and the privileges of nested ACL paths add up. There is no ``NoAccess``
role and no propagate flag: the scenario only ever *grants* privileges, which is what a
monitoring token needs to be tested with. (Real PVE lets the most specific ACL path of a
user or token *replace* what its ancestors grant: acl ``PVE::AccessControl::roles``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "KNOWN_PRIVILEGES",
    "PVE_AUDITOR",
    "ROLES",
    "TokenAcl",
    "covers",
]

# acl src/PVE/AccessControl.pm $privgroups (PVE 8/9); enough to catch typos in scenarios.
KNOWN_PRIVILEGES: frozenset[str] = frozenset(
    {
        "Datastore.Allocate",
        "Datastore.AllocateSpace",
        "Datastore.AllocateTemplate",
        "Datastore.Audit",
        "Group.Allocate",
        "Mapping.Audit",
        "Mapping.Modify",
        "Mapping.Use",
        "Permissions.Modify",
        "Pool.Allocate",
        "Pool.Audit",
        "Realm.Allocate",
        "Realm.AllocateUser",
        "SDN.Allocate",
        "SDN.Audit",
        "SDN.Use",
        "Sys.AccessNetwork",
        "Sys.Audit",
        "Sys.Console",
        "Sys.Incoming",
        "Sys.Modify",
        "Sys.PowerMgmt",
        "Sys.Syslog",
        "User.Modify",
        "VM.Allocate",
        "VM.Audit",
        "VM.Backup",
        "VM.Clone",
        "VM.Config.CDROM",
        "VM.Config.CPU",
        "VM.Config.Cloudinit",
        "VM.Config.Disk",
        "VM.Config.HWType",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.Console",
        "VM.GuestAgent.Audit",
        "VM.GuestAgent.FileRead",
        "VM.GuestAgent.FileSystemMgmt",
        "VM.GuestAgent.FileWrite",
        "VM.GuestAgent.Unrestricted",
        "VM.Migrate",
        "VM.Monitor",
        "VM.PowerMgmt",
        "VM.Replicate",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    }
)

PVE_AUDITOR: frozenset[str] = frozenset(
    {
        "VM.Audit",
        "VM.GuestAgent.Audit",
        "Sys.Audit",
        "Datastore.Audit",
        "SDN.Audit",
        "Pool.Audit",
        "Mapping.Audit",
    }
)

# Role names accepted in place of privileges in a scenario (only the roles a monitoring
# token is realistically given).
ROLES: Mapping[str, frozenset[str]] = {
    "PVEAuditor": PVE_AUDITOR,
    "PVEDatastoreUser": frozenset({"Datastore.AllocateSpace", "Datastore.Audit"}),
    "PVEDatastoreAdmin": frozenset(
        {
            "Datastore.Allocate",
            "Datastore.AllocateSpace",
            "Datastore.AllocateTemplate",
            "Datastore.Audit",
        }
    ),
}


# acl src/PVE/RPCEnvironment.pm get_effective_permissions: always evaluated
TOP_LEVEL_PATHS = ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")


def covers(acl_path: str, path: str) -> bool:
    """True when an ACL on ``acl_path`` propagates to ``path``."""
    if acl_path == "/":
        return True
    return path == acl_path or path.startswith(acl_path + "/")


def normalize_path(path: str) -> str:
    """``/vms/100/`` -> ``/vms/100``; ``""`` -> ``/``."""
    stripped = "/" + "/".join(part for part in path.split("/") if part)
    return stripped


def expand(names: Iterable[str]) -> frozenset[str]:
    """Privilege and role names -> privileges; raises ``ValueError`` on an unknown name."""
    result: set[str] = set()
    for name in names:
        if name in ROLES:
            result |= ROLES[name]
        elif name in KNOWN_PRIVILEGES:
            result.add(name)
        else:
            raise ValueError(f"unknown privilege or role {name!r}")
    return frozenset(result)


@dataclass(frozen=True)
class TokenAcl:
    """The token's effective ACL: ``{path: privileges}`` (already role-expanded)."""

    entries: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def auditor(cls) -> TokenAcl:
        """What a token with the PVEAuditor role on ``/`` has (the scenario default)."""
        return cls({"/": PVE_AUDITOR})

    def privileges_at(self, *paths: str) -> frozenset[str]:
        """Union of the privileges that reach any of ``paths``.

        Several paths are given when PVE also looks at a pool: privileges on
        ``/pool/<id>`` reach the pool's guests.
        """
        result: set[str] = set()
        for acl_path, privs in self.entries.items():
            if any(covers(acl_path, p) for p in paths):
                result |= privs
        return frozenset(result)

    def effective(self, path: str, pool: str | None = None) -> dict[str, int]:
        """``{priv: propagate}`` on ``path`` as acl ``PVE::RPCEnvironment`` computes it
        (``compile_acl_path``): ACL privileges propagate (1); those that reach a pool
        member only through ``/pool/<pool>`` are never propagated (0)."""
        result = dict.fromkeys(self.privileges_at(path), 1)
        if pool is not None:
            for priv in self.privileges_at(f"/pool/{pool}"):
                result.setdefault(priv, 0)
        return dict(sorted(result.items()))

    def as_permissions(self, pools: Mapping[str, Iterable[int]]) -> dict[str, dict[str, int]]:
        """The ``/access/permissions`` answer (acl ``get_effective_permissions``): the
        top-level paths, every ACL path and every pool member's ``/vms/<vmid>``, each
        with its effective privileges; paths without any are left out."""
        paths: dict[str, str | None] = dict.fromkeys(TOP_LEVEL_PATHS)
        paths.update(dict.fromkeys(self.entries))
        for pool, members in pools.items():
            paths.update({f"/vms/{vmid}": pool for vmid in members})
        result = {path: self.effective(path, pool) for path, pool in sorted(paths.items())}
        return {path: privs for path, privs in result.items() if privs}
