"""Resource rows as ``PVE::API2Tools`` builds them (``extract_vm_stats`` and friends).

RRD-derived numbers are deterministic functions of the scenario (VMID, node index, clock)
so answers are stable between runs. Guests and storages on an offline node have no RRD data:
status ``unknown`` and none of the RRD fields, like PVE.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pve_sim.scenario import GuestSpec, NodeSpec, Scenario, StorageSpec

__all__ = [
    "fake_fingerprint",
    "guest_config",
    "guest_stats",
    "node_stats",
    "storage_digest",
    "storage_row",
]

GIB = 1024**3
MIB = 1024**2


def _digest(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def fake_fingerprint(seed: str) -> str:
    """A stable SHA-256 style fingerprint (``AA:BB:...``) for a node's certificate."""
    raw = hashlib.sha256(seed.encode()).hexdigest().upper()
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def guest_stats(scenario: Scenario, guest: GuestSpec) -> dict[str, Any]:
    """``extract_vm_stats``: the guest as ``/cluster/resources`` and pool members show it."""
    entry: dict[str, Any] = {
        "id": f"{guest.type}/{guest.vmid}",
        "vmid": guest.vmid,
        "node": guest.node,
        "type": guest.type,
    }
    node = scenario.node(guest.node)
    if node is None or not node.online:
        entry["status"] = "unknown"
        return entry
    running = guest.status == "running"
    seed = guest.vmid
    uptime = 3 * 86400 + (seed * 7919) % 86400 if running else 0
    used_disk = 0 if guest.type == "qemu" else guest.maxdisk * (20 + seed % 40) // 100
    entry.update(
        {
            "status": guest.status,
            "name": guest.display_name,
            "template": guest.template,
            "uptime": uptime,
            "cpu": round((seed * 37 % 100) / 1000, 6) if running else 0,
            "maxcpu": guest.maxcpu,
            "mem": guest.maxmem * (30 + seed % 50) // 100 if running else 0,
            "maxmem": guest.maxmem,
            "disk": used_disk,
            "maxdisk": guest.maxdisk,
            "netin": uptime * (seed % 13 + 1) * 1024,
            "netout": uptime * (seed % 7 + 1) * 512,
            "diskread": uptime * (seed % 11 + 1) * 4096,
            "diskwrite": uptime * (seed % 5 + 1) * 8192,
        }
    )
    return entry


def node_stats(node: NodeSpec, with_stats: bool) -> dict[str, Any]:
    """A node row (``extract_node_stats``); stats only with Sys.Audit on the node."""
    entry: dict[str, Any] = {
        "id": f"node/{node.node}",
        "node": node.node,
        "type": "node",
        "status": node.status,
        "level": "",
    }
    if not node.online:
        return entry
    entry["cgroup-mode"] = 2
    if with_stats:
        i = node.index
        entry.update(
            {
                "uptime": 40 * 86400 + i * 3607,
                "cpu": round(0.02 + i * 0.013, 6),
                "maxcpu": 16,
                "mem": (24 + 3 * i) * GIB,
                "maxmem": 64 * GIB,
                "disk": (9 + i) * GIB,
                "maxdisk": 94 * GIB,
            }
        )
    return entry


def storage_row(storage: StorageSpec, node: NodeSpec) -> dict[str, Any]:
    """A ``/cluster/resources`` storage row for ``storage`` on ``node``."""
    entry: dict[str, Any] = {
        "id": f"storage/{node.node}/{storage.id}",
        "storage": storage.id,
        "node": node.node,
        "type": "storage",
        "plugintype": storage.type,
        "shared": int(storage.shared),
        "content": str(storage.config.get("content", "")),
        "status": "available" if node.online else "unknown",
    }
    if node.online:
        size = 8 * 1024 * GIB if storage.type == "pbs" else 94 * GIB
        entry["maxdisk"] = size
        entry["disk"] = size * (25 + len(storage.id) * 3 % 50) // 100
    return entry


def guest_config(guest: GuestSpec) -> dict[str, Any]:
    """``GET /nodes/{node}/{qemu|lxc}/{vmid}/config`` for a scenario guest."""
    vmid = guest.vmid
    mac = f"BC:24:11:{vmid >> 16 & 255:02X}:{vmid >> 8 & 255:02X}:{vmid & 255:02X}"
    disk_gib = max(1, guest.maxdisk // GIB)
    config: dict[str, Any]
    if guest.type == "qemu":
        config = {
            "boot": "order=scsi0;net0",
            "cores": guest.maxcpu,
            "sockets": 1,
            "memory": str(guest.maxmem // MIB),  # a string since PVE 8
            "net0": f"virtio={mac},bridge=vmbr0,firewall=1",
            "ostype": "l26",
            "scsi0": f"local-lvm:vm-{vmid}-disk-0,iothread=1,size={disk_gib}G",
            "scsihw": "virtio-scsi-single",
            "smbios1": f"uuid={_uuid(vmid)}",
            "vmgenid": _uuid(vmid + 1),
            "agent": "1",
        }
        if guest.name:
            config["name"] = guest.name
    else:
        config = {
            "arch": "amd64",
            "cores": guest.maxcpu,
            "memory": guest.maxmem // MIB,
            "swap": 512,
            "net0": f"name=eth0,bridge=vmbr0,hwaddr={mac},ip=dhcp,type=veth",
            "ostype": "debian",
            "rootfs": f"local-lvm:vm-{vmid}-disk-0,size={disk_gib}G",
            "unprivileged": 1,
        }
        if guest.name:
            config["hostname"] = guest.name
    if guest.status == "running":
        config["onboot"] = 1
    for key in ("description", "tags", "lock"):
        value = getattr(guest, key)
        if value is not None:
            config[key] = value
    if guest.template:
        config["template"] = 1
    config.update(guest.config)
    config["digest"] = _digest("config", vmid, sorted(config.items()))
    return config


def _uuid(seed: int) -> str:
    h = hashlib.md5(str(seed).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def storage_digest(scenario: Scenario) -> str:
    """The one ``digest`` every ``/storage`` item carries (the storage.cfg checksum)."""
    return _digest("storage.cfg", [sorted(s.config.items()) for s in scenario.storages])
