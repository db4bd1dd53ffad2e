"""Node endpoints: the node list and time, guest configs, storage content (backups) and the
node's vzdump defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pve_sim.apibase import ApiError, Context, Param, Route
from pve_sim.resources import fake_fingerprint, guest_config, node_stats
from pve_sim.scenario import BackupSpec, StorageSpec
from pve_sim.timeutil import epoch_to_iso_z, local_datetime, utc_offset_seconds

__all__ = ["ROUTES"]

Args = Mapping[str, Any]
PathArgs = Mapping[str, str]

# vzdump defaults PVE hides without Sys.Audit on the node (mgr PVE/API2/VZDump.pm)
_SENSITIVE_DEFAULTS = ("mailto", "tmpdir", "dumpdir", "script", "ionice")


def nodes(ctx: Context, path: PathArgs, args: Args) -> Any:
    result = []
    for node in ctx.scenario.nodes:
        entry = node_stats(node, ctx.can(f"/nodes/{node.node}", "Sys.Audit"))
        entry.pop("cgroup-mode", None)
        entry["ssl_fingerprint"] = fake_fingerprint(f"node:{node.node}")
        result.append(entry)
    return result


def node_time(ctx: Context, path: PathArgs, args: Args) -> Any:
    node = path["node"]
    ctx.require(f"/nodes/{node}", "Sys.Audit")
    spec = ctx.scenario.node(node)
    assert spec is not None  # the dispatcher checked the node
    return {
        "timezone": spec.timezone,
        "time": ctx.now,
        "localtime": ctx.now + utc_offset_seconds(ctx.now, spec.timezone),
    }


def _vmid(path: PathArgs) -> int:
    raw = path["vmid"]
    if not raw.isdigit() or not 100 <= int(raw) <= 999999999:
        raise ApiError(
            400,
            "Parameter verification failed.",
            {"vmid": "invalid format - value does not look like a valid VM ID"},
        )
    return int(raw)


def _config(kind: str, conf_dir: str) -> Any:
    def handler(ctx: Context, path: PathArgs, args: Args) -> Any:
        vmid = _vmid(path)
        ctx.require(f"/vms/{vmid}", "VM.Audit")
        guest = ctx.scenario.guest(vmid)
        if guest is None or guest.type != kind or guest.node != path["node"]:
            raise ApiError(
                500,
                f"Configuration file 'nodes/{path['node']}/{conf_dir}/{vmid}.conf' does not exist",
            )
        if "snapshot" in args:
            raise ApiError(500, f"snapshot '{args['snapshot']}' does not exist")
        return guest_config(guest)

    return handler


def _volume(ctx: Context, storage: StorageSpec, backup: BackupSpec) -> dict[str, Any]:
    kind = "vm" if backup.type == "qemu" else "ct"
    item: dict[str, Any] = {
        "vmid": backup.vmid,
        "ctime": backup.ctime,
        "size": backup.size,
        "subtype": backup.type,
        "content": "backup",
    }
    if storage.type == "pbs":
        item["volid"] = f"{storage.id}:backup/{kind}/{backup.vmid}/{epoch_to_iso_z(backup.ctime)}"
        item["format"] = f"pbs-{kind}"
        if backup.verification is not None:
            item["verification"] = dict(backup.verification)
        if backup.encrypted is not None:
            item["encrypted"] = backup.encrypted
    else:
        node = ctx.scenario.node(backup.node or "")
        tz = node.timezone if node is not None else "UTC"
        stamp = local_datetime(backup.ctime, tz).strftime("%Y_%m_%d-%H_%M_%S")
        fmt = backup.format or ("vma.zst" if backup.type == "qemu" else "tar.zst")
        item["volid"] = f"{storage.id}:backup/vzdump-{backup.type}-{backup.vmid}-{stamp}.{fmt}"
        item["format"] = fmt
    if backup.notes is not None:
        item["notes"] = backup.notes.split("\n", 1)[0]
    if backup.protected:
        item["protected"] = 1
    return item


def _may_read_volume(ctx: Context, storage_id: str, vmid: int) -> bool:
    """stor ``check_volume_access`` for a backup volume owned by ``vmid``."""
    spath = f"/storage/{storage_id}"
    if ctx.can(spath, "Datastore.Allocate"):
        return True
    return ctx.can(spath, "Datastore.AllocateSpace") and ctx.can(f"/vms/{vmid}", "VM.Backup")


def storage_content(ctx: Context, path: PathArgs, args: Args) -> Any:
    node, storage_id = path["node"], path["storage"]
    ctx.require_any(f"/storage/{storage_id}", ("Datastore.Audit", "Datastore.AllocateSpace"))
    storage = ctx.scenario.storage(storage_id)
    if storage is None:
        raise ApiError(500, f"storage '{storage_id}' does not exist")
    if storage.disabled:
        raise ApiError(500, f"storage '{storage_id}' is disabled")
    if not storage.available_on(node):
        raise ApiError(500, f"storage '{storage_id}' is not available on node '{node}'")
    wanted = args.get("content")
    if "backup" not in storage.content or (wanted is not None and wanted != "backup"):
        return []
    vmid = args.get("vmid")
    items = [
        _volume(ctx, storage, b)
        for b in ctx.scenario.backups
        if b.storage == storage_id
        and (storage.shared or b.node == node)
        and (vmid is None or b.vmid == vmid)
        and _may_read_volume(ctx, storage_id, b.vmid)
    ]
    return sorted(items, key=lambda i: str(i["volid"]).lower())


def vzdump_defaults(ctx: Context, path: PathArgs, args: Args) -> Any:
    """mgr ``PVE/API2/VZDump.pm`` ``defaults``: vzdump.conf (``read_vzdump_defaults``
    drops ``dumpdir`` when ``storage`` is set too), ``storage: local`` when it sets
    neither, and the storage's backup directory (``storage_info``) as ``dumpdir``."""
    node = ctx.scenario.node(path["node"])
    assert node is not None  # the dispatcher checked the node
    defaults = dict(node.vzdump_defaults)
    if "storage" in defaults:
        defaults.pop("dumpdir", None)
    if "storage" in args:
        defaults["storage"] = args["storage"]
    if "dumpdir" not in defaults and "storage" not in defaults:
        defaults["storage"] = "local"  # mgr PVE/API2/VZDump.pm ``defaults``
    if "storage" in defaults:
        storage_id = str(defaults["storage"])
        ctx.require_any(f"/storage/{storage_id}", ("Datastore.Audit", "Datastore.AllocateSpace"))
        defaults.update(_storage_info(ctx, storage_id))
    if not ctx.can(f"/nodes/{node.node}", "Sys.Audit"):
        for key in _SENSITIVE_DEFAULTS:
            defaults.pop(key, None)
    return defaults


