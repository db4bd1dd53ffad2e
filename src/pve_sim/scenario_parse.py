"""Parsing and validation of scenario mappings into :class:`Scenario` objects.

Every mapping is read strictly (unknown keys are an error) and every error names its key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pve_backup_report.pve.upid import Upid, UpidError, parse_upid
from pve_sim.fields import Fields, ScenarioError
from pve_sim.pbs_scenario import parse_pbs
from pve_sim.permissions import TokenAcl, expand, normalize_path
from pve_sim.scenario import (
    DEFAULT_TOKEN_ID,
    DEFAULT_TOKEN_SECRET,
    DEFAULT_VERSION,
    BackupSpec,
    FaultSpec,
    GuestSpec,
    JobSpec,
    LogRecipe,
    NodeSpec,
    PoolSpec,
    RecipeRenderer,
    Scenario,
    StorageSpec,
    TaskSpec,
    Token,
)
from pve_sim.tasklog import end_line, read_status, split_log
from pve_sim.timeutil import zone

__all__ = ["parse_scenario"]

_TOP_KEYS = (
    "now", "latency_ms", "version", "cluster_name", "token", "nodes", "storages", "pools",
    "guests", "jobs", "tasks", "backups", "faults", "pbs",
)  # fmt: skip

# storage.cfg properties the simulator accepts (PVE serves them as given).
_STORAGE_KEYS = (
    "storage", "type", "content", "nodes", "disable", "shared", "path", "server", "datastore",
    "namespace", "port", "username", "fingerprint", "prune-backups", "max-protected-backups",
    "encryption-key", "master-pubkey", "pool", "sparse", "blocksize", "vgname", "thinpool",
    "saferemove", "base", "export", "options", "share", "subdir", "domain", "smbversion",
    "mountpoint", "is_mountpoint", "mkdir", "create-base-path", "create-subdirs",
    "preallocation", "format", "bwlimit", "krbd", "monhost", "fs-name", "content-dirs",
    "portal", "target", "nowritecache", "tagged_only", "snapshot-as-volume-chain", "status",
)  # fmt: skip

# /cluster/backup fields (mgr PVE/API2/Backup.pm + gc src/PVE/VZDump/Common.pm $confdesc).
_JOB_KEYS = (
    "id", "type", "enabled", "schedule", "next-run", "repeat-missed", "comment", "all", "vmid",
    "exclude", "pool", "node", "storage", "mode", "compress", "prune-backups", "remove",
    "notes-template", "protected", "fleecing", "performance", "pbs-change-detection-mode",
    "notification-mode", "notification-target", "notification-policy", "mailto",
    "mailnotification", "bwlimit", "ionice", "lockwait", "stopwait", "zstd", "pigz",
    "stdexcludes", "exclude-path", "tmpdir", "dumpdir", "script", "quiet", "stop",
)  # fmt: skip

_GUEST_KEYS = (
    "vmid", "type", "name", "node", "status", "template", "tags", "description", "lock",
    "hastate", "maxcpu", "maxmem", "maxdisk", "config",
)  # fmt: skip

_TASK_KEYS = (
    "upid", "node", "pid", "pstart", "starttime", "endtime", "type", "id", "user", "status",
    "log", "log_file", "log_recipe",
)  # fmt: skip
_RECIPE_KEYS = (
    "job", "vmids", "failures", "warnings", "job_error", "lock_wait", "external", "former",
    "stuck",
)  # fmt: skip

_BACKUP_KEYS = (
    "storage", "vmid", "type", "ctime", "size", "verification", "protected", "encrypted",
    "notes", "node", "format", "unfinished", "owner",
)  # fmt: skip
# what PBS reads from a snapshot's manifest (proxmox-backup ``list_snapshots_blocking``)
_MANIFEST_KEYS = ("size", "verification", "encrypted", "notes")

_FAULT_KEYS = (
    "path", "status", "message", "body", "content_type", "no_data", "delay_ms", "drop",
    "truncate", "times",
)  # fmt: skip
_GUEST_TYPES = ("qemu", "lxc")


def _items(f: Fields, key: str) -> list[tuple[str, Any]]:
    values: list[Any] = f.sequence(key, [])
    return [(f"{key}[{i}]", v) for i, v in enumerate(values)]


def _pve_value(value: Any) -> Any:
    """PVE never sends JSON booleans: true/false become 1/0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Mapping):
        return {k: _pve_value(v) for k, v in value.items()}
    return value


