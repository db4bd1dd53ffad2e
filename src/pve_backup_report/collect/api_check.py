"""``--check-api``: which endpoints the token can read, and which privileges it really has.

Every endpoint is asked on its own, so one failure never hides the others. The result is
a value object; :func:`render_api_check` turns it into text or JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pve_backup_report.analysis.privileges import API_CHECK_NEEDS, Need, granted
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.errors import ApiError, ApiHttpError
from pve_backup_report.model import TlsMode

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
    required: bool = True  # optional ones do not change the exit code


@dataclass(frozen=True)
class ApiCheckResult:
    tls_mode: TlsMode
    version: str | None
    probes: tuple[EndpointProbe, ...]
    privileges: tuple[PrivilegeCheck, ...]
    requests: int
    bytes: int

    @property
    def exit_code(self) -> int:
        if not any(p.ok for p in self.probes):
            return EXIT_UNKNOWN
        if all(p.ok for p in self.probes) and all(
            c.granted == "yes" for c in self.privileges if c.required
        ):
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
        page = client.get_page(endpoint, params)
    except ApiError as exc:
        ms = int((time.monotonic() - t0) * 1000)
        missing = exc.missing_privilege if isinstance(exc, ApiHttpError) else None
        return EndpointProbe(endpoint, False, None, ms, exc.message, missing), None
    ms = int((time.monotonic() - t0) * 1000)
    count = page.total if page.total is not None else _count(page.data)
    return EndpointProbe(endpoint, True, count, ms), page.data


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
    answers: dict[str, Any] = {}
    for endpoint, params in endpoints:
        probe, answers[endpoint] = _probe(client, endpoint, params)
        probes.append(probe)
    version_data = answers.get("/version")
    version = (
        str(version_data.get("version") or "") or None if isinstance(version_data, dict) else None
    )
    perms = answers.get("/access/permissions")
    pbs = _pbs_storages(answers.get("/storage"))
    for endpoint, params in _per_node_endpoints(answers.get("/nodes"), pbs):
        probes.append(_probe(client, endpoint, params)[0])
    privileges = _privileges(perms) + _content_privileges(perms, [sid for sid, _ in pbs])
    return ApiCheckResult(
        client.tls_mode,
        version,
        tuple(probes),
        privileges,
        client.stats.requests,
        client.stats.bytes,
    )


def _pbs_storages(data: Any) -> list[tuple[str, tuple[str, ...] | None]]:
    """(id, nodes restriction) of the enabled PBS storages in a /storage answer."""
    out = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and item.get("type") == "pbs" and not item.get("disable"):
            nodes = tuple(n for n in str(item.get("nodes") or "").split(",") if n)
            out.append((str(item.get("storage")), nodes or None))
    return out


def _per_node_endpoints(
    nodes_data: Any, pbs: list[tuple[str, tuple[str, ...] | None]]
) -> list[tuple[str, dict[str, Any] | None]]:
    """What the check asks per node (tried on one online node) and per PBS storage."""
    online = sorted(
        str(n["node"])
        for n in (nodes_data if isinstance(nodes_data, list) else [])
        if isinstance(n, dict) and n.get("node") and n.get("status") == "online"
    )
    if not online:
        return [("/cluster/backup-info/not-backed-up", None)]
    node = online[0]
    out: list[tuple[str, dict[str, Any] | None]] = [
        ("/cluster/backup-info/not-backed-up", None),
        (f"/nodes/{node}/time", None),
        (f"/nodes/{node}/tasks", {"typefilter": "vzdump", "limit": 1, "source": "all"}),
    ]
    for sid, restricted in pbs:
        via = next((n for n in online if restricted is None or n in restricted), None)
        if via is not None:
            out.append((f"/nodes/{via}/storage/{sid}/content", {"content": "backup"}))
            out.append((f"/nodes/{via}/storage/{sid}/status", None))
    return out


def _content_privileges(perms: Any, storages: list[str]) -> tuple[PrivilegeCheck, ...]:
    """Listing backups needs more than a read-only role; optional, explained."""
    out = []
    for sid in storages:
        path = f"/storage/{sid}"
        allocate = granted(perms, Need("Datastore.Allocate", path, path, "", below=False))
        space = granted(perms, Need("Datastore.AllocateSpace", path, path, "", below=False))
        backup = granted(perms, Need("VM.Backup", "/vms", "/vms", ""))
        if "unknown" in (allocate, space, backup):
            grant = "unknown"
        else:
            grant = "yes" if allocate == "yes" or (space == "yes" and backup == "yes") else "no"
        out.append(
            PrivilegeCheck(
                "Datastore.Allocate (or Datastore.AllocateSpace + VM.Backup)",
                f"PBS storage {sid} (optional)",
                grant,
                "its backup list comes back EMPTY (no read-only role can list backups), so "
                "the check cannot cross-check snapshots or report verification; grant it, or "
                "set pbs_content: false to rely on task logs alone",
                required=False,
            )
        )
    return tuple(out)


def _privileges(perms: Any) -> tuple[PrivilegeCheck, ...]:
    return tuple(
        PrivilegeCheck(
            " or ".join(need.privileges),
            need.scope + ("" if need.below else " itself"),
            granted(perms, need),
            need.without_it,
        )
        for need in API_CHECK_NEEDS
    )


def all_hosts_down(result: ApiCheckResult) -> bool:
    return not any(p.ok for p in result.probes)


def probe_table(probes: Sequence[EndpointProbe]) -> list[str]:
    """The endpoint table of ``--check-api`` (PVE's and PBS's), header first."""
    width = max(len(p.endpoint) for p in probes)
    lines = [f"{'endpoint':<{width}} {'result':<8} {'items':>6} {'ms':>6}  detail"]
    for p in probes:
        items = "" if p.count is None else str(p.count)
        detail = p.error or ""
        if p.missing_privilege:
            detail += f" -> the token lacks {p.missing_privilege}"
        lines.append(
            f"{p.endpoint:<{width}} {'OK' if p.ok else 'FAILED':<8} {items:>6} {p.ms:>6}  {detail}"
        )
    return lines


def render_api_check(result: ApiCheckResult, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2, sort_keys=True)
    lines = [
        f"PVE API check: version {result.version or 'unknown'}, TLS {result.tls_mode}",
        "",
        *probe_table(result.probes),
    ]
    lines += ["", "Effective privileges (from /access/permissions):"]
    for c in result.privileges:
        lines.append(f"  {c.privilege:<16} on {c.scope:<24} {c.granted}")
        if c.granted != "yes":
            lines.append(f"    without it: {c.without_it}")
    lines.append(f"{result.requests} requests, {result.bytes} bytes.")
    return "\n".join(lines)


def connection_failure(result: ApiCheckResult) -> str | None:
    """One line for the case where no endpoint answered (unreachable API, bad token)."""
    if not all_hosts_down(result):
        return None
    first = result.probes[0]
    return first.error
