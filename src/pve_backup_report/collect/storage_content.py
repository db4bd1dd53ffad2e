"""PVE's view of the PBS storages: ``GET /nodes/{node}/storage/{storage}/content`` per PBS
storage in use, through an online node that has it (acquisition; parsed by
:func:`pve_backup_report.analysis.pbs_content.parse_content`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from pve_backup_report.analysis.pbs_content import PbsContent, StorageContent, parse_content
from pve_backup_report.collect.parallel import worker_pool
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.errors import ApiError
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Inventory, Severity, Storage


def _via_node(storage: Storage, inventory: Inventory) -> str | None:
    for node in inventory.nodes:
        if node.status == "online" and storage.available_on(node.name):
            return node.name
    return None


def collect_pbs_content(
    client: PveClient, inventory: Inventory, storage_ids: Iterable[str], workers: int
) -> PbsContent:
    """Read the content of the given PBS storages (enabled ones with backup content)."""
    anomalies: list[Anomaly] = []
    targets: list[tuple[str, str]] = []
    for sid in sorted(set(storage_ids)):
        st = inventory.storage(sid)
        if st is None or not st.is_pbs or not st.enabled or not st.has_backup_content:
            continue
        node = _via_node(st, inventory)
        if node is None:
            anomalies.append(
                Anomaly(
                    Severity.INFO,
                    "pbs_content",
                    Msg("pbs_content_no_node", storage=sid),
                    {"storage": sid},
                )
            )
            continue
        targets.append((sid, node))

    def one(target: tuple[str, str]) -> tuple[str, StorageContent | ApiError]:
        # parsed in the worker, one large list at a time (``get_reduced``): a content
        # list of 50,000 snapshots decodes into about 50 MB, its parsed form is 12 MB
        sid, node = target
        path = f"/nodes/{node}/storage/{sid}/content"
        try:
            parse = partial(parse_content, sid)
            return sid, client.get_reduced(path, {"content": "backup"}, parse)
        except ApiError as exc:
            return sid, exc

    contents: dict[str, StorageContent] = {}
    if targets:
        with worker_pool(max(1, min(workers, len(targets)))) as pool:
            for sid, content in pool.map(one, targets):
                if isinstance(content, ApiError):
                    err = content
                    details: dict[str, Any] = {"storage": sid, "endpoint": err.endpoint}
                    anomalies.append(
                        Anomaly(
                            Severity.WARNING,
                            "pbs_content",
                            Msg("pbs_content_unreadable", storage=sid, error=err.message),
                            details,
                        )
                    )
                    continue
                contents[sid] = content
    return PbsContent(contents, tuple(anomalies))
