"""When were the guests that have no backup result yet created? (acquisition)

Asked only when some covered guest has no result at all in the history window although a
run was due (``assess.pending_candidates``): was it created after that run?

Cost: one ``/nodes/{node}/tasks?since=…&source=all`` page per online node (more pages
only while PVE's ``total`` says more match), all nodes in parallel, ``since`` being the
oldest expected run among those guests, so the list holds the tasks since last night's
run. Without ``typefilter`` (an exact match of one type in pve-manager
``PVE/API2/Tasks.pm`` ``node_tasks``) one request sees all six creation task types; with
the ``vmid`` filter (an exact match of the task id) a clone would be missed, because a
clone's task id is its source. Every node is asked: a clone runs on the source's node and
may target another one, and a new guest may have been migrated since. Clone logs are read
only for clones that may have created a guest still without a creation (one request
each).

What cannot be known stays "never backed up" (see docs/states-and-perfdata.md): a guest
moved into a job's pool, or added to a job, creates no task; a creation task that left the
node's task index, or that ran on a node now offline, is not found.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pve_backup_report.analysis.creation import (
    CLONE_TASKS,
    CREATE_TASKS,
    Candidate,
    GuestCreation,
    clone_target,
    newest,
)
from pve_backup_report.analysis.history import HistoryDataError, TaskInfo, task_from_api
from pve_backup_report.collect.parallel import worker_pool
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.errors import ApiError
from pve_backup_report.messages import Msg
from pve_backup_report.model import Anomaly, Inventory, Severity

_CLONE_LOG_LINES = 100  # the "creating a clone" line is among the first ones


@dataclass(frozen=True)
class CreationCollection:
    creations: dict[int, GuestCreation]  # only candidates' VMIDs, of the right type
    anomalies: tuple[Anomaly, ...]
    tasks_listed: int = 0
    logs_fetched: int = 0


def collect_creations(
    client: PveClient,
    inventory: Inventory,
    candidates: Mapping[int, Candidate],
    page_size: int = 1000,
    workers: int = 16,
) -> CreationCollection:
    """The newest creation task of each candidate created after its expected run."""
    if not candidates:
        return CreationCollection({}, ())
    since = min(c.expected for c in candidates.values())
    nodes = [n.name for n in inventory.nodes if n.status == "online"]
    anomalies: list[Anomaly] = []
    with worker_pool(max(1, workers)) as pool:
        listed = list(pool.map(lambda n: _node_tasks(client, n, since, page_size), nodes))
        tasks: list[TaskInfo] = []
        count = 0
        for node, got in zip(nodes, listed, strict=True):
            if isinstance(got, ApiError):
                anomalies.append(_unreadable(node, got))
                continue
            count += got[1]
            tasks += got[0]
        found = [c for t in tasks if (c := _direct(t, candidates)) is not None]
        known = newest(found)
        clones = [t for t in tasks if _may_clone(t, candidates, known)]
        found += _read_clones(client, pool, clones, candidates)
    return CreationCollection(newest(found), tuple(anomalies), count, len(clones))


def _node_tasks(
    client: PveClient, node: str, since: int, page_size: int
) -> tuple[list[TaskInfo], int] | ApiError:
    """The node's creation and clone tasks started at or after ``since``, and how many
    tasks were listed."""
    out: list[TaskInfo] = []
    listed = 0
    params = {"since": since, "source": "all", "limit": page_size, "start": 0}
    try:
        while True:
            page = client.get_page(f"/nodes/{node}/tasks", params)
            items = page.data if isinstance(page.data, list) else []
            listed += len(items)
            for item in items:
                try:
                    task = task_from_api(item)
                except HistoryDataError:
                    continue
                if task.type in CREATE_TASKS or task.type in CLONE_TASKS:
                    out.append(task)
            params["start"] = listed
            if not items or listed >= (page.total or 0):
                return out, listed
    except ApiError as exc:
        return exc


def _unreadable(node: str, err: ApiError) -> Anomaly:
    return Anomaly(
        Severity.INFO,
        "tasks",
        Msg("creation_tasks_unreadable", node=node, error=err.message),
        {"node": node, "endpoint": err.endpoint},
    )


def _direct(task: TaskInfo, candidates: Mapping[int, Candidate]) -> GuestCreation | None:
    """A create or restore task of a candidate (the task id is the new guest's VMID)."""
    guest_type = CREATE_TASKS.get(task.type)
    vmid = task.vmid
    if guest_type is None or vmid is None:
        return None
    c = candidates.get(vmid)
    if c is None or c.guest_type != guest_type:
        return None
    return GuestCreation(vmid, guest_type, task.type, task.starttime, task.node, task.upid)


def _may_clone(
    task: TaskInfo, candidates: Mapping[int, Candidate], known: Mapping[int, GuestCreation]
) -> bool:
    """A clone that may have created a candidate with no later creation known."""
    guest_type = CLONE_TASKS.get(task.type)
    if guest_type is None:
        return False
    return any(
        c.guest_type == guest_type
        and task.starttime > c.expected
        and (c.vmid not in known or known[c.vmid].started < task.starttime)
        for c in candidates.values()
    )


def _read_clones(
    client: PveClient,
    pool: ThreadPoolExecutor,
    clones: list[TaskInfo],
    candidates: Mapping[int, Candidate],
) -> list[GuestCreation]:
    def one(task: TaskInfo) -> GuestCreation | None:
        path = f"/nodes/{task.node}/tasks/{task.upid}/log"
        try:
            page = client.get_page(path, {"start": 0, "limit": _CLONE_LOG_LINES})
        except ApiError:
            return None  # the clone stays unknown: its guest is reported as never backed up
        data = page.data if isinstance(page.data, list) else []
        lines = [i.get("t", "") for i in data if isinstance(i, dict)]
        pair = clone_target(t for t in lines if isinstance(t, str))
        if pair is None:
            return None
        source, vmid = pair
        c = candidates.get(vmid)
        if c is None or c.guest_type != CLONE_TASKS[task.type]:
            return None
        return GuestCreation(
            vmid, c.guest_type, task.type, task.starttime, task.node, task.upid, source
        )

    return [c for c in pool.map(one, clones) if c is not None]