def parse_scenario(data: Mapping[str, Any], base_dir: Path, source: str | None = None) -> Scenario:
    """Validate a scenario mapping (``log_file`` paths are relative to ``base_dir``)."""
    top = Fields(data, "", _TOP_KEYS)
    nodes = tuple(_parse_node(w, v, i) for i, (w, v) in enumerate(_items(top, "nodes")))
    node_names = _unique(top, "nodes", [n.node for n in nodes])
    storages = tuple(_parse_storage(w, v) for w, v in _items(top, "storages"))
    _unique(top, "storages", [s.id for s in storages])
    guests = tuple(_parse_guest(w, v, node_names) for w, v in _items(top, "guests"))
    _unique(top, "guests", [g.vmid for g in guests])
    pools = tuple(_parse_pool(w, v) for w, v in _items(top, "pools"))
    _unique(top, "pools", [p.poolid for p in pools])
    _check_pool_membership(pools)
    jobs = tuple(_parse_job(w, v) for w, v in _items(top, "jobs"))
    _unique(top, "jobs", [j.id for j in jobs])
    # legacy vzdump.cron jobs come first, then jobs.cfg in file order (stable sort)
    jobs = tuple(sorted(jobs, key=lambda j: not j.legacy))
    renderer = RecipeRenderer(nodes, storages, guests, pools, jobs)
    tasks = tuple(
        _parse_task(w, v, i, node_names, base_dir, renderer)
        for i, (w, v) in enumerate(_items(top, "tasks"))
    )
    _unique(top, "tasks", [t.upid for t in tasks])
    guest_index = {g.vmid: g for g in guests}
    storage_index = {s.id: s for s in storages}
    backups = tuple(
        _parse_backup(w, v, storage_index, guest_index, node_names)
        for w, v in _items(top, "backups")
    )
    faults = tuple(_parse_fault(w, v) for w, v in _items(top, "faults"))
    pbs = parse_pbs(data.get("pbs"), storages, _parse_fault)
    return Scenario(
        now=top.time("now", None),
        latency_ms=top.integer("latency_ms", 0, minimum=0),
        version=_parse_version(top),
        cluster_name=top.text("cluster_name", None),
        token=_parse_token(top),
        nodes=nodes,
        storages=storages,
        pools=pools,
        guests=guests,
        jobs=jobs,
        tasks=tasks,
        backups=backups,
        faults=faults,
        source=source,
        pbs=pbs,
    )


