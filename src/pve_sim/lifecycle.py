"""What happens to a generated cluster's guests during its history (``generate.py``).

Real clusters change under their backup jobs: a node is drained for maintenance and its
guests move to the other nodes, a VM is deleted and its VMID reused by a container, new
guests are created after the last backup run. vzdump decides which guests a run backs up
**when it runs** (mgr ``PVE/VZDump.pm`` ``get_included_guests`` reads the current
``vmlist``), so every run must be rendered with the cluster as it was at its start:
:meth:`Lifecycle.vmlist_at` gives it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pve_sim.synth import seeded
from pve_sim.timeutil import zone

__all__ = ["Former", "Lifecycle", "Move", "plan_lifecycle"]


@dataclass(frozen=True)
class Move:
    """A migration: ``vmid`` left ``source`` for ``target`` at ``time``."""

    vmid: int
    time: int
    source: str
    target: str
    type: str


@dataclass(frozen=True)
class Former:
    """A guest deleted at ``deleted`` whose VMID a guest of the other type now has."""

    vmid: int
    type: str
    name: str
    node: str
    deleted: int


@dataclass
class Lifecycle:
    """The guests' history: migrations, a deleted-and-reused VMID, guests created lately."""

    node_now: dict[int, str]
    moves: dict[int, Move] = field(default_factory=dict)
    former: dict[int, Former] = field(default_factory=dict)
    created: dict[int, int] = field(default_factory=dict)  # vmid -> creation of today's guest
    drained: str | None = None
    _eras: list[int] = field(default_factory=list)
    _vmlists: dict[int, dict[int, str]] = field(default_factory=dict)

    @classmethod
    def unchanged(cls, guests: Sequence[Mapping[str, Any]]) -> Lifecycle:
        """Guests that stayed where they are for the whole history (a preset's)."""
        life = cls({int(g["vmid"]): str(g["node"]) for g in guests})
        life.finish()
        return life

    def finish(self) -> None:
        times = {m.time for m in self.moves.values()}
        times |= {f.deleted for f in self.former.values()} | set(self.created.values())
        self._eras = sorted(times)
        self._vmlists.clear()

    def era(self, t: int) -> int:
        """0 before the first change, ... ``len(changes)`` after the last one."""
        return bisect.bisect_right(self._eras, t)

    def is_now(self, t: int) -> bool:
        return self.era(t) == len(self._eras)

    def node_at(self, vmid: int, t: int) -> str | None:
        """The node of the guest with ``vmid`` at ``t``; None when no guest had it."""
        old = self.former.get(vmid)
        created = self.created.get(vmid)
        if created is not None and t < created:
            return old.node if old is not None and t < old.deleted else None
        move = self.moves.get(vmid)
        if move is not None and t < move.time:
            return move.source
        return self.node_now[vmid]

    def identity_at(self, vmid: int, t: int) -> str | None:
        """``"former"`` while the deleted guest had the VMID, else None (today's guest)."""
        old = self.former.get(vmid)
        return "former" if old is not None and t < old.deleted else None

    def vmlist_at(self, t: int) -> dict[int, str]:
        """``{vmid: node}`` of the guests that existed at ``t`` (one dict per era)."""
        era = self.era(t)
        found = self._vmlists.get(era)
        if found is None:
            probe = self._eras[era - 1] if era else t
            found = {}
            for vmid in self.node_now:
                node = self.node_at(vmid, probe)
                if node is not None:
                    found[vmid] = node
            self._vmlists[era] = found
        return found


def _local_time(now: int, tz: str, days_ago: int, hour: int, minute: int) -> int:
    day = dt.datetime.fromtimestamp(now, zone(tz)).date() - dt.timedelta(days=days_ago)
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz))
    return int(local.timestamp())


def plan_lifecycle(
    guests: list[dict[str, Any]],
    nodes: Sequence[str],
    now: int,
    days: int,
    tz: str,
    *,
    new_guests: Sequence[int],
    reuse: int | None,
) -> Lifecycle:
    """Drain the last node, reuse ``reuse``'s VMID for a container, create ``new_guests``.

    ``guests`` are today's guests; they are changed in place where today differs (moved
    guests get their new node, the reused VMID becomes a container). The drain happens
    ``min(3, days - 1)`` days ago at 10:00, the deletion a day before it, the creations
    this morning (after the last nightly run). Nothing happens with a history of one day.
    """
    life = Lifecycle({int(g["vmid"]): str(g["node"]) for g in guests})
    if days < 2:
        life.finish()
        return life
    by_vmid = {int(g["vmid"]): g for g in guests}
    back = min(3, days - 1)
    if len(nodes) >= 2:
        _drain(life, guests, nodes, _local_time(now, tz, back, 10, 0), new_guests)
    rng = seeded("lifecycle", len(nodes), len(guests), now)
    for k, vmid in enumerate(new_guests):
        life.created[vmid] = _local_time(now, tz, 0, 8, 0) + k * 600 + rng.randint(0, 300)
    if reuse is not None:
        _reuse(life, by_vmid[reuse], *reuse_window(now, days, tz))
    life.finish()
    return life


def reuse_window(now: int, days: int, tz: str) -> tuple[int, int]:
    """When the reused VMID's VM is deleted and when its container is created."""
    back = min(3, days - 1)
    return _local_time(now, tz, back + 1, 10, 30), _local_time(now, tz, 0, 7, 40)


def _drain(
    life: Lifecycle,
    guests: list[dict[str, Any]],
    nodes: Sequence[str],
    start: int,
    keep: Sequence[int],
) -> None:
    """Every guest of the last node but its templates migrates, one after the other."""
    drained = nodes[-1]
    targets = [n for n in nodes if n != drained]
    life.drained = drained
    moving = [g for g in guests if g["node"] == drained and not g["template"]]
    for k, g in enumerate(m for m in moving if int(m["vmid"]) not in keep):
        vmid = int(g["vmid"])
        target = targets[k % len(targets)]
        life.moves[vmid] = Move(vmid, start + 95 * k, drained, target, str(g["type"]))
        g["node"] = target
        life.node_now[vmid] = target


def _reuse(life: Lifecycle, guest: dict[str, Any], deleted: int, created: int) -> None:
    """The VM ``guest`` was deleted; this morning a container got its VMID."""
    vmid = int(guest["vmid"])
    life.former[vmid] = Former(vmid, "qemu", str(guest["name"]), str(guest["node"]), deleted)
    life.created[vmid] = created
    guest.update(type="lxc", name=f"{str(guest['name']).split('-')[0]}-ct{vmid}", status="running")
    guest.update(maxdisk=8 * 1024**3, tags="ct;new")
    guest.pop("description", None)


def changed(life: Lifecycle) -> Mapping[int, str]:
    """What happened to each guest that changed: ``migrated``, ``reused_vmid``, ``created``."""
    out: dict[int, str] = {}
    for vmid in life.moves:
        out[vmid] = "migrated"
    for vmid in life.created:
        out[vmid] = "reused_vmid" if vmid in life.former else "created"
    return out
