"""Keyword-only factories for what tests build by hand, so a test says only what matters
to it: ``guest(101, node="pve2", pool="prod")``, ``backup_job("nightly", all=True)``.

* model objects: ``guest``, ``backup_job``, ``storage``, ``task_info``, ``backup_result``;
* scenario files: ``scenario_file``, ``basic``;
* simulator scenario dicts: ``scenario`` with ``sim_node``, ``pbs_storage``,
  ``sim_guest``, ``vzdump_job``/``snapshot_job``, ``backup``;
* tasks and their logs: ``vzdump_task``, ``vzdump_run``, ``vzdump_log``/``guest_section``
  (``LogGuest``), ``vzdump_clock``, ``guest_task``, ``migration_task``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from pve_backup_report.analysis.history import GuestBackupResult, ResultStatus, TaskInfo
from pve_backup_report.model import BackupJob, Guest, GuestType, Storage, pve_selection
from pve_backup_report.pve.upid import Upid, format_upid
from pve_backup_report.timeutil import iso_utc, parse_timestamp


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
    notes: str | None = None,
) -> Guest:
    """A running qemu guest on pve1 named ``vm<vmid>`` unless told otherwise."""
    return Guest(vmid, type, name or f"vm{vmid}", node, status, template, pool=pool, tags=tags,
                 notes=notes)  # fmt: skip


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


def storage(
    id: str,
    *,
    type: str = "pbs",
    enabled: bool = True,
    nodes: tuple[str, ...] | None = None,
    content: tuple[str, ...] = ("backup",),
    server: str | None = None,
    datastore: str | None = None,
    namespace: str | None = None,
    username: str | None = None,
    port: int | None = None,
) -> Storage:
    """An enabled PBS storage for backups on every node."""
    return Storage(id, type, enabled, nodes, content, server=server, datastore=datastore,
                   namespace=namespace, username=username, port=port)  # fmt: skip


def task_info(
    *,
    start: int = 1704067200,
    end: int | None = None,
    status: str | None = "OK",
    task_id: str = "",
    node: str = "pve1",
    task_type: str = "vzdump",
    upid: str = "",
) -> TaskInfo:
    """A vzdump task by root@pam on pve1 that started on 2024-01-01, with no end time; its
    UPID made from those fields unless given."""
    upid = upid or format_upid(Upid(node, 4242, 123456, start, task_type, task_id, "root@pam"))
    return TaskInfo(upid, node, start, end, status, task_type, task_id, "root@pam")


def backup_result(
    vmid: int = 100,
    *,
    started: int,
    status: ResultStatus = "ok",
    took: int | None = 60,
    node: str = "pve1",
    upid: str = "",
    message: str | None = None,
    archive: str | None = None,
) -> GuestBackupResult:
    """Guest 100's backup in a task on pve1 (UPID ``UPID:<started>``), one minute long
    (``took`` None: no end yet)."""
    ended = None if took is None else started + took
    return GuestBackupResult(vmid, status, started, ended, took, node, upid or f"UPID:{started}",
                             message, archive)  # fmt: skip


SCENARIOS = Path(__file__).parent / "scenarios"


def scenario_file(name: str, **changes: Any) -> dict[str, Any]:
    """A scenario of ``tests/scenarios/<name>.yaml`` as a dict, with top-level keys
    replaced by ``changes`` (each call reads a fresh copy)."""
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def basic(**changes: Any) -> dict[str, Any]:
    """``basic.yaml``: two nodes, a daily PBS job, a failed and a stale guest, a guest in
    no job (the canary secret is its token secret)."""
    return scenario_file("basic", **changes)


# ------------------------------------------------------------------ simulator scenarios
#
# Plain dicts in the shape ``Scenario.from_dict`` reads (docs/simulator.md). Each factory
# writes only the keys it is given or that PVE always has, so the simulator's defaults
# (user root@pam, status read from the log's TASK line, ...) apply as in a hand-written
# scenario.

NOW = "2026-11-20T12:00:00Z"  # a Friday
TOKEN_ID = "monitor@pve!check"


def sim_node(
    name: str = "pve1", *, status: str = "online", timezone: str = "UTC", **extra: Any
) -> dict[str, Any]:
    """An online node in UTC."""
    return {"node": name, "status": status, "timezone": timezone, **extra}


def pbs_storage(
    id: str = "pbs", *, server: str = "x", datastore: str = "d",
    content: str | None = "backup", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """A PBS storage ``pbs`` for backups (server ``x``, datastore ``d``); ``content`` None:
    the key is left out."""
    item = {"storage": id, "type": "pbs", "server": server, "datastore": datastore, **extra}
    return item if content is None else {**item, "content": content}


def sim_guest(
    vmid: int, *, type: GuestType = "qemu", name: str = "", node: str = "pve1",
    status: str = "running", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """A running qemu guest on pve1 named ``g<vmid>``."""
    return {"vmid": vmid, "type": type, "name": name or f"g{vmid}", "node": node,
            "status": status, **extra}  # fmt: skip


def vzdump_job(
    id: str, *, schedule: str = "21:00", storage: str | None = "pbs", **selection: Any
) -> dict[str, Any]:
    """A scheduled vzdump job to ``pbs`` at 21:00 (``storage`` None: the job names none);
    ``selection``: vmid, all, pool, enabled, ..."""
    job = {"id": id, "type": "vzdump", "schedule": schedule, **selection}
    return job if storage is None else {**job, "storage": storage}


def snapshot_job(
    id: str, *, schedule: str = "21:00", storage: str = "pbs", **selection: Any
) -> dict[str, Any]:
    """An enabled (``enabled: 1``) job to ``pbs`` at 21:00 in snapshot mode, as the GUI
    writes it to jobs.cfg."""
    return vzdump_job(id, enabled=1, schedule=schedule, storage=storage, **selection,
                      mode="snapshot")  # fmt: skip


def scenario(
    *,
    now: int | str = NOW,
    secret: str = "s",
    privileges: dict[str, list[str]] | None = None,
    nodes: Sequence[dict[str, Any]] | None = None,
    storages: Sequence[dict[str, Any]] | None = None,
    guests: Sequence[dict[str, Any]] = (),
    jobs: Sequence[dict[str, Any]] = (),
    tasks: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A scenario dict: token ``monitor@pve!check`` (secret ``s``, the simulator's default
    privileges), node pve1 in UTC, storage ``pbs``; no guests, jobs nor tasks unless
    given. ``extra``: further top-level keys (backups, pools, faults, ...)."""
    token: dict[str, Any] = {"id": TOKEN_ID, "secret": secret}
    if privileges is not None:
        token["privileges"] = privileges
    return {
        "now": now,
        "token": token,
        "nodes": list(nodes) if nodes is not None else [sim_node()],
        "storages": list(storages) if storages is not None else [pbs_storage()],
        "guests": list(guests),
        "jobs": list(jobs),
        "tasks": list(tasks),
        **extra,
    }


