"""Which task created a guest, from a node's task list (pure: no I/O).

Proxmox keeps no creation time of a guest in ``/cluster/resources`` (pve-manager
``PVE/API2/Cluster.pm`` ``resources``) and none at all for a container. What shows when a
guest was created is the node's task list (pve-manager ``PVE/API2/Tasks.pm``
``node_tasks``):

* ``qmcreate`` / ``qmrestore`` (qemu-server ``src/PVE/API2/Qemu.pm`` ``create_vm``) and
  ``vzcreate`` / ``vzrestore`` (pve-container ``src/PVE/API2/LXC.pm`` ``create_vm``) carry the
  new guest's VMID as task id;
* ``qmclone`` / ``vzclone`` (``clone_vm`` in the same files) carry the **source** VMID; only
  the log names the new one (``creating a clone of VM 9000 with ID 123``, ``creating a
  clone of container 200 with ID 201``).

A qemu config's ``meta: ctime=`` is not used: a restore brings back the backed-up
config's ``meta`` and a clone copies the source's (``clone_vm`` copies every option it
does not rewrite), so it is the creation time of another guest as often as not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# task type -> the type of the guest it creates, VMID in the task id
CREATE_TASKS = {"qmcreate": "qemu", "qmrestore": "qemu", "vzcreate": "lxc", "vzrestore": "lxc"}
# task type -> the type of the guest it creates, source VMID in the task id
CLONE_TASKS = {"qmclone": "qemu", "vzclone": "lxc"}

_CLONE_RE = re.compile(r"^creating a clone of (?:VM|container) ([0-9]+) with ID ([0-9]+)\s*$")


@dataclass(frozen=True)
class Candidate:
    """A covered guest with no result, and the latest run it should have been part of."""

    vmid: int
    guest_type: str
    expected: int


@dataclass(frozen=True)
class GuestCreation:
    """The newest task that created a guest with this VMID."""

    vmid: int
    guest_type: str  # qemu / lxc
    task_type: str  # qmcreate, qmrestore, qmclone, vzcreate, vzrestore, vzclone
    started: int  # the task's start time (epoch)
    node: str
    upid: str
    source: int | None = None  # clones: the VMID cloned from

    def to_json(self) -> dict[str, Any]:
        return {
            "vmid": self.vmid,
            "type": self.guest_type,
            "task_type": self.task_type,
            "started": self.started,
            "node": self.node,
            "upid": self.upid,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> GuestCreation:
        """The inverse of :meth:`to_json` (the task cache keeps creations so); raises
        ``KeyError``, ``TypeError`` or ``ValueError`` on anything else."""
        source = item["source"]
        return cls(
            vmid=int(item["vmid"]),
            guest_type=str(item["type"]),
            task_type=str(item["task_type"]),
            started=int(item["started"]),
            node=str(item["node"]),
            upid=str(item["upid"]),
            source=None if source is None else int(source),
        )


def clone_target(lines: Iterable[str]) -> tuple[int, int] | None:
    """(source, new VMID) from a clone task's log line, as ``clone_vm`` prints it."""
    for line in lines:
        m = _CLONE_RE.match(line)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def newest(creations: Iterable[GuestCreation]) -> dict[int, GuestCreation]:
    """Per VMID, the newest creation: VMIDs are unique in a cluster at any time, so the
    newest task that created a VMID created the guest that has it now."""
    out: dict[int, GuestCreation] = {}
    for c in creations:
        old = out.get(c.vmid)
        if old is None or (c.started, c.upid) > (old.started, old.upid):
            out[c.vmid] = c
    return out
