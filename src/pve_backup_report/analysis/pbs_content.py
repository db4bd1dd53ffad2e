"""PBS storage content: the snapshots PVE lists for each PBS storage (acquisition + pure).

One call per PBS storage, through one online node where the storage is enabled (the
content is the same from every node), never once per node. Per backup group (guest type
and VMID) the newest finished snapshot is kept with its ``ctime`` (the backup's start),
size, verification state, encryption and protection; the set of snapshot names lets the
analysis check that a task's archive really exists.

Two rules follow PBS and PVE, not the VMID alone:

* **Groups are typed.** PBS keeps ``vm/100`` and ``ct/100`` apart, and pve-storage
  ``src/PVE/Storage/PBSPlugin.pm`` ``list_volumes`` lists them as ``backup/vm/100/...`` and
  ``backup/ct/100/...`` (``subtype`` qemu / lxc). A container that reuses the VMID of a
  deleted VM (or the reverse) gets none of the old guest's snapshots.
* **An unfinished snapshot is not a backup.** PBS lists the snapshot of a backup still
  running (and one left by a run that died) before it has a manifest: proxmox-backup
  ``src/api2/admin/datastore.rs`` ``list_snapshots_blocking`` then returns no ``size``,
  no verification, no fingerprint and no comment, and ``list_volumes`` turns the missing
  size into ``size: 1``. Such a snapshot (size missing or at most 1 and never verified)
  is counted but never taken as a guest's newest snapshot, nor as an existing archive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pve_backup_report.model import Anomaly, GuestType
from pve_backup_report.records import quick_init

_GROUP_TYPES: dict[str, GuestType] = {"vm": "qemu", "ct": "lxc"}
_FAST_GROUPS: dict[str, GuestType] = {f"{group}/": t for group, t in _GROUP_TYPES.items()}


@quick_init  # one per guest and storage: 10,259 on 10,000 guests, every run
@dataclass(frozen=True)
class Snapshot:
    storage: str
    vmid: int
    guest_type: GuestType  # qemu (PBS group vm/<vmid>) or lxc (ct/<vmid>)
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
    newest: dict[tuple[int, str], Snapshot]  # (vmid, qemu/lxc): finished snapshots only
    archives: frozenset[str]  # of finished snapshots
    count: int  # every backup listed, unfinished ones included
    unfinished: int = 0  # listed without a manifest: running, or left by a dead run


@dataclass(frozen=True)
class PbsContent:
    storages: dict[str, StorageContent]  # readable storages only
    anomalies: tuple[Anomaly, ...]

    def newest(
        self, vmid: int, guest_type: str, storages: Iterable[str] | None = None
    ) -> Snapshot | None:
        """The newest finished snapshot of the guest (its type's group) on these storages."""
        best: Snapshot | None = None
        for sid, content in self.storages.items():
            if storages is not None and sid not in storages:
                continue
            snap = content.newest.get((vmid, guest_type))
            if snap is not None and (best is None or snap.ctime > best.ctime):
                best = snap
        return best

    def has_archive(self, archive: str) -> bool:
        return any(archive in c.archives for c in self.storages.values())


def parse_content(storage: str, items: Any) -> StorageContent:
    """Newest finished snapshot per backup group from a ``.../content?content=backup``
    answer (see the module docstring for the group type and unfinished snapshots)."""
    best: dict[tuple[int, GuestType], tuple[int, Mapping[str, Any], str]] = {}
    archives: set[str] = set()
    count = unfinished = 0
    for item in items if isinstance(items, list) else []:
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        try:
            vmid = int(item["vmid"])
            ctime = int(item["ctime"])
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: 1e400
            continue
        volid = item.get("volid")
        if type(volid) is str:  # the usual groups first: 30,000 snapshots a run on L
            archive = volid.partition(":backup/")[2]
            guest_type = _FAST_GROUPS.get(archive[:3]) or _group_type(archive, item)
        else:
            volid = str(volid or "")
            archive = volid.split(":backup/", 1)[1] if ":backup/" in volid else ""
            guest_type = _group_type(archive, item)
        if guest_type is None:
            continue  # not a guest backup group (PVE lists only vm/ and ct/)
        count += 1
        size = item.get("size")
        if not (type(size) is int and size > 1) and not _finished(item, size):
            unfinished += 1
            continue
        if archive:
            archives.add(archive)
        key = (vmid, guest_type)
        old = best.get(key)
        if old is None or ctime > old[0]:
            best[key] = (ctime, item, archive)
    # A storage holds several snapshots per guest: build objects for the newest only.
    newest: dict[tuple[int, str], Snapshot] = {
        key: _snapshot(storage, key, ctime, item, archive)
        for key, (ctime, item, archive) in best.items()
    }
    return StorageContent(storage, newest, frozenset(archives), count, unfinished)


def _group_type(archive: str, item: Mapping[str, Any]) -> GuestType | None:
    """qemu / lxc from the volid's ``vm/`` / ``ct/`` (``subtype`` when the volid has none)."""
    group = archive.split("/", 1)[0] if "/" in archive else ""
    if group in _GROUP_TYPES:
        return _GROUP_TYPES[group]
    subtype = item.get("subtype")
    if subtype == "qemu":
        return "qemu"
    return "lxc" if subtype == "lxc" else None


def _finished(item: Mapping[str, Any], size: Any) -> bool:
    """Whether the snapshot has a manifest: PBS gave a size (PVE shows 1 for none, pve-storage
    ``PBSPlugin::list_volumes``) or a verification state (proxmox-backup
    ``list_snapshots_blocking`` reads both from the manifest only). ``size``: the item's,
    read once by the caller."""
    if isinstance(size, int) and not isinstance(size, bool) and size > 1:
        return True
    verification = item.get("verification")
    return isinstance(verification, Mapping) and bool(verification.get("state"))


def _snapshot(
    storage: str, key: tuple[int, GuestType], ctime: int, item: Mapping[str, Any], archive: str
) -> Snapshot:
    size = item.get("size")
    verification = item.get("verification")
    state = verification.get("state") if isinstance(verification, Mapping) else None
    return Snapshot(
        storage=storage,
        vmid=key[0],
        guest_type=key[1],
        ctime=ctime,
        size=int(size) if isinstance(size, int) and size > 1 else None,
        verification=str(state) if state else None,
        encrypted=bool(item.get("encrypted")),
        protected=bool(item.get("protected")),
        archive=archive,
    )
