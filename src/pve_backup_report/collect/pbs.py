"""Snapshots, verification, space estimate and job runs from PBS's own API (acquisition).

Each PBS storage in use is matched to a configured PBS server (:func:`match_storages`);
its snapshots are then read from PBS (``GET /admin/datastore/{store}/snapshots?ns=``,
proxmox-backup ``src/api2/admin/datastore.rs`` ``list_snapshots``) and translated item by
item into what PVE's storage-content call would have shown (pve-storage
``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes`` does exactly this translation), so
:func:`pve_backup_report.analysis.pbs_content.parse_content` builds the same domain objects and the
analysis does not know where they came from. A storage PBS cannot answer for falls back to
PVE's view, with an anomaly.

Per server: ``/status/datastore-usage`` (the datastores, their usage and estimated full
date), ``/admin/verify`` (verify jobs and their latest runs); per datastore:
``/admin/datastore/{store}/gc``; per storage: ``/access/permissions`` (does the token see
every group?) and the snapshots. All need only ``DatastoreAudit``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pve_backup_report.analysis.pbs_content import StorageContent, parse_content
from pve_backup_report.analysis.pbs_health import JobRun, SnapshotVerification, pbs_upid_start
from pve_backup_report.collect.pbs_client import PbsClient, as_list
from pve_backup_report.config import Settings
from pve_backup_report.errors import ApiError, ApiHttpError
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Inventory, Severity, Storage
from pve_backup_report.pbs_config import PBS_DEFAULT_PORT, PbsServer
from pve_backup_report.timeutil import iso_utc

log = logging.getLogger("nagiosplugin.pve_backup_report.pbs")


@dataclass(frozen=True)
class PbsCollection:
    content: dict[str, StorageContent]  # PVE storage id -> snapshots read from PBS
    fallback: tuple[str, ...]  # PBS storages in use that PBS did not answer for
    estimated_full: dict[str, int]  # PVE storage id -> PBS's estimated full date
    runs: tuple[JobRun, ...]
    verifications: tuple[SnapshotVerification, ...]
    anomalies: tuple[Anomaly, ...]
    requests: int = 0


@dataclass
class _Server:
    index: int
    server: PbsServer
    stores: dict[str, Mapping[str, Any]] | None = None  # None: server not usable
    error: str | None = None


@dataclass
class _Acc:
    content: dict[str, StorageContent] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    estimated: dict[str, int] = field(default_factory=dict)
    runs: list[JobRun] = field(default_factory=list)
    verifications: list[SnapshotVerification] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    requests: int = 0


def match_storages(
    storages: Sequence[Storage],
    servers: Sequence[PbsServer],
    stores: Sequence[Iterable[str] | None],
) -> dict[str, int]:
    """PVE storage id -> index of the PBS server that holds its datastore.

    One configured server serves every PBS storage whose datastore it has; with several,
    the storage's ``server`` and ``port`` pick the server. ``stores[i]`` are the datastores
    server ``i`` lists (None: unknown, the server was not usable).
    """
    out: dict[str, int] = {}
    for st in storages:
        if not st.is_pbs or not st.datastore:
            continue
        for i, server in enumerate(servers):
            listed = stores[i]
            if listed is None or st.datastore not in set(listed):
                continue
            if server.datastores and st.datastore not in server.datastores:
                continue
            if len(servers) > 1 and not _same_endpoint(st, server):
                continue
            out[st.id] = i
            break
    return out


def serves(server: PbsServer, st: Storage, servers: Sequence[PbsServer]) -> bool:
    """Could ``server`` hold ``st``'s datastore (its datastore list aside)?"""
    if server.datastores and st.datastore not in server.datastores:
        return False
    return len(servers) == 1 or _same_endpoint(st, server)


def _same_endpoint(st: Storage, server: PbsServer) -> bool:
    host = (st.server or "").strip("[]").lower()
    return host == server.hostname.lower() and (st.port or PBS_DEFAULT_PORT) == server.port