def _storage_info(ctx: Context, storage_id: str) -> dict[str, Any]:
    """mgr ``PVE::VZDump::storage_info``: a directory storage's backup directory
    (pve-storage ``get_backup_dir``: ``<path>/dump``) and its ``prune-backups``."""
    storage = next((s for s in ctx.scenario.storages if s.id == storage_id), None)
    if storage is None:
        raise ApiError(500, f"storage '{storage_id}' does not exist")
    if "backup" not in storage.content:
        raise ApiError(500, f"can't use storage '{storage_id}' for backups - wrong content type")
    info: dict[str, Any] = {}
    if storage.config.get("prune-backups") is not None:
        info["prune-backups"] = storage.config["prune-backups"]
    if storage.type != "pbs" and storage.config.get("path"):
        info["dumpdir"] = f"{str(storage.config['path']).rstrip('/')}/dump"
    return info


_CONFIG_PARAMS = {"current": Param("bool"), "snapshot": Param()}

ROUTES = (
    Route("/nodes", nodes),
    Route("/nodes/{node}/time", node_time),
    Route("/nodes/{node}/qemu/{vmid}/config", _config("qemu", "qemu-server"), _CONFIG_PARAMS),
    Route("/nodes/{node}/lxc/{vmid}/config", _config("lxc", "lxc"), _CONFIG_PARAMS),
    Route(
        "/nodes/{node}/storage/{storage}/content",
        storage_content,
        {"content": Param(), "vmid": Param("int", minimum=100, maximum=999999999)},
    ),
    Route("/nodes/{node}/vzdump/defaults", vzdump_defaults, {"storage": Param()}),
)