def _unique(top: Fields, key: str, values: Sequence[object]) -> set[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise top.error(key, f"duplicate entry {value!r}")
        seen.add(value)
    return seen


def _parse_version(top: Fields) -> Mapping[str, str]:
    raw = top.mapping("version", None)
    if raw is None:
        return dict(DEFAULT_VERSION)
    f = Fields(raw, "version", ("version", "release", "repoid", "console"))
    result = {k: f.text(k, DEFAULT_VERSION.get(k)) for k in ("version", "release", "repoid")}
    if f.has("console"):
        result["console"] = f.text("console")
    return result


def _parse_token(top: Fields) -> Token:
    raw = top.mapping("token", None)
    if raw is None:
        return Token(DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET, TokenAcl.auditor())
    f = Fields(raw, "token", ("id", "secret", "privileges"))
    token_id: str = f.text("id", DEFAULT_TOKEN_ID)
    if "@" not in token_id or "!" not in token_id:
        raise f.error("id", f"expected USER@REALM!TOKENID, got {token_id!r}")
    secret: str = f.text("secret", DEFAULT_TOKEN_SECRET)
    if not secret:
        raise f.error("secret", "must not be empty")
    privileges = f.mapping("privileges", None)
    if privileges is None:
        return Token(token_id, secret, TokenAcl.auditor())
    entries: dict[str, frozenset[str]] = {}
    for path, names in privileges.items():
        where = f"token.privileges[{path!r}]"
        if not path.startswith("/"):
            raise ScenarioError(f"{where}: an ACL path must start with '/'")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ScenarioError(f"{where}: expected a list of privilege or role names")
        try:
            privs = expand(names)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        norm = normalize_path(path)
        entries[norm] = entries.get(norm, frozenset()) | privs
    return Token(token_id, secret, TokenAcl(entries))


def _parse_node(where: str, raw: object, index: int) -> NodeSpec:
    f = Fields(raw, where, ("node", "status", "timezone", "vzdump_defaults"))
    timezone: str = f.text("timezone", "UTC")
    try:
        zone(timezone)
    except ValueError as exc:
        raise f.error("timezone", str(exc)) from None
    return NodeSpec(
        node=f.nonempty_text("node"),
        status=f.choice("status", ("online", "offline"), "online"),
        timezone=timezone,
        vzdump_defaults=_pve_value(f.mapping("vzdump_defaults", {})),
        index=index,
    )


def _parse_storage(where: str, raw: object) -> StorageSpec:
    f = Fields(raw, where, _STORAGE_KEYS)
    storage_id = f.nonempty_text("storage")
    storage_type = f.nonempty_text("type")
    for key in ("content", "nodes", "server", "datastore", "namespace", "username", "path"):
        if f.has(key):
            f.text(key)
    for key in ("disable", "shared"):
        if f.has(key):
            f.flag(key, 0)
    config = {k: _pve_value(v) for k, v in f.data.items() if k != "status"}
    if storage_type == "pbs":
        for key in ("server", "datastore"):
            f.nonempty_text(key)
        config.setdefault("content", "backup")
    return StorageSpec(storage_id, storage_type, config, _parse_storage_status(f))


def _parse_storage_status(f: Fields) -> Mapping[str, int] | None:
    """``status: {total, used, avail}`` for ``.../storage/{id}/status`` (avail: the rest)."""
    raw = f.mapping("status", None)
    if raw is None:
        return None
    s = Fields(raw, f.loc("status"), ("total", "used", "avail", "active"))
    total: int = s.integer("total", minimum=0)
    used: int = s.integer("used", minimum=0)
    avail: int = s.integer("avail", max(0, total - used), minimum=0)
    return {"total": total, "used": used, "avail": avail, "active": s.flag("active", 1)}


def _parse_pool(where: str, raw: object) -> PoolSpec:
    f = Fields(raw, where, ("poolid", "comment", "members"))
    members: list[Any] = f.sequence("members", [])
    vmids: list[int] = []
    for i, member in enumerate(members):
        if isinstance(member, bool) or not isinstance(member, int):
            raise ScenarioError(f"{where}.members[{i}]: expected a VMID, got {member!r}")
        vmids.append(member)
    return PoolSpec(f.nonempty_text("poolid"), f.text("comment", None), tuple(vmids))


def _check_pool_membership(pools: Sequence[PoolSpec]) -> None:
    owner: dict[int, str] = {}
    for pool in pools:
        for vmid in pool.members:
            if vmid in owner and owner[vmid] != pool.poolid:
                raise ScenarioError(
                    f"pools: guest {vmid} is in pools {owner[vmid]!r} and {pool.poolid!r};"
                    " a guest belongs to at most one pool"
                )
            owner[vmid] = pool.poolid


def _parse_guest(where: str, raw: object, node_names: set[str]) -> GuestSpec:
    f = Fields(raw, where, _GUEST_KEYS)
    vmid: int = f.integer("vmid", minimum=100)
    node: str = f.nonempty_text("node")
    if node not in node_names:
        raise f.error("node", f"unknown node {node!r}")
    template = f.flag("template", 0)
    return GuestSpec(
        vmid=vmid,
        type=f.choice("type", _GUEST_TYPES),
        name=f.text("name", None),
        node=node,
        status=f.text("status", "stopped" if template else "running"),
        template=template,
        tags=f.text("tags", None),
        description=f.text("description", None),
        lock=f.text("lock", None),
        hastate=f.text("hastate", None),
        maxcpu=f.integer("maxcpu", 2, minimum=1),
        maxmem=f.integer("maxmem", 2 * 1024**3, minimum=0),
        maxdisk=f.integer("maxdisk", 32 * 1024**3, minimum=0),
        config=_pve_value(f.mapping("config", {})),
    )


def _raw_enabled(f: Fields) -> Any:
    """``enabled`` served exactly as PVE encodes it: 0/1 from jobs.cfg (SectionConfig
    numbers), ``""`` (Perl false) or ``"1"`` for a vzdump.cron line (pve-guest-common
    ``parse_vzdump_cron_config``: ``!defined($enabled)``); true/false become 1/0."""
    value = f.data["enabled"]
    if value in ("", "0", "1"):
        return value
    return f.flag("enabled", 1)


def _parse_job(where: str, raw: object) -> JobSpec:
    f = Fields(raw, where, _JOB_KEYS)
    f.nonempty_text("id")
    config = {k: _pve_value(v) for k, v in f.data.items()}
    if f.has("type") and f.text("type") != "vzdump":
        raise f.error(
            "type", f"expected 'vzdump' (or no type for a legacy job), got {config['type']!r}"
        )
    if f.has("enabled"):
        config["enabled"] = _raw_enabled(f)
    for key in ("all", "repeat-missed", "remove", "protected", "quiet", "stop"):
        if f.has(key):
            config[key] = f.flag(key, 0)
    for key in ("vmid", "exclude"):
        if f.has(key):
            config[key] = f.text(key)  # a VMID list is a comma-separated string in PVE
    for key in ("schedule", "pool", "node", "storage", "comment"):
        if f.has(key):
            f.text(key)
    if f.has("next-run"):
        next_run = f.time("next-run")
        if "type" not in config or "schedule" not in config:
            del config["next-run"]  # only jobs.cfg jobs with a schedule have one
        else:
            config["next-run"] = next_run
    return JobSpec(config)


def _parse_task(
    where: str,
    raw: object,
    index: int,
    node_names: set[str],
    base_dir: Path,
    renderer: RecipeRenderer,
) -> TaskSpec:
    f = Fields(raw, where, _TASK_KEYS)
    task = _task_identity(f, index, node_names)
    node, task_type, starttime = task["node"], task["type"], task["starttime"]
    recipe = _parse_recipe(f, task_type, renderer)
    log = _task_log(f, base_dir)
    status: str | None = f.text("status", None)
    default_end = starttime + 1
    if recipe is not None and (status is None or not f.has("endtime")):
        run = renderer.run(node, starttime, recipe)  # what the recipe gives, once
        status = status or run.status
        default_end = run.endtime
    if status is None:
        status = read_status(log) if log is not None else "OK"
    endtime = _task_end(f, status, starttime, default_end)
    if log is None:
        line = None if status == "running" or recipe is not None else end_line(status)
        log = (line,) if line else ()
    return TaskSpec(status=status, endtime=endtime, log=log, log_recipe=recipe, **task)


def _task_identity(f: Fields, index: int, node_names: set[str]) -> dict[str, Any]:
    """Node, type, start, id, user, pid and pstart: given, or from the ``upid`` (which
    they must not contradict)."""
    parsed: Upid | None = None
    if f.has("upid"):
        try:
            parsed = parse_upid(f.text("upid"))
        except UpidError as exc:
            raise f.error("upid", str(exc)) from None

    def pick(key: str, from_upid: Any, default: Any, reader: Any) -> Any:
        if f.has(key):
            value = reader(key)
            if parsed is not None and value != from_upid:
                raise f.error(key, f"{value!r} contradicts the upid ({from_upid!r})")
            return value
        return from_upid if parsed is not None else default

    def required(key: str, from_upid: Any, reader: Any) -> Any:
        value = pick(key, from_upid, None, reader)
        if value is None:
            raise f.error(key, "required key is missing")
        return value

    p = parsed
    node = required("node", p and p.node, f.nonempty_text)
    if node not in node_names:
        raise f.error("node", f"unknown node {node!r}")
    return {
        "node": node,
        "type": required("type", p and p.type, f.nonempty_text),
        "starttime": required("starttime", p and p.starttime, f.time),
        "id": pick("id", p and p.id, "", f.text),
        "user": pick("user", p and p.user, "root@pam", f.nonempty_text),
        "pid": pick("pid", p and p.pid, 1000 + index * 211 % 3_000_000, f.integer),
        "pstart": pick("pstart", p and p.pstart, 10_000_000 + index * 1_009, f.integer),
    }


def _task_end(f: Fields, status: str, starttime: int, default_end: int) -> int | None:
    if status == "running":
        if f.has("endtime"):
            raise f.error("endtime", "a running task has no endtime")
        return None
    endtime: int = f.time("endtime", default_end)
    if endtime < starttime:
        raise f.error("endtime", "is before starttime")
    return endtime


def _parse_recipe(f: Fields, task_type: str, renderer: RecipeRenderer) -> LogRecipe | None:
    """``log_recipe``: a vzdump log rendered on demand from a job (see docs/simulator.md)."""
    if not f.has("log_recipe"):
        return None
    if f.has("log") or f.has("log_file"):
        raise f.error("log_recipe", "give one of log, log_file and log_recipe")
    if task_type != "vzdump":
        raise f.error("log_recipe", "only vzdump tasks have a log recipe")
    r = Fields(f.data["log_recipe"], f.loc("log_recipe"), _RECIPE_KEYS)
    job: str = r.nonempty_text("job")
    if not renderer.has_job(job):
        raise r.error("job", f"unknown job {job!r}")

    def vmid(value: object, where: str) -> int:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not renderer.has_guest(value):
            raise ScenarioError(f"{where}: not a scenario guest: {value!r}")
        return value

    vmids = None
    if r.has("vmids"):
        vmids = tuple(vmid(v, f"{r.loc('vmids')}[{i}]") for i, v in enumerate(r.sequence("vmids")))
    external = None
    if r.has("external"):
        external = tuple(
            vmid(v, f"{r.loc('external')}[{i}]") for i, v in enumerate(r.sequence("external"))
        )
    failures = _parse_failures(r, vmid)
    warnings = _parse_warnings(r, vmid)
    lock_wait: int = r.integer("lock_wait", 0, minimum=0)
    former = _parse_former(r, vmid)
    stuck = vmid(r.data["stuck"], r.loc("stuck")) if r.has("stuck") else None
    return LogRecipe(
        job, vmids, failures, warnings, r.text("job_error", None), lock_wait, external, former,
        stuck,
    )  # fmt: skip


def _parse_failures(r: Fields, vmid: Any) -> dict[int, tuple[str, str]]:
    """``failures``: [{vmid, error, stage}] -> vmid -> (error, stage)."""
    failures: dict[int, tuple[str, str]] = {}
    for i, item in enumerate(r.sequence("failures", [])):
        fi = Fields(item, f"{r.loc('failures')}[{i}]", ("vmid", "error", "stage"))
        failures[vmid(fi.data.get("vmid"), fi.loc("vmid"))] = (
            fi.nonempty_text("error"),
            fi.choice("stage", ("start", "transfer"), "start"),
        )
    return failures


def _parse_warnings(r: Fields, vmid: Any) -> dict[int, tuple[str, ...]]:
    """``warnings``: vmid -> a text or a list of texts."""
    warnings: dict[int, tuple[str, ...]] = {}
    raw_warnings = r.data.get("warnings") or {}
    if not isinstance(raw_warnings, Mapping):
        raise r.error("warnings", "expected a mapping of vmid -> texts")
    for key, texts in raw_warnings.items():
        where = f"{r.loc('warnings')}[{key!r}]"
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ScenarioError(f"{where}: expected a list of texts")
        warnings[vmid(key, where)] = tuple(texts)
    return warnings


def _parse_former(r: Fields, vmid: Any) -> dict[int, tuple[str, str]]:
    """``former``: vmid -> {type, name} of the guest that had the VMID at the run."""
    raw = r.data.get("former") or {}
    if not isinstance(raw, Mapping):
        raise r.error("former", "expected a mapping of vmid -> {type, name}")
    out: dict[int, tuple[str, str]] = {}
    for key, item in raw.items():
        fi = Fields(item, f"{r.loc('former')}[{key!r}]", ("type", "name"))
        kind: str = fi.choice("type", _GUEST_TYPES, None) or ""
        if not kind:
            raise fi.error("type", "required key is missing")
        out[vmid(key, fi.loc("type"))] = (kind, fi.nonempty_text("name"))
    return out


def _task_log(f: Fields, base_dir: Path) -> tuple[str, ...] | None:
    if f.has("log") and f.has("log_file"):
        raise f.error("log_file", "give either log or log_file, not both")
    if f.has("log"):
        return split_log(f.text("log"))
    if f.has("log_file"):
        path = base_dir / f.text("log_file")
        try:
            return split_log(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise f.error("log_file", f"cannot read {path.name!r}: {exc.strerror}") from None
    return None


def _parse_backup(
    where: str,
    raw: object,
    storages: Mapping[str, StorageSpec],
    guests: Mapping[int, GuestSpec],
    node_names: set[str],
) -> BackupSpec:
    f = Fields(raw, where, _BACKUP_KEYS)
    storage_id: str = f.nonempty_text("storage")
    storage = storages.get(storage_id)
    if storage is None:
        raise f.error("storage", f"unknown storage {storage_id!r}")
    vmid: int = f.integer("vmid", minimum=1)
    guest = guests.get(vmid)
    guest_type = f.choice("type", _GUEST_TYPES, guest.type if guest else None)
    if guest_type is None:
        raise f.error("type", "required for a VMID that is not a scenario guest")
    node: str | None = f.text("node", None)
    if node is not None and node not in node_names:
        raise f.error("node", f"unknown node {node!r}")
    if storage.shared:
        node = None
    elif node is None:
        if guest is None:
            raise f.error("node", f"required for the non-shared storage {storage_id!r}")
        node = guest.node
    if storage.type == "pbs" and f.has("format"):
        raise f.error("format", "PBS backups always have format pbs-vm / pbs-ct")
    return BackupSpec(
        storage=storage_id,
        vmid=vmid,
        type=guest_type,
        ctime=f.time("ctime"),
        size=_backup_size(f, storage, guest),
        verification=_parse_verification(f),
        protected=f.boolean("protected"),
        encrypted=f.text("encrypted", None),
        notes=f.text("notes", None),
        node=node,
        format=f.text("format", None),
        owner=f.text("owner", None),
    )


def _backup_size(f: Fields, storage: StorageSpec, guest: GuestSpec | None) -> int:
    """``size``; ``unfinished: true`` is a PBS snapshot without a manifest yet (a backup
    still running, or one left by a run that died): PBS gives no size, verification,
    fingerprint or comment (proxmox-backup ``list_snapshots_blocking``) and PVE shows
    ``size: 1`` (pve-storage ``PBSPlugin::list_volumes``). Default: the guest's disk."""
    if not f.boolean("unfinished"):
        return int(f.integer("size", guest.maxdisk if guest else 32 * 1024**3, minimum=0))
    if storage.type != "pbs":
        raise f.error("unfinished", "only a PBS snapshot is listed before it is finished")
    for key in _MANIFEST_KEYS:
        if f.has(key):
            raise f.error(key, "an unfinished snapshot has no manifest to read it from")
    return 1


def _parse_verification(f: Fields) -> Mapping[str, str] | None:
    if not f.has("verification"):
        return None
    raw = f.data["verification"]
    if isinstance(raw, str):
        state = raw
        upid = None
    else:
        v = Fields(raw, f.loc("verification"), ("state", "upid"))
        state = v.nonempty_text("state")
        upid = v.text("upid", None)
    if state not in ("ok", "failed"):
        raise f.error("verification", f"state must be ok or failed, got {state!r}")
    return {"state": state, "upid": upid} if upid else {"state": state}


def _parse_fault(where: str, raw: object) -> FaultSpec:
    f = Fields(raw, where, _FAULT_KEYS)
    path: str = f.nonempty_text("path")
    if not path.startswith("/"):
        raise f.error("path", "must start with '/' (the path below /api2/json)")
    effects = ("status", "message", "body", "no_data", "delay_ms", "drop", "truncate")
    if not any(f.has(k) for k in effects):
        raise ScenarioError(f"{where}: a fault needs one of {', '.join(effects)}")
    status = f.integer("status", None)
    if status is not None and not 100 <= status <= 599:
        raise f.error("status", f"not an HTTP status: {status}")
    fault = FaultSpec(
        path=path,
        status=status,
        message=f.text("message", None),
        body=f.text("body", None),
        content_type=f.text("content_type", FaultSpec.content_type),
        no_data=f.boolean("no_data"),
        delay_ms=f.integer("delay_ms", 0, minimum=0),
        drop=f.boolean("drop"),
        truncate=f.boolean("truncate"),
        times=f.integer("times", None, minimum=1),
    )
    if fault.drop and (fault.truncate or fault.body is not None or fault.no_data):
        raise f.error("drop", "cannot be combined with body, no_data or truncate")
    return fault
