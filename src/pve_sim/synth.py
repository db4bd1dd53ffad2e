"""Deterministic synthesis of realistic vzdump task logs and scenario entries.

The line formats follow real vzdump logs (mgr ``PVE/VZDump.pm``; see ``docs/simulator.md``):
``Backup started at`` / ``finished at`` / ``Failed at`` in the node's local time, PBS archive
names in UTC, one ``TASK ...`` end line. Randomness comes from a seed, so the same inputs
always give the same log.

``python -m pve_sim.synth --write-demo [PATH]`` writes the demo scenario (the
:mod:`pve_sim.demo` preset played by :func:`pve_sim.generate.play`).
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from pve_sim.selection import split_vmid_list
from pve_sim.shell import shell_quote
from pve_sim.tasklog import UNEXPECTED_STATUS, end_line
from pve_sim.timeutil import epoch_to_iso_z, local_datetime

__all__ = [
    "LOCKWAIT_MINUTES",
    "LOCK_TIMEOUT",
    "LOCK_TIMEOUT_PREFIX",
    "LOCK_WAITING",
    "BackupTarget",
    "GuestRun",
    "Snapshot",
    "VzdumpRun",
    "demo_yaml",
    "dump_scenario",
    "main",
    "recipe_run",
    "seeded",
    "shell_quote",
    "target_for",
    "task_entry",
    "vzdump_command",
    "vzdump_run",
]

GIB = 1024**3
# vzdump's node-wide lock (PVE::VZDump::getlock): the lines a run that had to wait logs.
LOCK_WAITING = "trying to get global lock - waiting..."
LOCK_TIMEOUT_PREFIX = "can't acquire lock '/var/run/vzdump.lock'"
LOCK_TIMEOUT = f"{LOCK_TIMEOUT_PREFIX} - got timeout"
LOCKWAIT_MINUTES = 180  # the ``lockwait`` default


@dataclass(frozen=True)
class GuestRun:
    """One guest inside a vzdump run. ``error`` set: this guest fails with that text."""

    vmid: int
    type: str  # qemu / lxc
    name: str
    status: str = "running"  # the guest's state when the run reaches it
    disk_gib: int = 32
    error: str | None = None
    error_stage: str = "start"  # "start": fails before any data; "transfer": mid-way
    warnings: tuple[str, ...] = ()  # WARN: lines (they make the task end with WARNINGS: n)
    template: bool = False


@dataclass(frozen=True)
class BackupTarget:
    """Where a run writes: a PBS storage or a directory storage."""

    storage: str
    type: str = "pbs"  # pbs or dir
    server: str = "192.0.2.10"
    datastore: str = "main"
    namespace: str | None = None
    username: str = "root@pam"
    path: str = "/var/lib/vz"
    dumpdir: str | None = None  # a job's ``dumpdir`` (no storage): files go right there

    @property
    def dump_path(self) -> str:
        """The directory vzdump writes archives to (``<path>/dump`` for a storage)."""
        return self.dumpdir if self.dumpdir is not None else f"{self.path}/dump"


@dataclass(frozen=True)
class Snapshot:
    """A backup a successful guest run leaves behind."""

    vmid: int
    type: str
    ctime: int
    size: int


@dataclass(frozen=True)
class VzdumpRun:
    starttime: int
    endtime: int
    status: str
    lines: tuple[str, ...]
    snapshots: tuple[Snapshot, ...] = ()
    failed: tuple[int, ...] = ()
    starts: tuple[tuple[int, int], ...] = ()  # (vmid, "Backup started at") per guest
    # still running at the end of its log (``stuck``): its guest's partial snapshot
    partial: Snapshot | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


def seeded(*parts: object) -> random.Random:
    """A random generator seeded from ``parts`` (stable across runs and platforms)."""
    return random.Random(zlib.crc32("|".join(map(str, parts)).encode()))


def _clock(epoch: int, tz: str) -> str:
    return local_datetime(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")


def _ctime(epoch: int, tz: str) -> str:
    """``Thu Apr 15 20:02:41 2021`` as proxmox-backup-client prints times."""
    d = local_datetime(epoch, tz)
    return f"{d:%a %b} {d.day:2d} {d:%H:%M:%S %Y}"


def _duration(seconds: int) -> str:
    """``format_time``: HH:MM:SS, hours not wrapped at 24."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _size(num: float, digits: int = 1) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if num >= factor:
            return f"{num / factor:.{digits}f} {unit}"
    return f"{num:.0f} B"


