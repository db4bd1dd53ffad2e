"""Cluster-wide endpoints: version, cluster index/status/resources, backup jobs, pools,
storage configuration and the token's permissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pve_sim.apibase import ApiError, Context, Param, Route
from pve_sim.resources import (
    guest_stats,
    node_stats,
    storage_digest,
    storage_row,
)
from pve_sim.selection import SelectionError, included_guests

__all__ = ["ROUTES"]

Args = Mapping[str, Any]
PathArgs = Mapping[str, str]

# PVE 8's /cluster directory index (mgr PVE/API2/Cluster.pm "index").
_CLUSTER_INDEX = (
    "log", "options", "resources", "status", "tasks", "backup", "ha", "acme", "sdn", "ceph",
    "jobs", "mapping", "metrics", "notifications", "nextid", "replication", "config",
    "firewall", "backup-info",
)  # fmt: skip


def version(ctx: Context, path: PathArgs, args: Args) -> Any:
    return dict(ctx.scenario.version)


def cluster_index(ctx: Context, path: PathArgs, args: Args) -> Any:
    return [{"name": name} for name in _CLUSTER_INDEX]


def cluster_status(ctx: Context, path: PathArgs, args: Args) -> Any:
    ctx.require("/", "Sys.Audit")
    scenario = ctx.scenario
    online = sum(1 for n in scenario.nodes if n.online)
    result: list[dict[str, Any]] = []
    if scenario.cluster_name:
        result.append(
            {
                "type": "cluster",
                "id": "cluster",
                "name": scenario.cluster_name,
                "nodes": len(scenario.nodes),
                "quorate": int(online * 2 > len(scenario.nodes)),
                "version": len(scenario.nodes) + 1,
            }
        )
    for node in scenario.nodes:
        result.append(
            {
                "type": "node",
                "id": f"node/{node.node}",
                "name": node.node,
                "nodeid": node.index + 1,
                "online": int(node.online),
                "local": int(node.index == 0),
                "ip": f"192.0.2.{101 + node.index}",
                "level": "",
            }
        )
    return result


def _pool_field(ctx: Context, vmid: int) -> str | None:
    pool = ctx.scenario.pool_of(vmid)
    if pool is not None and ctx.can(f"/pool/{pool}", "Pool.Audit"):
        return pool
    return None


def guest_rows(ctx: Context) -> list[dict[str, Any]]:
    rows = []
    for guest in sorted(ctx.scenario.guests, key=lambda g: g.vmid):
        if not ctx.can_see_guest(guest):
            continue
        row = guest_stats(ctx.scenario, guest)
        pool = _pool_field(ctx, guest.vmid)
        if pool is not None:
            row["pool"] = pool
        for key in ("tags", "lock", "hastate"):
            value = getattr(guest, key)
            if value is not None:
                row[key] = value
        rows.append(row)
    return rows


def cluster_resources(ctx: Context, path: PathArgs, args: Args) -> Any:
    kind = args.get("type")
    scenario = ctx.scenario
    rows: list[dict[str, Any]] = []
    if kind in (None, "vm"):
        rows += guest_rows(ctx)
    if kind in (None, "node"):
        rows += [node_stats(n, ctx.can(f"/nodes/{n.node}", "Sys.Audit")) for n in scenario.nodes]
    if kind in (None, "storage"):
        for storage in scenario.storages:
            if not ctx.can(f"/storage/{storage.id}", "Datastore.Audit") or storage.disabled:
                continue
            rows += [
                storage_row(storage, n) for n in scenario.nodes if storage.available_on(n.node)
            ]
    if kind is None:
        for pool in scenario.pools:
            if ctx.can(f"/pool/{pool.poolid}", "Pool.Audit"):
                rows.append({"id": f"/pool/{pool.poolid}", "pool": pool.poolid, "type": "pool"})
    return rows


def backup_jobs(ctx: Context, path: PathArgs, args: Args) -> Any:
    ctx.require("/", "Sys.Audit")
    return [dict(job.config) for job in ctx.scenario.jobs]


def backup_job(ctx: Context, path: PathArgs, args: Args) -> Any:
    ctx.require("/", "Sys.Audit")
    for job in ctx.scenario.jobs:
        if job.id == path["id"]:
            return dict(job.config)
    raise ApiError(400, "Parameter verification failed.", {"id": f"No such job '{path['id']}'"})


def not_backed_up(ctx: Context, path: PathArgs, args: Args) -> Any:
    """Ignores enabled, storage type and schedule, like mgr ``BackupInfo.pm``."""
    ctx.require("/", "Sys.Audit")
    scenario = ctx.scenario
    vmlist = {g.vmid: g.node for g in scenario.guests}
    pools = {p.poolid: p.members for p in scenario.pools}
    covered: set[int] = set()
    for job in scenario.jobs:
        try:
            selected = included_guests(job.config, vmlist, pools)
        except SelectionError as exc:
            raise ApiError(500, str(exc)) from None
        for vmids in selected.values():
            covered.update(vmids)
    result = []
    for guest in sorted(scenario.guests, key=lambda g: g.vmid):
        if guest.vmid in covered or not ctx.can_see_guest(guest):
            continue
        item: dict[str, Any] = {"vmid": guest.vmid, "type": guest.type}
        if guest.name:
            item["name"] = guest.name
        result.append(item)
    return result


def _pool_members(ctx: Context, poolid: str, kind: str | None) -> list[dict[str, Any]]:
    pool = ctx.scenario.pool(poolid)
    if pool is None:
        raise ApiError(500, f"pool '{poolid}' does not exist")
    members = []
    for vmid in pool.members:
        guest = ctx.scenario.guest(vmid)
        if guest is None or not ctx.can_see_guest(guest):
            continue
        if kind is not None and kind != guest.type:
            continue
        members.append(guest_stats(ctx.scenario, guest))
    return members


def _pool_head(ctx: Context, poolid: str) -> dict[str, Any]:
    pool = ctx.scenario.pool(poolid)
    head: dict[str, Any] = {"poolid": poolid}
    if pool is not None and pool.comment is not None:
        head["comment"] = pool.comment
    return head


def pools(ctx: Context, path: PathArgs, args: Args) -> Any:
    poolid = args.get("poolid")
    if poolid is None:
        if "type" in args:
            raise ApiError(
                400, "Parameter verification failed.", {"type": "parameter 'poolid' is required"}
            )
        return [
            _pool_head(ctx, p.poolid)
            for p in ctx.scenario.pools
            if ctx.can(f"/pool/{p.poolid}", "Pool.Audit")
        ]
    # PVE >= 8.1 form; its Pool.Audit check is made but not enforced upstream
    members = _pool_members(ctx, poolid, args.get("type"))
    return [{**_pool_head(ctx, poolid), "members": members}]


def pool(ctx: Context, path: PathArgs, args: Args) -> Any:
    poolid = path["poolid"]
    ctx.require(f"/pool/{poolid}", "Pool.Audit")
    members = _pool_members(ctx, poolid, args.get("type"))
    head = _pool_head(ctx, poolid)
    del head["poolid"]
    return {**head, "members": members}


def storage_config(ctx: Context, path: PathArgs, args: Args) -> Any:
    digest = storage_digest(ctx.scenario)
    kind = args.get("type")
    return [
        {**s.config, "digest": digest}
        for s in ctx.scenario.storages
        if ctx.can_see_storage(s.id) and (kind is None or s.type == kind)
    ]


def access_permissions(ctx: Context, path: PathArgs, args: Args) -> Any:
    """acl ``src/PVE/API2/AccessControl.pm`` ``permissions``: ``{path: {priv: propagate}}``."""
    acl = ctx.token.acl
    wanted = args.get("path")
    if wanted is None:
        return acl.as_permissions({p.poolid: p.members for p in ctx.scenario.pools})
    parts = wanted.split("/")
    pool = None
    if len(parts) == 3 and parts[1] == "vms" and parts[2].isdigit():
        pool = ctx.scenario.pool_of(int(parts[2]))
    privs = acl.effective(wanted, pool)
    return {wanted: privs} if privs else {}


_STORAGE_TYPES = (
    "btrfs", "cephfs", "cifs", "dir", "esxi", "iscsi", "iscsidirect", "lvm", "lvmthin", "nfs",
    "pbs", "rbd", "zfs", "zfspool",
)  # fmt: skip

ROUTES = (
    Route("/version", version),
    Route("/cluster", cluster_index),
    Route("/cluster/status", cluster_status),
    Route(
        "/cluster/resources",
        cluster_resources,
        {"type": Param("enum", choices=("vm", "storage", "node", "sdn"))},
    ),
    Route("/cluster/backup", backup_jobs),
    Route("/cluster/backup/{id}", backup_job),
    Route("/cluster/backup-info/not-backed-up", not_backed_up),
    Route(
        "/pools",
        pools,
        {"poolid": Param(), "type": Param("enum", choices=("qemu", "lxc", "storage"))},
    ),
    Route("/pools/{poolid}", pool, {"type": Param("enum", choices=("qemu", "lxc", "storage"))}),
    Route("/storage", storage_config, {"type": Param("enum", choices=_STORAGE_TYPES)}),
    Route("/access/permissions", access_permissions, {"path": Param(), "userid": Param()}),
)
