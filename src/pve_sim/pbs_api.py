"""The simulated Proxmox Backup Server API subset (no transport): a request in, PBS's answer out.

Endpoints, parameters, fields and permission checks follow proxmox-backup
``src/api2/admin/datastore.rs`` (``list_snapshots``, ``status``,
``garbage_collection_status``, ``get_datastore_list``), ``src/api2/status.rs``
(``datastore_status``), ``src/api2/admin/verify.rs`` (``list_verification_jobs``) and the
types of ``pbs-api-types`` (``SnapshotListItem``, ``DataStoreStatusListItem``,
``GarbageCollectionJobStatus``, ``VerificationJobStatus``). Errors have PBS's shape
(proxmox-rest-server ``error_to_response``): the HTTP status and the bare message as the
body; a plain error is a 400.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pve_sim.api import ApiRequest, ApiResponse
from pve_sim.apibase import ApiError, Param, Route, parse_params
from pve_sim.pbs_scenario import PbsDatastore, PbsSpec, VerifyJobSpec
from pve_sim.scenario import BackupSpec, Scenario
from pve_sim.timeutil import epoch_to_iso_z

__all__ = ["PbsApi", "PbsResponse", "pbs_error", "pbs_upid"]

AUDIT, BACKUP, VERIFY = "Datastore.Audit", "Datastore.Backup", "Datastore.Verify"


@dataclass(frozen=True)
class PbsResponse(ApiResponse):
    """An answer whose error body is the bare message (PBS), not PVE's JSON object."""

    text: str | None = None

    def body(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":")).encode()


def pbs_error(status: int, message: str) -> ApiResponse:
    return PbsResponse(status, message.split("\n", 1)[0], {"data": None}, text=message)


def pbs_upid(node: str, starttime: int, worker_type: str, worker_id: str, auth_id: str) -> str:
    """``UPID:node:pid:pstart:task_id:starttime:type:id:authid:`` (PBS has a task_id)."""
    wid = "".join(_escape(c) for c in worker_id)  # proxmox-systemd escape_unit
    return (
        f"UPID:{node}:{0x1F2E:08X}:{0x00A1B2C3:08X}:{starttime & 0xFF:08X}:{starttime:08X}:"
        f"{worker_type}:{wid}:{auth_id}:"
    )


def _escape(c: str) -> str:
    if c == "/":
        return "-"
    if c.isascii() and (c.isalnum() or c in "_."):
        return c
    return "".join(f"\\x{b:02x}" for b in c.encode())


@dataclass(frozen=True)
class _Ctx:
    spec: PbsSpec
    scenario: Scenario
    now: int

    def privs(self, store: str, ns: str = "") -> frozenset[str]:
        path = "/datastore/" + store + ("/" + ns if ns else "")
        return self.spec.token.acl.privileges(path)

    def store(self, name: str) -> PbsDatastore:
        found = self.spec.datastores.get(name)
        if found is None:
            raise ApiError(400, f"no such datastore '{name}'")
        return found


class PbsApi:
    """Answers requests for the scenario's ``pbs`` server."""

    def __init__(self, scenario: Scenario, clock: Callable[[], float] = time.time) -> None:
        assert scenario.pbs is not None
        self.scenario = scenario
        self.spec: PbsSpec = scenario.pbs
        self._clock = clock

    def now(self) -> int:
        return self.scenario.now if self.scenario.now is not None else int(self._clock())

    def handle(self, request: ApiRequest) -> ApiResponse:
        path = "/" + "/".join(part for part in request.path.split("/") if part)
        if request.method != "GET":
            return pbs_error(405, f"Method '{request.method}' not allowed")
        if not self._authenticated(request.authorization):
            return pbs_error(401, "authentication failed - invalid token secret")
        for route in ROUTES:
            args = route.match(path)
            if args is None:
                continue
            try:
                params = parse_params(route.params, request.query)
                data = route.handler(_Ctx(self.spec, self.scenario, self.now()), args, params)
            except ApiError as exc:
                detail = "; ".join(f"{k}: {v}" for k, v in (exc.errors or {}).items())
                return pbs_error(exc.status, f"{exc.message} {detail}".strip())
            return PbsResponse(200, "OK", {"data": data})
        return pbs_error(404, "Path not found.")

    def _authenticated(self, header: str | None) -> bool:
        """``PBSAPIToken=<id>:<secret>`` (the client also sends a space instead of '=')."""
        if not header or not header.startswith("PBSAPIToken"):
            return False
        rest = header[len("PBSAPIToken") :]
        if rest[:1] not in ("=", " "):
            return False
        token_id, sep, secret = rest[1:].strip().partition(":")
        token = self.spec.token
        return bool(sep) and token_id == token.id and hmac.compare_digest(secret, token.secret)