def vzdump_command(job: Mapping[str, Any]) -> str:
    """The ``starting new backup job: vzdump ...`` command line rebuilt from a job.

    Values are shell-quoted as guest-common ``VZDump::Common::command_line`` does
    (``PVE::Tools::shellquote``): ``--notes-template '{{guestname}} keep 2 weeks'``.
    """
    parts = ["vzdump", *split_vmid_list(job.get("vmid"))]
    for key in ("all", "exclude", "pool", "node", "mode", "compress", "dumpdir"):
        if job.get(key) not in (None, ""):
            parts += [f"--{key}", shell_quote(str(job[key]))]
    if job.get("notes-template"):
        parts += ["--notes-template", shell_quote(str(job["notes-template"]))]
    prune = job.get("prune-backups")
    if isinstance(prune, Mapping):
        parts += ["--prune-backups", shell_quote(",".join(f"{k}={v}" for k, v in prune.items()))]
    if job.get("storage"):
        parts += ["--storage", shell_quote(str(job["storage"]))]
    parts += ["--notification-mode", shell_quote(str(job.get("notification-mode", "auto")))]
    return " ".join(parts)


@dataclass
class _Writer:
    """Accumulates log lines while the simulated clock advances."""

    node: str
    tz: str
    rng: random.Random
    now: int
    lines: list[str] = field(default_factory=list)
    warnings: int = 0

    def info(self, text: str) -> None:
        self.lines.append(f"INFO: {text}")

    def error(self, text: str) -> None:
        self.lines.append(f"ERROR: {text}")

    def warn(self, text: str) -> None:
        self.lines.append(f"WARN: {text}")
        self.warnings += 1


