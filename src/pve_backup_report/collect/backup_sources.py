"""Where the snapshots come from: PBS's own API where configured, PVE's storage content
otherwise (or when PBS does not answer), plus every PBS storage's space (acquisition).

The result feeds the unchanged analysis: one
:class:`~pve_backup_report.analysis.pbs_content.PbsContent` whatever its source, the
space of each PBS storage in use, and the anomalies PBS's own state gives (failed garbage
collection, late verify jobs, outdated verifications).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from pve_backup_report.analysis.pbs_content import PbsContent
from pve_backup_report.analysis.pbs_health import (
    StorageSpace,
    job_anomalies,
    outdated_verifications,
    space_anomalies,
)
from pve_backup_report.collect.pbs import PbsCollection, collect_pbs
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.storage_content import collect_pbs_content
from pve_backup_report.collect.storage_space import collect_storage_space
from pve_backup_report.config import Settings
from pve_backup_report.model import Anomaly, Inventory


@dataclass(frozen=True)
class BackupSources:
    content: PbsContent | None
    spaces: tuple[StorageSpace, ...]
    anomalies: tuple[Anomaly, ...]  # besides content.anomalies
    pbs_requests: int = 0
    pbs_storages: frozenset[str] = frozenset()  # storages whose snapshots came from PBS


def collect_backup_sources(
    client: PveClient,
    settings: Settings,
    inventory: Inventory,
    storage_ids: Iterable[str],
    now: int,
    on_content: Callable[[PbsContent], None] | None = None,
) -> BackupSources:
    """``on_content``: given PVE's view of the PBS storages as soon as it is read, when
    no PBS is asked directly (the history fetches logs ahead with it)."""
    ids = sorted(set(storage_ids))
    pbs = collect_pbs(settings, inventory, ids, now) if settings.pbs_servers else None
    pve_ids = ids if pbs is None else list(pbs.fallback)
    content = (
        collect_pbs_content(client, inventory, pve_ids, settings.max_workers)
        if settings.pbs_content and pve_ids
        else None
    )
    if content is not None and pbs is None and on_content is not None:
        on_content(content)
    spaces, space_notes = collect_storage_space(client, inventory, ids, settings.max_workers)
    anomalies = [*space_notes, *space_anomalies(spaces)]
    if pbs is None:
        return BackupSources(content, spaces, tuple(anomalies))
    spaces = tuple(_with_estimate(s, pbs, now) for s in spaces)
    anomalies += job_anomalies(pbs.runs, now, settings.grace_s)
    anomalies += outdated_verifications(pbs.verifications, now, settings.pbs_verify_max_age_s)
    merged = PbsContent(
        {**(content.storages if content else {}), **pbs.content},
        (*pbs.anomalies, *(content.anomalies if content else ())),
    )
    return BackupSources(merged, spaces, tuple(anomalies), pbs.requests, frozenset(pbs.content))


def _with_estimate(space: StorageSpace, pbs: PbsCollection, now: int) -> StorageSpace:
    """PBS's estimate counts only when in the future (past or 0: not filling up)."""
    when = pbs.estimated_full.get(space.storage)
    return replace(space, estimated_full=when) if when is not None and when > now else space
