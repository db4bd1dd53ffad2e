"""``--check-api`` for each configured PBS server: the endpoints the check reads, and
whether the token has ``Datastore.Audit`` (the ``DatastoreAudit`` role) on each datastore.

Without it PBS refuses the snapshot list (403, proxmox-backup ``src/backup/hierarchy.rs``
``check_ns_privs_full``) or, with only ``DatastoreBackup``, lists just the groups the token
owns (``list_snapshots``): backups made by PVE look missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pve_backup_report.collect.api_check import EndpointProbe, PrivilegeCheck, _probe, probe_table
from pve_backup_report.collect.pbs_client import PbsClient, as_list
from pve_backup_report.model import TlsMode

EXIT_OK, EXIT_WARNING, EXIT_UNKNOWN = 0, 1, 3
ROLE_HINT = (
    "PBS refuses the snapshot list (403) or, with DatastoreBackup only, lists just the "
    "groups the token owns: give the token the DatastoreAudit role on {path} "
    "(proxmox-backup-manager acl update {path} DatastoreAudit --auth-id {token})"
)


@dataclass(frozen=True)
class PbsCheckResult:
    server: str
    token_id: str
    tls_mode: TlsMode
    version: str | None
    probes: tuple[EndpointProbe, ...]
    privileges: tuple[PrivilegeCheck, ...]
    requests: int

    @property
    def exit_code(self) -> int:
        if not any(p.ok for p in self.probes):
            return EXIT_UNKNOWN
        if all(p.ok for p in self.probes) and all(c.granted == "yes" for c in self.privileges):
            return EXIT_OK
        return EXIT_WARNING

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "token_id": self.token_id,
            "tls": self.tls_mode,
            "version": self.version,
            "endpoints": [asdict(p) for p in self.probes],
            "privileges": [asdict(c) for c in self.privileges],
            "requests": self.requests,
            "exit_code": self.exit_code,
        }


def run_pbs_api_check(client: PbsClient, wanted: Sequence[str] = ()) -> PbsCheckResult:
    """Probe the endpoints; ``wanted``: datastores PVE's PBS storages use on this server."""
    server = client.server
    version_probe, version = _probe(client, "/version")
    usage_probe, usage = _probe(client, "/status/datastore-usage")
    probes = [version_probe, usage_probe, _probe(client, "/admin/verify")[0]]
    stores = sorted({str(i["store"]) for i in as_list(usage) if i.get("store")})
    if server.datastores:
        stores = [s for s in stores if s in server.datastores]
    privileges: list[PrivilegeCheck] = []
    for store in stores:
        path = f"/datastore/{store}"
        probes.append(_pbs_probe(client, f"/admin/datastore/{store}/snapshots"))
        probes.append(_pbs_probe(client, f"/admin/datastore/{store}/gc"))
        perm_probe, perms = _probe(client, "/access/permissions", {"path": path})
        probes.append(perm_probe)
        privileges.append(_audit(perms, path, client.server.token_id, usage_probe.ok))
    for store in sorted(set(wanted) - set(stores)):
        privileges.append(_audit({}, f"/datastore/{store}", server.token_id, usage_probe.ok))
    if usage_probe.ok and not stores and not wanted:
        privileges.append(_audit(None, "/datastore", server.token_id, False))
    return PbsCheckResult(
        server.label,
        server.token_id,
        client.tls_mode,
        str(version.get("version")) if isinstance(version, dict) else None,
        tuple(probes),
        tuple(privileges),
        client.stats.requests,
    )


def _pbs_probe(client: PbsClient, endpoint: str) -> EndpointProbe:
    probe = _probe(client, endpoint)[0]
    if probe.ok or not probe.error or not probe.error.startswith("403"):
        return probe
    store = endpoint.split("/")[3]
    return EndpointProbe(
        probe.endpoint,
        False,
        None,
        probe.ms,
        probe.error,
        f"DatastoreAudit on /datastore/{store}",
    )


def _audit(perms: Any, path: str, token: str, known: bool) -> PrivilegeCheck:
    entry = perms.get(path) if isinstance(perms, dict) else None
    if isinstance(entry, dict):
        granted = "yes" if "Datastore.Audit" in entry else "no"
    else:
        granted = "no" if perms is not None or not known else "unknown"
    return PrivilegeCheck(
        "Datastore.Audit (role DatastoreAudit)",
        path,
        granted,
        ROLE_HINT.format(path=path, token=token),
    )


def render_pbs_check(result: PbsCheckResult) -> str:
    lines = [
        f"PBS API check: {result.server}, token {result.token_id}, version "
        f"{result.version or 'unknown'}, TLS {result.tls_mode}",
        "",
        *probe_table(result.probes),
    ]
    lines += ["", "PBS privileges (from /access/permissions):"]
    for c in result.privileges:
        lines.append(f"  {c.privilege} on {c.scope}: {c.granted}")
        if c.granted != "yes":
            lines.append(f"    without it: {c.without_it}")
    lines.append(f"{result.requests} PBS requests.")
    return "\n".join(lines)
