"""``--check-api``: which endpoints the token can read, and which privileges it really has.

Every endpoint is asked on its own, so one failure never hides the others. The result is
a value object; :func:`render_api_check` turns it into text or JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from pve_backup_report.errors import ApiError, ApiHttpError
from pve_backup_report.pve_client import PveClient

EXIT_OK, EXIT_WARNING, EXIT_UNKNOWN = 0, 1, 3


@dataclass(frozen=True)
class EndpointProbe:
    endpoint: str
    ok: bool
    count: int | None
    ms: int
    error: str | None = None
    missing_privilege: str | None = None


@dataclass(frozen=True)
class PrivilegeCheck:
    privilege: str
    scope: str  # human-readable, e.g. "/" or "the guests (/vms)"
    granted: str  # yes / partly / no / unknown
    without_it: str  # what goes wrong (the silent trap)


@dataclass(frozen=True)
class ApiCheckResult:
    tls_mode: str
    version: str | None
    probes: tuple[EndpointProbe, ...]
    privileges: tuple[PrivilegeCheck, ...]
    requests: int
    bytes: int

    @property
    def exit_code(self) -> int:
        if not any(p.ok for p in self.probes):
            return EXIT_UNKNOWN
        if all(p.ok for p in self.probes) and all(c.granted == "yes" for c in self.privileges):
            return EXIT_OK
        return EXIT_WARNING

    def to_json(self) -> dict[str, Any]:
        return {
            "tls": self.tls_mode,
            "version": self.version,
            "endpoints": [asdict(p) for p in self.probes],
            "privileges": [asdict(c) for c in self.privileges],
            "requests": self.requests,
            "bytes": self.bytes,
            "exit_code": self.exit_code,
        }


_TRAPS: tuple[tuple[str, str, str, str], ...] = (
    # privilege, path prefix to look for, scope text, what happens without it
    (
        "Sys.Audit",
        "/",
        "/",
        "403 on the backup jobs; task lists come back EMPTY (scheduled backups run as "
        "root@pam and are filtered out), so history looks like 'never backed up'",
    ),
    (
        "VM.Audit",
        "/vms",
        "the guests (/vms)",
        "guests silently disappear from /cluster/resources, so coverage looks complete "
        "while guests are missing",
    ),
    (
        "Datastore.Audit",
        "/storage",
        "the storages (/storage)",
        "storages silently disappear from /storage, so jobs look like they write to an "
        "unknown storage",
    ),
    (
        "Pool.Audit",
        "/pool",
        "the pools (/pool)",
        "pools silently disappear from /pools and the pool field from guests, so pool "
        "jobs cannot be resolved",
    ),
)


def _count(data: Any) -> int | None:
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict):
        return len(data)
    return None


def _probe(
    client: PveClient, endpoint: str, params: dict[str, Any] | None = None
) -> tuple[EndpointProbe, Any]:
    t0 = time.monotonic()
    try:
        data = client.get(endpoint, params)
    except ApiError as exc:
        ms = int((time.monotonic() - t0) * 1000)
        missing = exc.missing_privilege if isinstance(exc, ApiHttpError) else None
        return EndpointProbe(endpoint, False, None, ms, exc.message, missing), None
    ms = int((time.monotonic() - t0) * 1000)
    return EndpointProbe(endpoint, True, _count(data), ms), data


def _granted(perms: dict[str, Any], priv: str, prefix: str) -> str:
    def has(path: str) -> bool:
        entry = perms.get(path)
        return isinstance(entry, dict) and bool(entry.get(priv))

    if has("/") or (prefix != "/" and has(prefix)):
        return "yes"
    if prefix != "/" and any(p.startswith(prefix + "/") and has(p) for p in perms):
        return "partly"
    return "no"


def run_api_check(client: PveClient, jobs_endpoint: str) -> ApiCheckResult:
    """Probe each endpoint the plugin uses, then read ``/access/permissions``."""
    endpoints: list[tuple[str, dict[str, Any] | None]] = [
        ("/version", None),
        ("/nodes", None),
        ("/storage", None),
        ("/cluster/resources", {"type": "vm"}),
        ("/cluster", None),
        (jobs_endpoint, None),
        ("/pools", None),
        ("/cluster/tasks", None),
        ("/access/permissions", None),
    ]
    probes: list[EndpointProbe] = []
    version: str | None = None
    perms: Any = None
    for endpoint, params in endpoints:
        probe, data = _probe(client, endpoint, params)
        probes.append(probe)
        if endpoint == "/version" and isinstance(data, dict):
            version = str(data.get("version") or "") or None
        if endpoint == "/access/permissions":
            perms = data
    privileges = _privileges(perms)
    return ApiCheckResult(
        client.tls_mode,
        version,
        tuple(probes),
        privileges,
        client.stats.requests,
        client.stats.bytes,
    )


def _privileges(perms: Any) -> tuple[PrivilegeCheck, ...]:
    out = []
    for priv, prefix, scope, without in _TRAPS:
        granted = _granted(perms, priv, prefix) if isinstance(perms, dict) else "unknown"
        out.append(PrivilegeCheck(priv, scope, granted, without))
    return tuple(out)


def all_hosts_down(result: ApiCheckResult) -> bool:
    return not any(p.ok for p in result.probes)


def render_api_check(result: ApiCheckResult, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2, sort_keys=True)
    lines = [
        f"PVE API check: version {result.version or 'unknown'}, TLS {result.tls_mode}",
        "",
        f"{'endpoint':<28} {'result':<8} {'items':>6} {'ms':>6}  detail",
    ]
    for p in result.probes:
        items = "" if p.count is None else str(p.count)
        detail = p.error or ""
        if p.missing_privilege:
            detail += f" -> the token lacks {p.missing_privilege}"
        lines.append(
            f"{p.endpoint:<28} {'OK' if p.ok else 'FAILED':<8} {items:>6} {p.ms:>6}  {detail}"
        )
    lines += ["", "Effective privileges (from /access/permissions):"]
    for c in result.privileges:
        lines.append(f"  {c.privilege:<16} on {c.scope:<24} {c.granted}")
        if c.granted != "yes":
            lines.append(f"    without it: {c.without_it}")
    lines += [
        "",
        "Note: the PBS backup list (storage content) is empty for read-only roles such as "
        "PVEAuditor; the check then relies on task logs and says so.",
        f"{result.requests} requests, {result.bytes} bytes.",
    ]
    return "\n".join(lines)


def connection_failure(result: ApiCheckResult) -> str | None:
    """One line for the case where no endpoint answered (unreachable API, bad token)."""
    if not all_hosts_down(result):
        return None
    first = result.probes[0]
    return first.error