def to_pve_item(storage: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A PBS ``SnapshotListItem`` as PVE's storage content lists it (``list_volumes``)."""
    btype, bid, epoch = item.get("backup-type"), item.get("backup-id"), item.get("backup-time")
    if btype not in ("vm", "ct") or not isinstance(bid, str) or not bid.isdigit():
        return None
    if not isinstance(epoch, int):
        return None
    out: dict[str, Any] = {
        "volid": f"{storage}:backup/{btype}/{bid}/{iso_utc(epoch)}",
        "format": f"pbs-{btype}",
        "size": item["size"] if isinstance(item.get("size"), int) else 1,
        "content": "backup",
        "vmid": int(bid),
        "ctime": epoch,
        "subtype": "qemu" if btype == "vm" else "lxc",
    }
    if isinstance(item.get("verification"), Mapping):
        out["verification"] = dict(item["verification"])
    if item.get("comment") is not None:
        out["notes"] = item["comment"]
    if item.get("protected"):
        out["protected"] = 1
    if item.get("fingerprint") is not None:
        out["encrypted"] = item["fingerprint"]
    elif any(isinstance(f, Mapping) and f.get("crypt-mode") == "encrypt" for f in _files(item)):
        out["encrypted"] = "1"
    return out


def _files(item: Mapping[str, Any]) -> list[Any]:
    files = item.get("files")
    return files if isinstance(files, list) else []


def collect_pbs(
    settings: Settings, inventory: Inventory, storage_ids: Iterable[str], now: int
) -> PbsCollection:
    """Read every PBS storage in use from its PBS server (fallback list for the others)."""
    wanted = [
        st
        for sid in sorted(set(storage_ids))
        if (st := inventory.storage(sid)) is not None
        and st.is_pbs
        and st.enabled
        and st.has_backup_content
    ]
    acc = _Acc()
    servers = [_Server(i, s) for i, s in enumerate(settings.pbs_servers)]
    clients = [PbsClient(s.server, settings) for s in servers]
    try:
        for srv, client in zip(servers, clients, strict=True):
            _read_usage(srv, client, acc)
        matched = match_storages(wanted, [s.server for s in servers], [s.stores for s in servers])
        for st in wanted:
            index = matched.get(st.id)
            if index is None:
                _unmatched(st, servers, acc)
                continue
            _read_storage(st, servers[index], clients[index], acc)
        for srv, client in zip(servers, clients, strict=True):
            used = {_store_of(inventory, sid) for sid, i in matched.items() if i == srv.index}
            _read_jobs(srv, client, sorted(used), acc)
    finally:
        for client in clients:
            acc.requests += client.stats.requests
            client.close()
    return PbsCollection(
        content=acc.content,
        fallback=tuple(acc.failed),
        estimated_full=acc.estimated,
        runs=tuple(acc.runs),
        verifications=tuple(acc.verifications),
        anomalies=tuple(acc.anomalies),
        requests=acc.requests,
    )


def _store_of(inventory: Inventory, sid: str) -> str:
    st = inventory.storage(sid)
    return (st.datastore or "") if st is not None else ""


def _read_usage(srv: _Server, client: PbsClient, acc: _Acc) -> None:
    """``/status/datastore-usage``: which datastores the server has, and their usage."""
    try:
        items = as_list(client.get("/status/datastore-usage"))
    except ApiError as exc:
        srv.error = exc.message
        return
    stores: dict[str, Mapping[str, Any]] = {str(i["store"]): i for i in items if i.get("store")}
    if srv.server.datastores:
        stores = {k: v for k, v in stores.items() if k in srv.server.datastores}
    srv.stores = stores


def _unmatched(st: Storage, servers: Sequence[_Server], acc: _Acc) -> None:
    acc.failed.append(st.id)
    broken = [s for s in servers if s.stores is None]
    if broken and (len(servers) == 1 or any(_same_endpoint(st, s.server) for s in broken)):
        srv = next(s for s in broken if len(servers) == 1 or _same_endpoint(st, s.server))
        text = Msg("pbs_api_unusable", server=srv.server.label, error=srv.error)
        severity = Severity.WARNING
    else:
        text = Msg("pbs_no_datastore", datastore=st.datastore, storage=st.id)
        severity = Severity.INFO
    acc.anomalies.append(
        Anomaly(
            severity,
            "pbs",
            Msg("pbs_read_from_pve", text=text, storage=st.id),
            {"storage": st.id, "datastore": st.datastore},
        )
    )


def _read_storage(st: Storage, srv: _Server, client: PbsClient, acc: _Acc) -> None:
    assert srv.stores is not None and st.datastore
    store, ns = st.datastore, st.namespace or ""
    usage = srv.stores.get(store) or {}
    full = usage.get("estimated-full-date")
    if isinstance(full, int) and full > 0:
        acc.estimated[st.id] = full
    params = {"ns": ns} if ns else None
    try:
        items = as_list(client.get(f"/admin/datastore/{store}/snapshots", params))
    except ApiError as exc:
        acc.failed.append(st.id)
        acc.anomalies.append(_denied(st, srv, exc, Msg("pbs_what_snapshots")))
        return
    _check_audit(st, srv, client, acc)
    pve_items = [p for i in items if (p := to_pve_item(st.id, i)) is not None]
    acc.content[st.id] = parse_content(st.id, pve_items)
    for p in pve_items:
        verification = p.get("verification") or {}
        acc.verifications.append(
            SnapshotVerification(
                st.id,
                p["volid"].split(":backup/", 1)[1],
                p["ctime"],
                pbs_upid_start(verification.get("upid")),
            )
        )
    log.info("PBS %s: %d snapshot(s) of storage %s", srv.server.label, len(pve_items), st.id)


def _acl_path(st: Storage) -> str:
    return f"/datastore/{st.datastore}" + (f"/{st.namespace}" if st.namespace else "")


def _check_audit(st: Storage, srv: _Server, client: PbsClient, acc: _Acc) -> None:
    """Without Datastore.Audit, PBS lists only the groups the token owns."""
    path = _acl_path(st)
    try:
        perms = client.get("/access/permissions", {"path": path})
    except ApiError:
        return  # the snapshot list was readable; nothing more to learn
    privs = perms.get(path) if isinstance(perms, Mapping) else None
    if isinstance(privs, Mapping) and "Datastore.Audit" in privs:
        return
    acc.anomalies.append(
        Anomaly(
            Severity.WARNING,
            "permissions",
            Msg(
                "pbs_no_audit",
                token=srv.server.token_id,
                path=path,
                server=srv.server.label,
                storage=st.id,
            ),
            {"storage": st.id, "missing_privilege": f"DatastoreAudit on {path}"},
        )
    )


def _denied(st: Storage, srv: _Server, exc: ApiError, what: Msg) -> Anomaly:
    role = None
    hint = Msg("empty")
    if isinstance(exc, ApiHttpError) and exc.status == 403:
        role = f"DatastoreAudit on {_acl_path(st)}"
        hint = Msg("pbs_needs_role", path=_acl_path(st))
    return Anomaly(
        Severity.WARNING,
        "pbs",
        Msg(
            "pbs_denied",
            server=srv.server.label,
            what=what,
            storage=st.id,
            error=exc.message,
            hint=hint,
        ),
        {"storage": st.id, "endpoint": exc.endpoint, "missing_privilege": role},
    )


def _read_jobs(srv: _Server, client: PbsClient, stores: Sequence[str], acc: _Acc) -> None:
    """Latest garbage collection per datastore and the verify jobs of those datastores."""
    if srv.stores is None or not stores:
        return
    for store in stores:
        try:
            gc = client.get(f"/admin/datastore/{store}/gc")
        except ApiError as exc:
            acc.anomalies.append(_info(srv, Msg("pbs_what_gc", store=store), exc))
            continue
        if isinstance(gc, Mapping):
            acc.runs.append(_run("gc", "gc", store, srv, gc))
    try:
        jobs = as_list(client.get("/admin/verify"))
    except ApiError as exc:
        acc.anomalies.append(_info(srv, Msg("pbs_what_verify_jobs"), exc))
        return
    for job in jobs:
        if job.get("store") in stores:
            acc.runs.append(_run("verify", str(job.get("id")), str(job["store"]), srv, job))


def _run(kind: str, job_id: str, store: str, srv: _Server, data: Mapping[str, Any]) -> JobRun:
    def opt_int(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) else None

    state = data.get("last-run-state")
    schedule = data.get("schedule")
    return JobRun(
        kind=kind,
        id=job_id,
        datastore=store,
        server=srv.server.label,
        schedule=schedule if isinstance(schedule, str) else None,
        last_end=opt_int("last-run-endtime"),
        last_state=state if isinstance(state, str) else None,
        next_run=opt_int("next-run"),
    )


def _info(srv: _Server, what: Msg, exc: ApiError) -> Anomaly:
    denied = isinstance(exc, ApiHttpError) and exc.status == 403
    hint = Msg("pbs_needs_audit" if denied else "empty")
    return Anomaly(
        Severity.INFO,
        "pbs",
        Msg(
            "pbs_info_unreadable", server=srv.server.label, what=what, error=exc.message, hint=hint
        ),
        {"endpoint": exc.endpoint},
    )
