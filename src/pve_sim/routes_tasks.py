"""Task endpoints: ``/cluster/tasks``, ``/nodes/{node}/tasks`` and a task's log and status
(mgr ``PVE/API2/Tasks.pm``, ``PVE/API2/Cluster.pm``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pve_backup_report.pve.upid import Upid, UpidError, parse_upid
from pve_sim.apibase import ApiError, Context, Page, Param, Route
from pve_sim.scenario import TaskSpec
from pve_sim.tasklog import normalize_status_type, page_log

__all__ = ["CLUSTER_TASKS_PER_NODE", "ROUTES"]

Args = Mapping[str, Any]
PathArgs = Mapping[str, str]

CLUSTER_TASKS_PER_NODE = 25  # RESTEnvironment MAX_FINISHED, running ones included
_NO_FILE = "unable to open file - No such file or directory"
_STATUS_TYPES = ("ok", "warning", "error", "unknown")


def _user_fields(user: str) -> dict[str, str]:
    """Token tasks: ``user`` is cut to ``user@realm`` and ``tokenid`` added."""
    if "!" in user:
        name, token = user.split("!", 1)
        return {"user": name, "tokenid": token}
    return {"user": user}


def _newest_first(tasks: Iterable[TaskSpec]) -> list[TaskSpec]:
    return sorted(tasks, key=lambda t: (t.starttime, t.upid), reverse=True)


def _served_status(task: TaskSpec) -> str:
    return "RUNNING" if task.running else task.status


def task_item(task: TaskSpec) -> dict[str, Any]:
    """A ``/nodes/{node}/tasks`` item."""
    item: dict[str, Any] = {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
        **_user_fields(task.user),
        "status": _served_status(task),
    }
    if task.endtime is not None:
        item["endtime"] = task.endtime
    return item


def cluster_tasks(ctx: Context, path: PathArgs, args: Args) -> Any:
    """The small per-node window pvestatd broadcasts: no history, no ``pstart``."""
    if not ctx.can("/", "Sys.Audit"):
        return []  # other users' items only match their own name; never a token's
    result: list[dict[str, Any]] = []
    for node in ctx.scenario.nodes:
        if not node.online:
            continue
        window = _newest_first(ctx.scenario.tasks_on(node.node))
        for task in window[:CLUSTER_TASKS_PER_NODE]:
            item: dict[str, Any] = {
                "upid": task.upid,
                "node": task.node,
                "starttime": task.starttime,
                "type": task.type,
                "id": task.id,
                **_user_fields(task.user),
                "saved": 0 if task.running else 1,
            }
            if task.running:
                item["pid"] = task.pid
            else:
                item["endtime"] = task.endtime
                item["status"] = task.status
            result.append(item)
    return result


def _status_filter(args: Args) -> set[str]:
    if args.get("errors"):
        return {"warning", "error", "unknown"}
    raw = args.get("statusfilter")
    if not raw:
        return set(_STATUS_TYPES)
    wanted = {part.strip() for part in str(raw).split(",") if part.strip()}
    bad = sorted(wanted - set(_STATUS_TYPES))
    if bad:
        raise ApiError(
            400, "Parameter verification failed.", {"statusfilter": f"invalid format - '{bad[0]}'"}
        )
    return wanted


def node_tasks(ctx: Context, path: PathArgs, args: Args) -> Any:
    node = path["node"]
    source = args.get("source", "archive")
    tasks = ctx.scenario.tasks_on(node)
    running = _newest_first(t for t in tasks if t.running)
    finished = _newest_first(t for t in tasks if not t.running)
    ordered = {"archive": finished, "active": running, "all": running + finished}[source]
    auditor = ctx.can(f"/nodes/{node}", "Sys.Audit")
    statuses = _status_filter(args)
    userfilter = str(args.get("userfilter", "")).lower()
    typefilter = args.get("typefilter")
    vmid = args.get("vmid")
    since = args.get("since")
    until = args.get("until")
    matching: list[TaskSpec] = []
    for task in ordered:
        if not auditor and not ctx.owns(task):
            continue
        if userfilter and userfilter not in task.user.lower():
            continue
        if typefilter and task.type != typefilter:
            continue
        if vmid is not None and task.id != str(vmid):
            continue
        if since is not None and task.starttime < since:
            continue
        if until is not None and task.starttime > until:
            continue
        if normalize_status_type(_served_status(task)) not in statuses:
            continue
        matching.append(task)
    start = args.get("start", 0)
    limit = args.get("limit", 50)
    return Page([task_item(t) for t in matching[start : start + limit]], len(matching))


def _decode(ctx: Context, path: PathArgs) -> Upid:
    try:
        upid = parse_upid(path["upid"])
    except UpidError:
        raise ApiError(500, f"unable to parse worker upid '{path['upid']}'") from None
    if upid.user != ctx.token.id:
        ctx.require(f"/nodes/{path['node']}", "Sys.Audit")
    return upid


def task_log(ctx: Context, path: PathArgs, args: Args) -> Any:
    _decode(ctx, path)
    if args.get("download"):
        raise ApiError(501, "download=1 is not simulated")
    task = ctx.scenario.task(path["node"], path["upid"])
    if task is None:
        return Page([{"n": 1, "t": _NO_FILE}], 1)
    total, items = page_log(
        ctx.scenario.task_log(task),
        args.get("start", 0),
        args.get("limit", 50),
        _whole_log_on_zero(ctx),
    )
    return Page(items, total)


def _whole_log_on_zero(ctx: Context) -> bool:
    """``limit=0`` returns the whole log since PVE 7.3 (libpve-common-perl 7.3-1)."""
    parts = str(ctx.scenario.version.get("version", "")).split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return True
    return (major, minor) >= (7, 3)


def task_status(ctx: Context, path: PathArgs, args: Args) -> Any:
    upid = _decode(ctx, path)
    task = ctx.scenario.task(path["node"], path["upid"])
    result: dict[str, Any] = {
        "upid": path["upid"],
        "node": upid.node,
        "pid": upid.pid,
        "pstart": upid.pstart,
        "starttime": upid.starttime,
        "type": upid.type,
        "id": upid.id,
        **_user_fields(upid.user),
    }
    if task is not None and task.running:
        result["status"] = "running"
    else:
        result["status"] = "stopped"
        result["exitstatus"] = task.status if task is not None else _NO_FILE
    return result


_PAGING = {"start": Param("int", minimum=0), "limit": Param("int", minimum=0)}

ROUTES = (
    Route("/cluster/tasks", cluster_tasks),
    Route(
        "/nodes/{node}/tasks",
        node_tasks,
        {
            **_PAGING,
            "userfilter": Param(),
            "typefilter": Param(),
            "vmid": Param("int", minimum=100, maximum=999999999),
            "errors": Param("bool"),
            "source": Param("enum", choices=("archive", "active", "all")),
            "since": Param("int"),
            "until": Param("int"),
            "statusfilter": Param(),
        },
    ),
    Route("/nodes/{node}/tasks/{upid}/log", task_log, {**_PAGING, "download": Param("bool")}),
    Route("/nodes/{node}/tasks/{upid}/status", task_status),
)
