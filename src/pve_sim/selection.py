"""Which guests a backup job includes: ``PVE::VZDump::get_included_guests`` semantics.

Branch order pool > vmid > all; ``exclude`` only applies to ``all``; a pool job takes the
pool's direct members that exist; the ``node`` restriction drops guests that exist on another
node but never unknown VMIDs (those go to the ``""`` key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SelectionError", "included_guests", "split_vmid_list"]

_SPLIT_RE = re.compile(r"[,;\s\0]+")


class SelectionError(ValueError):
    """PVE dies here (unknown pool, strange VM ID); the message is PVE's."""


def split_vmid_list(raw: object) -> list[str]:
    """A ``pve-vmid-list`` string split on ``,`` ``;`` whitespace or NUL."""
    if raw is None:
        return []
    return [item for item in _SPLIT_RE.split(str(raw)) if item]


def _check_vmids(items: Iterable[str]) -> list[int]:
    result: set[int] = set()
    for item in items:
        if not item.isdigit():
            raise SelectionError(f"strange VM ID '{item}'")
        vmid = int(item)
        if vmid:
            result.add(vmid)
    return sorted(result)


def included_guests(
    job: Mapping[str, Any],
    vmlist: Mapping[int, str],
    pool_members: Mapping[str, Iterable[int]],
) -> dict[str, list[int]]:
    """``{node: [vmids], "": [unknown vmids]}`` for one job.

    ``vmlist`` maps each existing VMID to its node; ``pool_members`` maps pool ids to
    their direct guest members. Raises :class:`SelectionError` for an unknown pool.
    """
    if job.get("pool"):
        pool = str(job["pool"])
        if pool not in pool_members:
            raise SelectionError(f"pool '{pool}' does not exist")
        candidates = [str(v) for v in pool_members[pool] if v in vmlist]
    elif job.get("vmid"):
        candidates = split_vmid_list(job["vmid"])
    elif job.get("all"):
        excluded = set(_check_vmids(split_vmid_list(job.get("exclude"))))
        candidates = [str(v) for v in vmlist if v not in excluded]
    else:
        return {}
    restrict = job.get("node")
    result: dict[str, list[int]] = {}
    for vmid in _check_vmids(candidates):
        node = vmlist.get(vmid)
        if node is None:
            result.setdefault("", []).append(vmid)
        elif not restrict or restrict == node:
            result.setdefault(node, []).append(vmid)
    return result