# ------------------------------------------------------------------ tasks and their logs


def night(day: int) -> int:
    """The 21:00 UTC event (a daily job's) of November ``day``, 2026 (``NOW``'s month)."""
    return parse_timestamp(f"2026-11-{day:02d}T21:00:00Z")


def vzdump_clock(t: int, *, tz_offset: int = 0) -> str:
    """``2026-11-20 12:00:00``: an epoch as vzdump logs it in a node's local time
    (``tz_offset`` seconds east of UTC)."""
    return (iso_utc(t + tz_offset) or "").replace("T", " ").rstrip("Z")


@dataclass(frozen=True)
class LogGuest:
    """One guest of a vzdump run: a qemu guest whose backup works unless ``error``."""

    vmid: int
    kind: GuestType = "qemu"
    error: str | None = None


def _took(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def guest_section(
    g: LogGuest,
    *,
    at: int,
    took: int = 10,
    tz_offset: int = 0,
    details: Sequence[str] = (),
    fail_at: Literal["start", "transfer"] = "start",
    end_stamps: bool = True,
) -> list[str]:
    """One guest's lines, as pve-manager ``PVE/VZDump.pm`` ``exec_backup_task`` logs them,
    for a backup started ``at`` that took ``took`` s (10), clock in UTC + ``tz_offset``:
    ``details`` (``{vmid}``, ``{label}``: VM/CT Name) after ``Backup started at``; a
    failure at ``start`` has no archive line; ``end_stamps``: ``Backup finished at`` or
    ``Failed at``."""
    prefix, label = ("vm", "VM Name") if g.kind == "qemu" else ("ct", "CT Name")
    archive = f"INFO: creating Proxmox Backup Server archive '{prefix}/{g.vmid}/{iso_utc(at)}'"
    end = vzdump_clock(at + took, tz_offset=tz_offset)
    lines = [f"INFO: Starting Backup of VM {g.vmid} ({g.kind})",
             f"INFO: Backup started at {vzdump_clock(at, tz_offset=tz_offset)}"]  # fmt: skip
    lines += ["INFO: " + d.format(vmid=g.vmid, label=label) for d in details]
    if g.error is not None:
        lines += [archive] if fail_at == "transfer" else []
        lines.append(f"ERROR: Backup of VM {g.vmid} failed - {g.error}")
        return lines + ([f"INFO: Failed at {end}"] if end_stamps else [])
    lines += [archive, f"INFO: Finished Backup of VM {g.vmid} ({_took(took)})"]
    return lines + ([f"INFO: Backup finished at {end}"] if end_stamps else [])


# The lines a real log has between a guest's start and its archive.
FULL_DETAILS = ("status = running", "{label}: guest{vmid}", "backup mode: snapshot",
                "ionice priority: 7")  # fmt: skip


def vzdump_log(
    guests: Sequence[LogGuest],
    *,
    start: int,
    command: str = "",
    external: Sequence[int] = (),
    first: int = 0,
    gap: int = 0,
    summary: bool = True,
    **section: Any,
) -> str:
    """A vzdump task log as pve-manager ``PVE/VZDump.pm`` ``exec_backup`` writes it: the
    command line (``vzdump <vmids> --storage pbs``), ``skip external VMs`` when
    ``external``, one ``guest_section`` per guest in the given order (given the
    ``section`` options; the first at ``start + first``, each ``gap`` s after the
    previous one), the job summary unless not ``summary``, then the ``TASK`` line."""
    ids = " ".join(str(g.vmid) for g in guests)
    lines = [f"INFO: starting new backup job: {command or f'vzdump {ids} --storage pbs'}"]
    if external:
        lines.append("INFO: skip external VMs: " + ", ".join(map(str, sorted(external))))
    for i, g in enumerate(guests):
        lines += guest_section(g, at=start + first + i * gap, **section)
    failed = any(g.error is not None for g in guests)
    if summary:
        lines.append(f"INFO: Backup job finished {'with errors' if failed else 'successfully'}")
    lines.append("TASK ERROR: job errors" if failed else "TASK OK")
    return "\n".join(lines)


def vzdump_task(
    *,
    start: int | str,
    node: str = "pve1",
    log: str | None = None,
    vmids: Sequence[int] = (),
    end: int | str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A vzdump task on pve1 (the simulator's defaults for user, pid and status); the task
    id is the VMID when ``vmids`` holds one guest (``PVE/API2/VZDump.pm``), else empty."""
    task: dict[str, Any] = {"node": node, "type": "vzdump", "starttime": start}
    if vmids:
        task["id"] = str(vmids[0]) if len(vmids) == 1 else ""
    if end is not None:
        task["endtime"] = end
    if log is not None:
        task["log"] = log
    return {**task, **extra}


def guest_task(
    type: str, vmid: int, *, start: int | str, node: str = "pve1", log: str = "TASK OK",
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """A task about one guest (``qmcreate``, ``vzrestore``, ...; its id the VMID) by
    root@pam on pve1 that ended well."""
    return {"node": node, "type": type, "id": str(vmid), "user": "root@pam", "starttime": start,
            **extra, "log": log}  # fmt: skip


def migration_task(
    vmid: int, *, node: str, start: int, target: str, kind: GuestType = "qemu", took: int = 60,
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """A finished migration (qemu-server ``src/PVE/QemuMigrate.pm``, pve-container
    ``src/PVE/LXC/Migrate.pm``): on the source node, its id the VMID, 60 s long."""
    word, typ = ("VM", "qmigrate") if kind == "qemu" else ("CT", "vzmigrate")
    log = (f"starting migration of {word} {vmid} to node '{target}' (192.0.2.2)\n"
           f"migration finished successfully (duration {_took(took)})\nTASK OK")  # fmt: skip
    return {"node": node, "type": typ, "id": str(vmid), **extra, "starttime": start,
            "endtime": start + took, "log": log}  # fmt: skip


def backup(vmid: int, *, ctime: int, storage: str = "pbs", **extra: Any) -> dict[str, Any]:
    """A backup on ``pbs`` (the simulator's defaults for type and size)."""
    return {"storage": storage, "vmid": vmid, "ctime": ctime, **extra}


def vzdump_run(
    guests: Sequence[LogGuest],
    *,
    start: int,
    node: str = "pve1",
    end: int | str | None = None,
    task: dict[str, Any] | None = None,
    **log: Any,
) -> dict[str, Any]:
    """A vzdump task on pve1 started at ``start`` whose log (``vzdump_log`` with the
    ``log`` options, from the same start) backs up ``guests``; ``task``: further task
    keys (pid, pstart, status, ...)."""
    text = vzdump_log(guests, start=start, **log)
    vmids = [g.vmid for g in guests]
    return vzdump_task(start=start, node=node, vmids=vmids, end=end, log=text, **(task or {}))
