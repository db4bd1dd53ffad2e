"""Keyword-only factories for the domain objects unit tests build by hand.

One place for what a plain guest or backup job looks like, so a test says only what
matters to it: ``guest(101, node="pve2", pool="prod")``,
``backup_job("nightly", all=True, exclude="100")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pve_backup_report.model import BackupJob, Guest, GuestType, pve_selection


def guest(
    vmid: int,
    *,
    node: str = "pve1",
    type: GuestType = "qemu",
    name: str = "",
    status: str = "running",
    template: bool = False,
    pool: str | None = None,
    tags: tuple[str, ...] = (),
) -> Guest:
    """A running qemu guest on pve1 named ``vm<vmid>`` unless told otherwise."""
    return Guest(vmid, type, name or f"vm{vmid}", node, status, template, pool=pool, tags=tags)


def backup_job(
    id: str,
    *,
    storage: str | None = "pbs1",
    enabled: bool = True,
    vmid: str | None = None,
    all: bool = False,
    exclude: str | None = None,
    pool: str | None = None,
    node: str | None = None,
    schedule: str | None = "21:00",
    mode: str = "snapshot",
    legacy: bool = False,
    comment: str | None = None,
    next_run: int | None = None,
) -> BackupJob:
    """A vzdump job as /cluster/backup serves it; the selection follows PVE's branch
    order (``model.pve_selection``)."""
    return BackupJob(
        id=id,
        enabled=enabled,
        storage=storage,
        schedule=schedule,
        mode=mode,
        selection=pve_selection(pool, vmid, all, exclude),
        vmid_raw=vmid,
        exclude_raw=exclude,
        all_flag=all,
        pool=pool,
        node=node,
        legacy=legacy,
        comment=comment,
        next_run=next_run,
    )


SCENARIOS = Path(__file__).parent / "scenarios"


def scenario_file(name: str, **changes: Any) -> dict[str, Any]:
    """A scenario of ``tests/scenarios/<name>.yaml`` as a dict, with top-level keys
    replaced by ``changes`` (each call reads a fresh copy)."""
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    data.update(changes)
    return data


def basic(**changes: Any) -> dict[str, Any]:
    """``basic.yaml``: two nodes, a daily PBS job, a failed and a stale guest, a guest in
    no job (the canary secret is its token secret)."""
    return scenario_file("basic", **changes)
