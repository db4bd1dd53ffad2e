"""PBS storage content: the snapshots PVE lists for each PBS storage (acquisition + pure).

One call per PBS storage, through one online node where the storage is enabled (the
content is the same from every node), never once per node. Per VMID the newest snapshot
is kept with its ``ctime`` (the backup's start), size, verification state, encryption and
protection; the set of snapshot names lets the analysis check that a task's archive
really exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pve_backup_report.errors import ApiError
from pve_backup_report.model import Anomaly, Inventory, Severity, Storage
from pve_backup_report.parallel import worker_pool
from pve_backup_report.pve_client import PveClient


@dataclass(frozen=True)
class Snapshot:
    storage: str
    vmid: int
    ctime: int
    size: int | None  # None when PBS reported none (PVE shows 1: running or broken)
    verification: str | None  # ok / failed / None (never verified)
    encrypted: bool
    protected: bool
    archive: str  # "vm/100/2026-11-19T20:00:02Z", as vzdump logs it

    def to_json(self) -> dict[str, Any]:
        return {
            "storage": self.storage,
            "ctime": self.ctime,
            "size": self.size,
            "verification": self.verification,
            "encrypted": self.encrypted,
            "protected": self.protected,
            "archive": self.archive,
        }


@dataclass(frozen=True)
class StorageContent:
    storage: str
    newest: dict[int, Snapshot]
    archives: frozenset[str]
    count: int


@dataclass(frozen=True)
class PbsContent:
    storages: dict[str, StorageContent]  # readable storages only
    anomalies: tuple[Anomaly, ...]

    def newest(self, vmid: int, storages: Iterable[str] | None = None) -> Snapshot | None:
        best: Snapshot | None = None
        for sid, content in self.storages.items():
            if storages is not None and sid not in storages:
                continue
            snap = content.newest.get(vmid)
            if snap is not None and (best is None or snap.ctime > best.ctime):
                best = snap
        return best

    def has_archive(self, archive: str) -> bool:
        return any(archive in c.archives for c in self.storages.values())


def parse_content(storage: str, items: Any) -> StorageContent:
    """Newest snapshot per VMID from a ``.../content?content=backup`` answer."""
    best: dict[int, tuple[int, Mapping[str, Any], str]] = {}  # vmid -> (ctime, item, archive)
    archives: set[str] = set()
    count = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        try:
            vmid = int(item["vmid"])
            ctime = int(item["ctime"])
        except (KeyError, TypeError, ValueError):
            continue
        volid = str(item.get("volid") or "")
        archive = volid.split(":backup/", 1)[1] if ":backup/" in volid else ""
        count += 1
        if archive:
            archives.add(archive)
        old = best.get(vmid)
        if old is None or ctime > old[0]:
            best[vmid] = (ctime, item, archive)
    # A storage holds several snapshots per guest: build objects for the newest only.
    newest = {
        vmid: _snapshot(storage, vmid, ctime, item, archive)
        for vmid, (ctime, item, archive) in best.items()
    }
    return StorageContent(storage, newest, frozenset(archives), count)


def _snapshot(
    storage: str, vmid: int, ctime: int, item: Mapping[str, Any], archive: str
) -> Snapshot:
    size = item.get("size")
    verification = item.get("verification")
    state = verification.get("state") if isinstance(verification, Mapping) else None
    return Snapshot(
        storage=storage,
        vmid=vmid,
        ctime=ctime,
        size=int(size) if isinstance(size, int) and size > 1 else None,
        verification=str(state) if state else None,
        encrypted=bool(item.get("encrypted")),
        protected=bool(item.get("protected")),
        archive=archive,
    )


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
                    f"no online node can read PBS storage {sid}; content cross-check skipped",
                    {"storage": sid},
                )
            )
            continue
        targets.append((sid, node))

    def one(target: tuple[str, str]) -> tuple[str, Any, ApiError | None]:
        sid, node = target
        try:
            return (
                sid,
                client.get(f"/nodes/{node}/storage/{sid}/content", {"content": "backup"}),
                None,
            )
        except ApiError as exc:
            return sid, None, exc

    contents: dict[str, StorageContent] = {}
    if targets:
        with worker_pool(max(1, min(workers, len(targets)))) as pool:
            for sid, data, err in pool.map(one, targets):
                if err is not None:
                    details: dict[str, Any] = {"storage": sid, "endpoint": err.endpoint}
                    anomalies.append(
                        Anomaly(
                            Severity.WARNING,
                            "pbs_content",
                            f"content of PBS storage {sid} not readable: {err.message}",
                            details,
                        )
                    )
                    continue
                contents[sid] = parse_content(sid, data)
    return PbsContent(contents, tuple(anomalies))
