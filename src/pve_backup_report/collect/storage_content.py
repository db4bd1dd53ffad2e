"""PVE's view of the PBS storages: ``GET /nodes/{node}/storage/{storage}/content`` per PBS
storage in use, through an online node that has it (acquisition; parsed by
:func:`pve_backup_report.analysis.pbs_content.parse_content`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from pve_backup_report.analysis.pbs_content import PbsContent, StorageContent, parse_content
from pve_backup_report.collect.content_memo import ContentMemo
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
    client: PveClient,
    inventory: Inventory,
    storage_ids: Iterable[str],
    workers: int,
    memo: ContentMemo | None = None,
) -> PbsContent:
    """Read the content of the given PBS storages (enabled ones with backup content),
    each recalled from ``memo`` when its answer is the one parsed before."""
    targets, anomalies = _targets(inventory, storage_ids)
    contents: dict[str, StorageContent] = {}
    if targets:
        with worker_pool(max(1, min(workers, len(targets)))) as pool:
            for sid, content in pool.map(partial(_read, client, memo), targets):
                if isinstance(content, ApiError):
                    anomalies.append(_unreadable(sid, content))
                    continue
                contents[sid] = content
    if memo is not None:
        memo.prune([sid for sid, _node in targets])
    return PbsContent(contents, tuple(anomalies))


def _targets(
    inventory: Inventory, storage_ids: Iterable[str]
) -> tuple[list[tuple[str, str]], list[Anomaly]]:
    """(storage, node to ask it through) of each PBS storage to read; those no online
    node has are said."""
    anomalies: list[Anomaly] = []
    targets: list[tuple[str, str]] = []
    for sid in sorted(set(storage_ids)):
        st = inventory.storage(sid)
        if st is None or not st.is_pbs or not st.enabled or not st.has_backup_content:
            continue
        node = _via_node(st, inventory)
        if node is None:
            text = Msg("pbs_content_no_node", storage=sid)
            anomalies.append(Anomaly(Severity.INFO, "pbs_content", text, {"storage": sid}))
            continue
        targets.append((sid, node))
    return targets, anomalies


def _read(
    client: PveClient, memo: ContentMemo | None, target: tuple[str, str]
) -> tuple[str, StorageContent | ApiError]:
    """One storage's content, parsed in the worker, one large list at a time
    (``get_reduced``: a content list of 50,000 snapshots decodes into about 50 MB, its
    parsed form is 12 MB), or recalled from ``memo``."""
    sid, node = target
    path = f"/nodes/{node}/storage/{sid}/content"
    kept = memo.of(sid) if memo is not None else None
    recall = kept.recall if kept is not None else None
    try:
        parse = partial(parse_content, sid)
        content = client.get_reduced(path, {"content": "backup"}, parse, recall)
    except ApiError as exc:
        return sid, exc
    if kept is not None:
        kept.keep(content)
    return sid, content


def _unreadable(sid: str, err: ApiError) -> Anomaly:
    text = Msg("pbs_content_unreadable", storage=sid, error=err.message)
    details: dict[str, Any] = {"storage": sid, "endpoint": err.endpoint}
    return Anomaly(Severity.WARNING, "pbs_content", text, details)
