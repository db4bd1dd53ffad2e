"""Datastore space from PVE alone: ``/nodes/{node}/storage/{storage}/status`` per PBS storage.

pve-storage ``src/PVE/API2/Storage/Status.pm`` ``read_status`` answers with the storage's
entry of ``PVE::Storage::storage_info``: ``total``, ``used``, ``avail`` in bytes and
``active`` (0 with all three 0 when PBS could not be asked, ``src/PVE/Storage/PBSPlugin.pm``
``status``). It needs ``Datastore.Audit`` or ``Datastore.AllocateSpace`` on
``/storage/{storage}``, which ``PVEAuditor`` has. PBS storages are shared: one online
node where the storage is enabled answers for all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.collect.parallel import worker_pool
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.errors import ApiError, ApiHttpError
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Inventory, Severity


def parse_status(storage: str, data: Any) -> StorageSpace | None:
    if not isinstance(data, dict):
        return None

    def number(key: str) -> int:
        value = data.get(key)
        return int(value) if isinstance(value, (int, float)) and value >= 0 else 0

    active = bool(data.get("active")) and bool(data.get("enabled", 1))
    return StorageSpace(storage, number("total"), number("used"), number("avail"), active)


def collect_storage_space(
    client: PveClient, inventory: Inventory, storage_ids: Iterable[str], workers: int
) -> tuple[tuple[StorageSpace, ...], tuple[Anomaly, ...]]:
    """Space of the enabled PBS storages among ``storage_ids``."""
    targets: list[tuple[str, str]] = []
    for sid in sorted(set(storage_ids)):
        st = inventory.storage(sid)
        if st is None or not st.is_pbs or not st.enabled:
            continue
        node = next(
            (n.name for n in inventory.nodes if n.status == "online" and st.available_on(n.name)),
            None,
        )
        if node is not None:
            targets.append((sid, node))

    def one(target: tuple[str, str]) -> tuple[str, Any, ApiError | None]:
        sid, node = target
        try:
            return sid, client.get(f"/nodes/{node}/storage/{sid}/status"), None
        except ApiError as exc:
            return sid, None, exc

    spaces: list[StorageSpace] = []
    anomalies: list[Anomaly] = []
    if not targets:
        return (), ()
    with worker_pool(max(1, min(workers, len(targets)))) as pool:
        for sid, data, err in pool.map(one, targets):
            space = parse_status(sid, data) if err is None else None
            if space is not None:
                spaces.append(space)
                continue
            missing = err.missing_privilege if isinstance(err, ApiHttpError) else None
            reason = err.message if err is not None else Msg("space_no_fields")
            anomalies.append(
                Anomaly(
                    Severity.INFO,
                    "storages",
                    Msg("space_unreadable", storage=sid, error=reason),
                    {"storage": sid, "missing_privilege": missing},
                )
            )
    return tuple(spaces), tuple(anomalies)
