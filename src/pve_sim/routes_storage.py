"""``GET /nodes/{node}/storage/{storage}/status``: a storage's space, as PVE reports it.

pve-storage ``src/PVE/API2/Storage/Status.pm`` ``read_status`` returns the entry of
``PVE::Storage::storage_info``: ``type``, ``content``, ``shared``, ``enabled``, ``active``
and ``total``/``used``/``avail`` in bytes, all three 0 when the storage is disabled or not
active (for PBS: ``src/PVE/Storage/PBSPlugin.pm`` ``status`` could not reach the server). An
unknown storage is a parameter error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pve_sim.apibase import ApiError, Context, Route

__all__ = ["ROUTES"]

_DEFAULT_TOTAL = 4 * 1024**4


def storage_status(ctx: Context, path: Mapping[str, str], args: Mapping[str, Any]) -> Any:
    storage_id = path["storage"]
    ctx.require_any(f"/storage/{storage_id}", ("Datastore.Audit", "Datastore.AllocateSpace"))
    storage = ctx.scenario.storage(storage_id)
    if storage is None:
        raise ApiError(400, "Parameter verification failed.", {"storage": "No such storage."})
    result: dict[str, Any] = {
        "type": storage.type,
        "content": ",".join(sorted(storage.content)),
        "shared": 1 if storage.shared and storage.type != "pbs" else 0,
        "enabled": 0 if storage.disabled else 1,
        "active": 0,
        "total": 0,
        "used": 0,
        "avail": 0,
    }
    if storage.disabled or not storage.available_on(path["node"]):
        return result
    space = _space(ctx, storage.status, storage.config.get("datastore"))
    if space.get("active", 1):
        result.update(active=1, total=space["total"], used=space["used"], avail=space["avail"])
    return result


def _space(ctx: Context, given: Mapping[str, int] | None, datastore: Any) -> Mapping[str, int]:
    """The scenario's ``status``; else the PBS datastore's usage (both views agree)."""
    if given is not None:
        return given
    pbs = ctx.scenario.pbs
    store = pbs.datastores.get(str(datastore)) if pbs is not None and datastore else None
    if store is not None:
        return {"total": store.total, "used": store.used, "avail": store.avail}
    used = _DEFAULT_TOTAL // 4
    return {"total": _DEFAULT_TOTAL, "used": used, "avail": _DEFAULT_TOTAL - used}


ROUTES = (Route("/nodes/{node}/storage/{storage}/status", storage_status),)