# --------------------------------------------------------------------------- handlers

Args = Mapping[str, Any]


def version(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    release = ".".join(ctx.spec.version.split(".")[:2])
    return {"version": ctx.spec.version, "release": release, "repoid": "0e8b4a7c"}


def datastore_list(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    acl = ctx.spec.token.acl
    return [
        {"store": name}
        for name in sorted(ctx.spec.datastores)
        if acl.any_below("/datastore/" + name)
    ]


def _gc_status(store: PbsDatastore, ctx: _Ctx) -> dict[str, Any]:
    """``GarbageCollectionStatus`` of the latest run (zeros when none ran)."""
    gc = store.gc
    status: dict[str, Any] = {
        "index-file-count": 0,
        "index-data-bytes": 0,
        "disk-bytes": store.used,
        "disk-chunks": 0,
        "removed-bytes": gc.removed_bytes if gc else 0,
        "removed-chunks": 0,
        "pending-bytes": gc.pending_bytes if gc else 0,
        "pending-chunks": 0,
        "removed-bad": 0,
        "still-bad": 0,
    }
    if gc is not None and gc.last_run is not None:
        status["upid"] = pbs_upid(
            ctx.spec.node, gc.last_run - 60, "garbage_collection", store.name, "root@pam"
        )
    return status


def datastore_usage(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    out: list[dict[str, Any]] = []
    for name in sorted(ctx.spec.datastores):
        store = ctx.spec.datastores[name]
        if not ctx.privs(name) & {AUDIT, BACKUP}:
            if ctx.spec.token.acl.any_below("/datastore/" + name):
                out.append({"store": name})
            continue
        if store.error is not None:
            out.append({"store": name, "error": store.error})
            continue
        item: dict[str, Any] = {
            "store": name,
            "total": store.total,
            "used": store.used,
            "avail": store.avail,
            "gc-status": _gc_status(store, ctx),
        }
        if store.estimated_full is not None:
            item["estimated-full-date"] = store.estimated_full
        out.append(item)
    return out


def datastore_status(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    name = path["store"]
    full = bool(ctx.privs(name) & {AUDIT, BACKUP})
    if not full and not ctx.spec.token.acl.any_below("/datastore/" + name):
        raise ApiError(403, "permission check failed")
    store = ctx.store(name)
    result: dict[str, Any] = {
        "total": store.total if full else 0,
        "used": store.used if full else 0,
        "avail": store.avail if full else 0,
    }
    if args.get("verbose"):
        if full:
            result["gc-status"] = _gc_status(store, ctx)
        result["counts"] = _counts(ctx, name, AUDIT in ctx.privs(name))
    return result


def _counts(ctx: _Ctx, store: str, all_groups: bool) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    groups: dict[tuple[str, str, str], int] = {}
    for ns, kind, bid, _, backup in _snapshots_of(ctx, store):
        if all_groups or _owner(ctx, backup) == ctx.spec.token.id:
            groups[(ns, kind, bid)] = groups.get((ns, kind, bid), 0) + 1
    for (_, kind, _), n in groups.items():
        c = counts.setdefault(kind, {"groups": 0, "snapshots": 0})
        c["groups"] += 1
        c["snapshots"] += n
    return counts


def gc_status(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    name = path["store"]
    if AUDIT not in ctx.privs(name):
        raise ApiError(403, "permission check failed")
    store = ctx.store(name)
    gc = store.gc
    info: dict[str, Any] = {"store": name, **_gc_status(store, ctx)}
    if gc is None:
        info["schedule"] = "daily"
        return info
    if gc.schedule:
        info["schedule"] = gc.schedule
    if gc.last_run is not None:
        info["last-run-endtime"] = gc.last_run
        info["last-run-state"] = gc.state
        info["duration"] = 60
        nxt = _next_run(gc.schedule, gc.last_run)
        if nxt is not None:
            info["next-run"] = nxt
    return info


def _next_run(schedule: str | None, last: int) -> int | None:
    """``compute_schedule_status``: the next event after the last run (UTC)."""
    if not schedule:
        return None
    from pve_backup_report.pve.schedule import ScheduleError, next_event, parse_event

    try:
        return next_event(parse_event(schedule), last, "UTC")
    except ScheduleError:
        return None


def verify_jobs(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    wanted = args.get("store")
    out: list[dict[str, Any]] = []
    for name in sorted(ctx.spec.datastores):
        if wanted is not None and name != wanted:
            continue
        for job in ctx.spec.datastores[name].verify_jobs:
            if ctx.privs(name, job.ns or "") & {AUDIT, VERIFY}:
                out.append(_verify_item(ctx, name, job))
    return out


def _verify_item(ctx: _Ctx, store: str, job: VerifyJobSpec) -> dict[str, Any]:
    item: dict[str, Any] = {"id": job.id, "store": store}
    for key, value in (
        ("schedule", job.schedule),
        ("ns", job.ns),
        ("outdated-after", job.outdated_after),
    ):
        if value is not None:
            item[key] = value
    if job.last_run is not None:
        item["last-run-endtime"] = job.last_run
        item["last-run-state"] = job.state or "OK"
        item["last-run-upid"] = pbs_upid(
            ctx.spec.node, job.last_run - 120, "verificationjob", f"{store}:{job.id}", "root@pam"
        )
    nxt = job.next_run if job.next_run is not None else _next_run(job.schedule, job.last_run or 0)
    if nxt is not None:
        item["next-run"] = nxt
    return item


def _snapshots_of(ctx: _Ctx, store: str) -> list[tuple[str, str, str, int, BackupSpec]]:
    """(ns, type, id, time, backup) of the scenario's backups on PVE storages of ``store``."""
    seen: dict[tuple[str, str, str, int], BackupSpec] = {}
    for b in ctx.scenario.backups:
        st = ctx.scenario.storage(b.storage)
        if st is None or st.type != "pbs" or st.config.get("datastore") != store:
            continue
        ns = str(st.config.get("namespace") or "")
        kind = "vm" if b.type == "qemu" else "ct"
        seen.setdefault((ns, kind, str(b.vmid), b.ctime), b)
    return [(k[0], k[1], k[2], k[3], v) for k, v in sorted(seen.items())]


def _owner(ctx: _Ctx, backup: BackupSpec) -> str:
    if backup.owner:
        return backup.owner
    st = ctx.scenario.storage(backup.storage)
    username = st.config.get("username") if st is not None else None
    return str(username or ctx.spec.owner)


def snapshots(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    store = path["store"]
    ns = str(args.get("ns") or "")
    privs = ctx.privs(store, ns)
    if not privs & {AUDIT, BACKUP}:
        acl = "/datastore/" + store + ("/" + ns if ns else "")
        raise ApiError(403, f"permission check failed - missing {AUDIT}|{BACKUP} on {acl}")
    ctx.store(store)
    list_all = AUDIT in privs
    out: list[dict[str, Any]] = []
    for s_ns, kind, bid, when, backup in _snapshots_of(ctx, store):
        if s_ns != ns or args.get("backup-type", kind) != kind:
            continue
        if args.get("backup-id", bid) != bid:
            continue
        owner = _owner(ctx, backup)
        if not list_all and owner != ctx.spec.token.id:
            continue
        out.append(_snapshot_item(ctx, kind, bid, when, backup, owner))
    return out


def _snapshot_item(
    ctx: _Ctx, kind: str, bid: str, when: int, b: BackupSpec, owner: str
) -> dict[str, Any]:
    """A ``SnapshotListItem``; no size and no verification without a manifest (unfinished)."""
    files = (
        ["qemu-server.conf.blob", "drive-scsi0.img.fidx"]
        if kind == "vm"
        else [
            "pct.conf.blob",
            "root.pxar.didx",
        ]
    )
    item: dict[str, Any] = {
        "backup-type": kind,
        "backup-id": bid,
        "backup-time": when,
        "owner": owner,
        "protected": b.protected,
    }
    if b.size <= 1:  # what PVE shows for a snapshot without manifest
        item["files"] = [{"filename": f} for f in files]
        return item
    crypt = "encrypt" if b.encrypted else "none"
    item["files"] = [
        {"filename": "index.json.blob", "size": 512, "crypt-mode": "none"},
        {"filename": files[0], "size": 400, "crypt-mode": crypt},
        {"filename": files[1], "size": b.size - 912, "crypt-mode": crypt},
    ]
    item["size"] = b.size
    if b.notes:
        item["comment"] = b.notes.split("\n", 1)[0]
    if b.encrypted:
        item["fingerprint"] = b.encrypted if ":" in b.encrypted else "ab:" * 31 + "cd"
    if b.verification is not None:
        upid = b.verification.get("upid") or pbs_upid(
            ctx.spec.node,
            when + 3600,
            "verify_snapshot",
            f"{kind}/{bid}/{epoch_to_iso_z(when)}",
            "root@pam",
        )
        item["verification"] = {"state": b.verification["state"], "upid": upid}
    return item


def namespaces(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    store = path["store"]
    if not ctx.spec.token.acl.any_below("/datastore/" + store):
        raise ApiError(403, "permission check failed")
    ctx.store(store)
    found = {""} | {ns for ns, *_ in _snapshots_of(ctx, store)}
    return [{"ns": ns} for ns in sorted(found)]


def permissions(ctx: _Ctx, path: Mapping[str, str], args: Args) -> Any:
    """``list_permissions`` (src/api2/access/mod.rs): ``{path: {privilege: propagate}}``,
    paths without any privilege left out."""
    token = ctx.spec.token
    if args.get("auth-id") not in (None, token.id):
        raise ApiError(400, f"not allowed to list permissions of {args['auth-id']}")
    wanted = args.get("path")
    paths = [wanted] if wanted else sorted({"/", "/access", "/datastore", *token.acl.entries})
    out: dict[str, dict[str, bool]] = {}
    for p in paths:
        privs = token.acl.privileges(p)
        if privs:
            out[p] = dict.fromkeys(sorted(privs), True)
    return out


ROUTES: tuple[Route[_Ctx], ...] = (
    Route("/version", version),
    Route("/admin/datastore", datastore_list),
    Route("/status/datastore-usage", datastore_usage),
    Route("/admin/datastore/{store}/status", datastore_status, {"verbose": Param("bool")}),
    Route("/admin/datastore/{store}/gc", gc_status),
    Route(
        "/admin/datastore/{store}/snapshots",
        snapshots,
        {
            "ns": Param(),
            "backup-type": Param("enum", choices=("vm", "ct", "host")),
            "backup-id": Param(),
        },
    ),
    Route(
        "/admin/datastore/{store}/namespace",
        namespaces,
        {"parent": Param(), "max-depth": Param("int")},
    ),
    Route("/admin/verify", verify_jobs, {"store": Param()}),
    Route("/access/permissions", permissions, {"path": Param(), "auth-id": Param()}),
)