def _progress(w: _Writer, total: float, seconds: int, upto: float = 1.0) -> None:
    """qemu progress lines; ``upto`` < 1 stops part-way (a failing transfer)."""
    steps = max(1, min(6, seconds // 3))
    rate = _size(total * upto / max(1, seconds))
    for i in range(1, steps + 1):
        share = upto * i / steps
        t = max(1, seconds * i // steps)
        elapsed = f"{t:2d}s" if t < 60 else f"{t // 60:2d}m {t % 60:2d}s"
        amount = f"{_size(total * share)} of {_size(total)}"
        w.info(f"{int(100 * share):3d}% ({amount}) in {elapsed}, read: {rate}/s, write: {rate}/s")


def _qemu_body(w: _Writer, g: GuestRun, target: BackupTarget, mode: str, start: int) -> int:
    """Lines of a qemu guest after ``Backup started at``; returns the seconds it took."""
    stopped = g.status != "running" or g.template
    effective_mode = "stop" if stopped else mode
    _qemu_head(w, g, stopped, effective_mode)
    if effective_mode == "stop" and not stopped:
        w.info("stopping virtual guest")
    _archive_line(w, g, target, start)
    if stopped or effective_mode == "stop":
        w.info("starting kvm to execute backup task")
    elif mode == "snapshot":
        w.info("issuing guest-agent 'fs-freeze' command")
        w.info("issuing guest-agent 'fs-thaw' command")
    if g.error is not None and g.error_stage == "start":
        w.error(g.error)
        w.info("aborting backup job")
        if not stopped:
            w.info("resuming VM again")
        return w.rng.randint(20, 90)
    w.info(f"started backup task '{uuid.UUID(int=w.rng.getrandbits(128), version=4)}'")
    if not stopped:
        w.info("resuming VM again")
    total = g.disk_gib * GIB
    if g.error is not None:
        seconds = w.rng.randint(30, 600)
        _progress(w, total, seconds, upto=w.rng.uniform(0.05, 0.4))
        w.error(g.error)
        w.info("aborting backup job")
        return seconds + w.rng.randint(1, 5)
    if target.type == "pbs" and not stopped:
        seconds = _qemu_incremental(w, total)
    else:
        seconds = _qemu_full(w, total, target)
    if stopped and not g.template:
        w.info("stopping kvm after backup task")
    return seconds + w.rng.randint(2, 8)


def _qemu_head(w: _Writer, g: GuestRun, stopped: bool, effective_mode: str) -> None:
    disk = f"'scsi0' 'local-lvm:{'base' if g.template else 'vm'}-{g.vmid}-disk-0' {g.disk_gib}G"
    if stopped:
        w.info(f"status = {g.status if not g.template else 'stopped'}")
        w.info(f"backup mode: {effective_mode}")
        w.info("ionice priority: 7")
        w.info(f"VM Name: {g.name}")
        w.info(f"include disk {disk}")
    else:
        w.info(f"status = {g.status}")
        w.info(f"VM Name: {g.name}")
        w.info(f"include disk {disk}")
        w.info(f"backup mode: {effective_mode}")
        w.info("ionice priority: 7")
    for text in g.warnings:
        w.warn(text)


def _archive_line(w: _Writer, g: GuestRun, target: BackupTarget, start: int) -> str:
    """The ``creating ... archive`` line; returns the PBS archive name (``vm/100/<time>``)."""
    kind = "vm" if g.type == "qemu" else "ct"
    archive = f"{kind}/{g.vmid}/{epoch_to_iso_z(start)}"
    if target.type == "pbs":
        w.info(f"creating Proxmox Backup Server archive '{archive}'")
    else:
        stamp = local_datetime(start, w.tz).strftime("%Y_%m_%d-%H_%M_%S")
        ext = "vma.zst" if g.type == "qemu" else "tar.zst"
        name = f"vzdump-{g.type}-{g.vmid}-{stamp}.{ext}"
        w.info(f"creating vzdump archive '{target.dump_path}/{name}'")
    return archive


def _qemu_incremental(w: _Writer, total: int) -> int:
    """A running VM to PBS: only the dirty blocks travel (dirty bitmap)."""
    seconds = w.rng.randint(6, 40)
    dirty = total * w.rng.uniform(0.005, 0.08)
    w.info(f"scsi0: dirty-bitmap status: OK ({_size(dirty)} of {_size(total)} dirty)")
    amount = f"{_size(dirty)} dirty of {_size(total)} total"
    w.info(f"using fast incremental mode (dirty-bitmap), {amount}")
    _progress(w, dirty, seconds)
    reused = total - dirty
    share = int(100 * reused / total)
    w.info(f"backup was done incrementally, reused {reused / GIB:.2f} GiB ({share}%)")
    w.info(f"transferred {_size(dirty, 2)} in {seconds} seconds ({_size(dirty / seconds)}/s)")
    return seconds


def _qemu_full(w: _Writer, total: int, target: BackupTarget) -> int:
    w.rng.randint(6, 40)  # drawn as for an incremental run, so seeds give the same logs
    seconds = w.rng.randint(60, 240)
    _progress(w, total, seconds)
    sparse = total * w.rng.uniform(0.3, 0.7)
    share = int(100 * sparse / total)
    w.info(f"backup is sparse: {sparse / GIB:.2f} GiB ({share}%) total zero data")
    w.info(f"transferred {total / GIB:.2f} GiB in {seconds} seconds ({_size(total / seconds)}/s)")
    if target.type != "pbs":
        w.info(f"archive file size: {(total - sparse) / GIB * 0.6:.2f}GB")
    return seconds


def _lxc_body(w: _Writer, g: GuestRun, target: BackupTarget, mode: str, start: int) -> int:
    w.info(f"status = {g.status}")
    w.info(f"CT Name: {g.name}")
    w.info("including mount point rootfs ('/') in backup")
    w.info(f"backup mode: {mode if g.status == 'running' else 'stop'}")
    w.info("ionice priority: 7")
    for text in g.warnings:
        w.warn(text)
    stop_running = mode == "stop" and g.status == "running"
    if stop_running:
        w.info("stopping virtual guest")
    if mode == "snapshot" and g.status == "running":
        w.info("create storage snapshot 'vzdump'")
    archive = _archive_line(w, g, target, start)
    if g.error is not None:
        if mode == "snapshot" and g.status == "running":
            w.info("cleanup temporary 'vzdump' snapshot")
        return w.rng.randint(5, 60)
    seconds = w.rng.randint(8, 70)
    if target.type == "pbs":
        _lxc_to_pbs(w, g, target, start, seconds, archive)
    else:
        written = g.disk_gib * GIB * w.rng.uniform(0.2, 0.6)
        speed = written / seconds / 1024**2
        w.info(f"Total bytes written: {int(written)} ({written / GIB:.0f}GiB, {speed:.0f}MiB/s)")
        w.info(f"archive file size: {written * 0.45 / GIB:.2f}GB")
    if mode == "snapshot" and g.status == "running":
        w.info("cleanup temporary 'vzdump' snapshot")
    if stop_running:
        w.info("restarting vm")
    return seconds + 1


def _lxc_to_pbs(
    w: _Writer, g: GuestRun, target: BackupTarget, start: int, seconds: int, archive: str
) -> None:
    """What ``proxmox-backup-client backup`` prints for a container's root.pxar."""
    repo = f"{target.username}@{target.server}:{target.datastore}"
    ns = f" --ns {target.namespace}" if target.namespace else ""
    tmp = f"/var/tmp/vzdumptmp{w.rng.randint(10000, 99999)}_{g.vmid}"
    w.info(
        f"run: /usr/bin/proxmox-backup-client backup --crypt-mode=none "
        f"pct.conf:{tmp}/etc/vzdump/pct.conf "
        f"root.pxar:/mnt/vzsnap0 --include-dev /mnt/vzsnap0/./ --skip-lost-and-found "
        f"--exclude=/tmp/?* --exclude=/var/tmp/?* --exclude=/var/run/?*.pid "
        f"--backup-type ct --backup-id {g.vmid} --backup-time {start} --repository {repo}{ns}"
    )
    prefix = f"[{target.namespace}]:" if target.namespace else ""
    w.info(f"Starting backup: {prefix}{archive}")
    w.info(f"Client name: {w.node}")
    w.info(f"Starting backup protocol: {_ctime(start, w.tz)}")
    w.info(f"Downloading previous manifest ({_ctime(start - 86400, w.tz)})")
    total = g.disk_gib * GIB * w.rng.uniform(0.2, 0.6)
    delta = total * w.rng.uniform(0.01, 0.06)
    dest = f"{target.username}@{target.server}:8007:{target.datastore}"
    w.info(f"Upload directory '/mnt/vzsnap0' to '{dest}' as root.pxar.didx")
    packed = _size(delta * 0.35)
    w.info(
        f"root.pxar: had to backup {_size(delta)} of {_size(total)}"
        f" (compressed {packed}) in {seconds - 2:.2f}s"
    )
    w.info(f"root.pxar: average backup speed: {_size(delta / max(1, seconds - 2))}/s")
    reused = f"{_size(total - delta)} ({100 * (1 - delta / total):.1f}%)"
    w.info(f"root.pxar: backup was done incrementally, reused {reused}")
    w.info(f"Uploaded backup catalog ({w.rng.randint(100, 900)}.00 KiB)")
    w.info(f"Duration: {seconds - 1:.2f}s")
    w.info(f"End Time: {_ctime(start + seconds, w.tz)}")


def vzdump_run(
    *,
    node: str,
    timezone: str,
    start: int,
    command: str,
    guests: Sequence[GuestRun],
    target: BackupTarget,
    mode: str = "snapshot",
    external: Sequence[int] = (),
    notes: bool = False,
    job_error: str | None = None,
    lock_wait: int = 0,
    stuck: int | None = None,
) -> VzdumpRun:
    """One node's task of a backup job, guests in ascending VMID order.

    ``job_error`` makes the task die before any guest (e.g. storage activation), which
    leaves only the ``TASK ERROR`` line, as PVE does. ``lock_wait`` > 0: the task first
    waited that many seconds for the node's global lock ``/var/run/vzdump.lock`` (held by
    another vzdump run); it logs the two lock lines first and everything else moves later.
    ``stuck``: the run hangs in that guest's transfer and is still running (status
    ``running``, no end line); the guests after it are not reached.
    """
    rng = seeded(node, start, command)
    lock_lines: tuple[str, ...] = ()
    if lock_wait > 0:
        lock_lines = (f"INFO: {LOCK_WAITING}", "INFO: got global lock")
    if job_error is not None:
        return _dead_run(start, job_error, lock_wait, rng)
    w = _Writer(node, timezone, rng, start + 1 + max(0, lock_wait))
    w.lines.extend(lock_lines)
    w.info(f"starting new backup job: {command}")
    if external:
        w.info(f"skip external VMs: {', '.join(str(v) for v in sorted(external))}")
    snapshots: list[Snapshot] = []
    failed: list[int] = []
    starts: list[tuple[int, int]] = []
    for g in sorted(guests, key=lambda x: x.vmid):
        t0 = w.now
        w.info(f"Starting Backup of VM {g.vmid} ({g.type})")
        w.info(f"Backup started at {_clock(t0, timezone)}")
        body = _qemu_body if g.type == "qemu" else _lxc_body
        if g.vmid == stuck:
            _partial_body(w, g, target, mode, body)
            partial = Snapshot(g.vmid, g.type, t0, 1)  # PBS gives no size yet (PVE shows 1)
            done = tuple(snapshots), tuple(failed), tuple(starts)
            return VzdumpRun(start, t0, "running", tuple(w.lines), *done, partial=partial)
        starts.append((g.vmid, t0))
        snapshot = _guest_end(w, g, body(w, g, target, mode, t0), notes)
        if snapshot is None:
            failed.append(g.vmid)
        else:
            snapshots.append(snapshot)
    status = _job_end(w, failed)
    return VzdumpRun(
        start, w.now + 1, status, tuple(w.lines), tuple(snapshots), tuple(failed), tuple(starts)
    )


def _dead_run(start: int, job_error: str, lock_wait: int, rng: random.Random) -> VzdumpRun:
    """A run that dies before any guest (``job_error``), as PVE logs it."""
    if lock_wait > 0 and job_error.startswith(LOCK_TIMEOUT_PREFIX):
        # getlock gave up after ``lockwait``: it logs the error and calls exit(-1),
        # so no TASK line is written (``unexpected status``).
        end = start + lock_wait + 1
        lines: tuple[str, ...] = (f"INFO: {LOCK_WAITING}", f"ERROR: {job_error}")
        return VzdumpRun(start, end, UNEXPECTED_STATUS, lines)
    lock_lines = (f"INFO: {LOCK_WAITING}", "INFO: got global lock") if lock_wait > 0 else ()
    end = start + lock_wait + rng.randint(1, 30)
    return VzdumpRun(start, end, job_error, (*lock_lines, f"TASK ERROR: {job_error}"))


def _guest_end(w: _Writer, g: GuestRun, seconds: int, notes: bool) -> Snapshot | None:
    """The lines after a guest's body; its snapshot, None when it failed."""
    end = w.now + seconds
    snapshot = None
    if g.error is not None:
        w.error(f"Backup of VM {g.vmid} failed - {g.error}")
        w.info(f"Failed at {_clock(end, w.tz)}")
    else:
        if notes:
            w.info("adding notes to backup")
        w.info(f"Finished Backup of VM {g.vmid} ({_duration(seconds)})")
        w.info(f"Backup finished at {_clock(end, w.tz)}")
        size = g.disk_gib * GIB if g.type == "qemu" else int(g.disk_gib * GIB * 0.4)
        snapshot = Snapshot(g.vmid, g.type, w.now, size + w.rng.randint(0, 4096))
    w.now = end
    return snapshot


def _job_end(w: _Writer, failed: Sequence[int]) -> str:
    """The job's closing lines; its task status."""
    if failed:
        w.info("Backup job finished with errors")
        w.lines.append("")
        status = "job errors"
    else:
        w.info("Backup job finished successfully")
        status = f"WARNINGS: {w.warnings}" if w.warnings else "OK"
    line = end_line(status)
    if line:
        w.lines.append(line)
    return status


def _partial_body(w: _Writer, g: GuestRun, target: BackupTarget, mode: str, body: Any) -> None:
    """The lines of a guest whose transfer is still going: those before the end of its data."""
    scratch = _Writer(w.node, w.tz, w.rng, w.now)
    body(scratch, replace(g, error="-", error_stage="transfer"), target, mode, w.now)
    for line in scratch.lines:
        if line.startswith("ERROR:") or line == "INFO: cleanup temporary 'vzdump' snapshot":
            break
        w.lines.append(line)


def target_for(storage: Mapping[str, Any]) -> BackupTarget:
    """The :class:`BackupTarget` of a scenario storage item (PBS, or a directory)."""
    sid = str(storage["storage"])
    if storage.get("dumpdir"):  # a job's dumpdir: no storage at all
        return BackupTarget("", "dir", dumpdir=str(storage["dumpdir"]))
    if storage.get("type") != "pbs":
        path = storage.get("path") or f"/mnt/pve/{sid}"
        return BackupTarget(sid, "dir", path=str(path))
    return BackupTarget(
        sid,
        "pbs",
        server=str(storage.get("server", "192.0.2.10")),
        datastore=str(storage.get("datastore", "main")),
        namespace=storage.get("namespace"),
        username=str(storage.get("username", "root@pam")),
    )


def recipe_run(
    *,
    node: str,
    timezone: str,
    start: int,
    job: Mapping[str, Any],
    storage: Mapping[str, Any],
    guests: Sequence[GuestRun],
    external: Sequence[int] = (),
    job_error: str | None = None,
    lock_wait: int = 0,
    stuck: int | None = None,
) -> VzdumpRun:
    """The run of a scenario task's ``log_recipe``: job ``job`` on ``node`` at ``start``.

    The command line, target, mode and notes come from the job and its storage, so the
    generator (which computes end times, statuses and snapshots) and the simulator (which
    renders the log when it is asked for) produce the same run.
    """
    return vzdump_run(
        node=node,
        timezone=timezone,
        start=start,
        command=vzdump_command(job),
        guests=guests,
        target=target_for(storage),
        mode=str(job.get("mode") or "snapshot"),
        external=external,
        notes=bool(job.get("notes-template")),
        job_error=job_error,
        lock_wait=lock_wait,
        stuck=stuck,
    )


def task_entry(
    node: str,
    task_type: str,
    start: int,
    *,
    end: int | None,
    log: str,
    task_id: str = "",
    user: str = "root@pam",
    pid: int,
    pstart: int,
    status: str | None = None,
) -> dict[str, Any]:
    """A scenario ``tasks`` item (times as ISO 8601 Z strings, explicit pid/pstart)."""
    entry: dict[str, Any] = {
        "node": node,
        "type": task_type,
        "id": task_id,
        "user": user,
        "pid": pid,
        "pstart": pstart,
        "starttime": epoch_to_iso_z(start),
    }
    if end is None:
        entry["status"] = "running"
    else:
        entry["endtime"] = epoch_to_iso_z(end)
        if status is not None:
            entry["status"] = status
    entry["log"] = log
    return entry


# -- YAML output ----------------------------------------------------------------------------


class _ScenarioDumper(yaml.SafeDumper):
    """Flow style for flat mappings (one line per guest/backup), ``|`` blocks for logs."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _is_flat(value: object) -> bool:
    return not isinstance(value, (dict, list)) and not (isinstance(value, str) and "\n" in value)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = all(_is_flat(v) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", list(data.items()), flow_style=flat)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(_is_flat(v) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_ScenarioDumper.add_representer(str, _represent_str)
_ScenarioDumper.add_representer(dict, _represent_dict)
_ScenarioDumper.add_representer(list, _represent_list)


def dump_scenario(data: Mapping[str, Any], header: str = "") -> str:
    """A scenario dict as readable YAML (keys in the given order)."""
    body = yaml.dump(
        dict(data), Dumper=_ScenarioDumper, sort_keys=False, width=4096, allow_unicode=True
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


_DEMO_HEADER = """\
Demo cluster for check_pve_backup (3 nodes, 25 guests, 5 backup jobs, 14 days of tasks).
GENERATED by: python -m pve_sim.synth --write-demo
Do not edit by hand; change the preset in pve_sim/demo.py and regenerate. See docs/simulator.md."""


def demo_yaml() -> str:
    """The demo scenario as YAML (what ``--write-demo`` writes)."""
    from pve_sim.demo import build_demo

    return dump_scenario(build_demo(), _DEMO_HEADER)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m pve_sim.synth")
    parser.add_argument(
        "--write-demo",
        metavar="PATH",
        help="write the demo scenario (built from pve_sim.demo) as YAML to PATH",
    )
    args = parser.parse_args(argv)
    if args.write_demo is None:
        parser.error("nothing to do: give --write-demo")
    Path(args.write_demo).write_text(demo_yaml(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
