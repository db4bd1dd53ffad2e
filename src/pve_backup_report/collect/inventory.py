"""Collect the cluster inventory from the PVE API (acquisition; no thresholds, no verdicts).

The independent endpoints are asked in parallel; every endpoint error becomes an
:class:`~pve_backup_report.model.Anomaly` (``critical`` when coverage cannot be known
without it) and collection goes on. Only when nothing at all can be read (every host
unreachable, or the token refused) does :func:`collect_inventory` raise.

The ``normalise_*`` functions turn PVE items into domain objects; they are pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from pve_backup_report.analysis.privileges import (
    DATASTORE_AUDIT,
    backup_visibility,
    privilege_anomalies,
)
from pve_backup_report.collect.parallel import in_order, worker_pool
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.errors import ApiError, ApiHttpError
from pve_backup_report.messages import Msg
from pve_backup_report.model import (
    Anomaly,
    BackupJob,
    BackupVisibility,
    Component,
    Guest,
    Inventory,
    Node,
    NodeStatus,
    Pool,
    Severity,
    Storage,
    perl_truth,
    pve_selection,
)

_TAG_SPLIT = re.compile(r"[;,\s]+")

# endpoint key -> (severity when unreadable, component)
_CORE: dict[str, tuple[Severity, Component]] = {
    "resources": (Severity.CRITICAL, "guests"),
    "jobs": (Severity.CRITICAL, "jobs"),
    "storage": (Severity.CRITICAL, "storages"),
    "nodes": (Severity.WARNING, "nodes"),
    "pools": (Severity.WARNING, "pools"),
    "version": (Severity.INFO, "api"),
    "not_backed_up": (Severity.INFO, "coverage"),
    "status": (Severity.INFO, "api"),
    "permissions": (Severity.INFO, "permissions"),
}


# --------------------------------------------------------------------------- normalisation


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _split_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(p for p in re.split(r"[,;\s]+", str(value)) if p)


def split_tags(value: Any) -> tuple[str, ...]:
    """PVE stores tags ``;``-separated; be lenient and split on ``;``, ``,`` and spaces."""
    if value is None:
        return ()
    return _split_tag_text(str(value))


@lru_cache(maxsize=4096)
def _split_tag_text(text: str) -> tuple[str, ...]:
    """Kept per text: the 10,000 guests of a benchmark cluster carry 43 tag lists (split
    each time: 6.8 ms a run; kept: 1.0 ms)."""
    return tuple(t for t in _TAG_SPLIT.split(text) if t)


def normalise_storage(item: Mapping[str, Any]) -> Storage:
    nodes = _split_list(item.get("nodes"))
    return Storage(
        id=str(item["storage"]),
        type=str(item.get("type") or "unknown"),
        enabled=not _flag(item.get("disable"), False),
        nodes=nodes or None,
        content=_split_list(item.get("content")),
        server=_opt_str(item.get("server")),
        datastore=_opt_str(item.get("datastore")),
        namespace=_opt_str(item.get("namespace")),
        username=_opt_str(item.get("username")),
        port=int(item["port"]) if str(item.get("port") or "").isdigit() else None,
    )


def normalise_job(item: Mapping[str, Any]) -> BackupJob:
    pool = _opt_str(item.get("pool"))
    vmid = _opt_str(item.get("vmid"))
    exclude = _opt_str(item.get("exclude"))
    all_flag = _flag(item.get("all"), False)
    selection = pve_selection(pool, vmid, all_flag, exclude)
    next_run = item.get("next-run")
    return BackupJob(
        id=str(item["id"]),
        enabled=job_enabled(item),
        storage=_opt_str(item.get("storage")),
        schedule=_opt_str(item.get("schedule")),
        mode=_opt_str(item.get("mode")),
        selection=selection,
        vmid_raw=vmid,
        exclude_raw=exclude,
        all_flag=all_flag,
        pool=pool,
        node=_opt_str(item.get("node")),
        comment=_opt_str(item.get("comment")),
        next_run=_epoch_or_none(next_run),
        legacy="type" not in item,
        dumpdir=_dumpdir(item.get("dumpdir")),
        repeat_missed=_flag(item.get("repeat-missed"), False),
    )


def job_enabled(item: Mapping[str, Any]) -> bool:
    """Whether PVE runs the job: a missing (or ``null``) ``enabled`` means enabled, any
    Perl-false value (``""``, ``"0"``, ``0``, ``false``) disabled.

    pve-manager ``PVE/Jobs.pm`` ``run_jobs`` skips ``defined($cfg->{enabled}) &&
    !$cfg->{enabled}``; a commented-out ``vzdump.cron`` line is served as ``""``
    (pve-guest-common ``parse_vzdump_cron_config``) and cron does not run it.
    """
    value = item.get("enabled")
    return value is None or perl_truth(value)


def _dumpdir(value: Any) -> str | None:
    """The job's ``dumpdir`` as stored; None when unset. An empty value is kept: PVE
    tests ``defined`` before applying the node defaults (``PVE::VZDump::new``)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


def _epoch_or_none(value: Any) -> int | None:
    """An epoch from PVE, or None when it is missing, not finite or out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or not 0 <= value <= _MAX_EPOCH:  # NaN, infinities, far future
        return None
    return int(value)


def normalise_guest(item: Mapping[str, Any]) -> Guest:
    return Guest(
        vmid=int(item["vmid"]),
        type="qemu" if item["type"] == "qemu" else "lxc",  # only these two are read
        name=str(item.get("name") or ""),
        node=str(item["node"]),
        status=str(item.get("status") or "unknown"),
        template=_flag(item.get("template"), False),
        pool=_opt_str(item.get("pool")),
        tags=split_tags(item.get("tags")),
    )


def _normalise_all(
    items: Any, fn: Callable[[Mapping[str, Any]], Any], what: Msg, component: Component
) -> tuple[list[Any], list[Anomaly]]:
    out: list[Any] = []
    anomalies: list[Anomaly] = []
    if not isinstance(items, list):
        return out, [Anomaly(Severity.CRITICAL, component, Msg("answer_not_list", what=what))]
    skipped = 0
    for item in items:
        try:
            out.append(fn(item))
        except (KeyError, TypeError, ValueError, AttributeError):  # not an object
            skipped += 1
    if skipped:
        anomalies.append(
            Anomaly(
                Severity.WARNING,
                component,
                Msg("items_skipped", what=what, count=skipped),
                {"skipped": skipped},
            )
        )
    return out, anomalies


# --------------------------------------------------------------------------- collection


@dataclass(frozen=True)
class Fetched:
    """One endpoint's answer or its error."""

    data: Any = None
    error: ApiError | None = None


def fetch_parallel(
    client: PveClient,
    requests: Mapping[str, tuple[str, dict[str, Any] | None]],
    workers: int,
    keep: Callable[[Any], Any] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> dict[str, Fetched]:
    """GET several independent endpoints at once (on ``pool`` when given); errors are
    returned, not raised. ``keep`` takes from each answer, as soon as it arrives, the
    part to return (the rest is freed: thousands of answers do not all stay in memory).
    At most ``_AHEAD`` requests per worker are queued at a time: 30,000 guest configs (a
    first report) as 30,000 futures at once held some 30 MB while the history was
    collected beside them."""

    def one(key: str) -> Fetched:
        return _fetch(client, *requests[key], keep=keep)

    size = max(1, min(workers, len(requests)))
    if pool is not None:
        return dict(in_order(pool, one, requests, size * _AHEAD))
    with worker_pool(size) as own:
        return dict(in_order(own, one, requests, size * _AHEAD))


def _fetch(
    client: PveClient,
    path: str,
    params: dict[str, Any] | None,
    keep: Callable[[Any], Any] | None = None,
) -> Fetched:
    """One endpoint's answer (``keep`` of it) or its error."""
    try:
        data = client.get(path, params)
    except ApiError as exc:
        return Fetched(error=exc)
    return Fetched(data if keep is None else keep(data))


_AHEAD = 4  # queued requests per worker in fetch_parallel


def _raise_if_blind(results: Mapping[str, Fetched]) -> None:
    """Nothing readable at all: unreachable on every host, or the token was refused."""
    errors = [r.error for r in results.values()]
    if errors and all(e is not None for e in errors):
        first = next(
            (e for e in errors if isinstance(e, ApiHttpError) and e.status == 401), errors[0]
        )
        assert first is not None
        raise first
    for e in errors:
        if isinstance(e, ApiHttpError) and e.status == 401:
            raise e


def _endpoint_anomaly(key: str, err: ApiError) -> Anomaly:
    severity, component = _CORE[key]
    details: dict[str, Any] = {"endpoint": err.endpoint}
    if isinstance(err, ApiHttpError):
        details["status"] = err.status
        if err.missing_privilege:
            details["missing_privilege"] = err.missing_privilege
    what = Msg(f"what_{key}")  # the names of the /cluster, /nodes... reads in _CORE
    message = Msg("cannot_read", what=what, error=err.message, endpoint=err.endpoint)
    return Anomaly(severity, component, message, details)


def collect_inventory(
    client: PveClient,
    jobs_endpoint: str = "/cluster/backup",
    workers: int = 16,
    need_notes: bool = False,
    fallback_timezone: str | None = None,
    known_timezones: Mapping[str, str] | None = None,
    known_notes: Mapping[int, str] | None = None,
    need_defaults: bool = False,
    on_nodes: Callable[[list[Node]], object] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> Inventory:
    """Read storages, jobs, guests, pools, nodes (with time zones) and node defaults.

    ``on_nodes`` is given the nodes as soon as they are known, for requests that need only
    them to start (``_first_and_zones``: on ``pool``, after the time zones). With
    ``need_notes``, guest notes come from ``known_notes`` (the cache) where given and from
    the guests' configs otherwise. The node defaults are read when a job relies on them,
    or always with ``need_defaults`` (``--dump-inventory`` shows them).
    """
    known = known_timezones or {}
    with worker_pool(workers) if pool is None else nullcontext(pool) as io:
        first, nodes, zones = _first_and_zones(client, jobs_endpoint, workers, io, known, on_nodes)
        anomalies: list[Anomaly] = [
            _endpoint_anomaly(k, r.error) for k, r in first.items() if r.error is not None
        ]
        storages, jobs, guests = _normalised(first, anomalies)
        unreadable = _blind_spots(first, nodes, storages, jobs, anomalies)
        if first["permissions"].error is None:
            anomalies += privilege_anomalies(first["permissions"].data, jobs)
        pools = _pools(client, first["pools"], jobs, guests, anomalies)
        timezones, read_now, defaults = _node_details(
            client, nodes, jobs, workers, fallback_timezone, known, anomalies, need_defaults,
            {k: f.result() for k, f in zones.items()},
        )  # fmt: skip
    nodes = [Node(n.name, n.status, timezones.get(n.name), n.name in read_now) for n in nodes]
    if need_notes and guests:
        guests = with_notes(client, guests, workers, anomalies, known_notes or {})
    storage_audit = (
        _storage_audit(client, storages, jobs, defaults) if first["storage"].error is None else {}
    )
    return Inventory(
        nodes=tuple(nodes),
        storages=tuple(storages),
        jobs=tuple(jobs),
        guests=tuple(sorted(guests, key=lambda g: g.vmid)),
        pools=tuple(pools),
        node_default_storage={n: d for n, d in defaults.items() if not d.startswith(DUMPDIR)},
        node_default_dumpdir={
            n: d[len(DUMPDIR) :] for n, d in defaults.items() if d.startswith(DUMPDIR)
        },
        not_backed_up=_not_backed_up(first["not_backed_up"]),
        anomalies=tuple(anomalies),
        version=_version(first["version"]),
        cluster_name=_cluster_name(first["status"]),
        unreadable=frozenset(unreadable),
        storage_audit=storage_audit,
        backup_visibility=_backup_visibility(first["permissions"], storages, guests),
    )


def _first_and_zones(
    client: PveClient,
    jobs_endpoint: str,
    workers: int,
    io: ThreadPoolExecutor,
    known_timezones: Mapping[str, str],
    on_nodes: Callable[[list[Node]], object] | None,
) -> tuple[dict[str, Fetched], list[Node], dict[str, Future[Fetched]]]:
    """The first round's answers and the nodes they name; the nodes' time zones asked on
    ``io`` (the run's threads; else threads of the inventory's own), then ``on_nodes``
    called, before the rest is normalised. The zones are needed once it is, what
    ``on_nodes`` asks for later: the pool's queue is first in, first out. The node
    defaults, pools and notes keep threads of their own."""
    first = fetch_parallel(client, _first_round(jobs_endpoint), workers, pool=io)
    _raise_if_blind(first)
    nodes = _nodes(first["nodes"])
    requests = _zone_requests(nodes, known_timezones)
    zones = {key: io.submit(_fetch, client, *request) for key, request in requests.items()}
    if on_nodes is not None:
        on_nodes(nodes)
    return first, nodes, zones


def _backup_visibility(
    permissions: Fetched, storages: Sequence[Storage], guests: Sequence[Guest]
) -> BackupVisibility | None:
    """Whose backups the PBS storages' content lists show the token (None: unread)."""
    perms = permissions.data if permissions.error is None else None
    pbs = [s.id for s in storages if s.type == "pbs"]
    return backup_visibility(perms, pbs, [g.vmid for g in guests])


def _first_round(jobs_endpoint: str) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """The independent requests of the first round, asked at once."""
    return {
        "version": ("/version", None),
        "nodes": ("/nodes", None),
        "storage": ("/storage", None),
        "resources": ("/cluster/resources", {"type": "vm"}),
        "jobs": (jobs_endpoint, None),
        "pools": ("/pools", None),
        "not_backed_up": ("/cluster/backup-info/not-backed-up", None),
        "status": ("/cluster/status", None),
        "permissions": ("/access/permissions", None),
    }


def _normalised(
    first: Mapping[str, Fetched], anomalies: list[Anomaly]
) -> tuple[list[Storage], list[BackupJob], list[Guest]]:
    """Storages, vzdump jobs and guests from the first round (malformed items: anomalies)."""
    storages: list[Storage] = []
    if first["storage"].error is None:
        storages, more = _normalise_all(
            first["storage"].data, normalise_storage, Msg("what_storage"), "storages"
        )
        anomalies += more
    jobs: list[BackupJob] = []
    if first["jobs"].error is None:
        raw_jobs = first["jobs"].data
        if isinstance(raw_jobs, list):
            raw_jobs = [j for j in raw_jobs if not isinstance(j, dict) or _is_vzdump(j)]
        jobs, more = _normalise_all(raw_jobs, normalise_job, Msg("what_jobs"), "jobs")
        anomalies += more
    guests: list[Guest] = []
    if first["resources"].error is None:
        raw = first["resources"].data
        if isinstance(raw, list):
            raw = [g for g in raw if isinstance(g, dict) and g.get("type") in ("qemu", "lxc")]
        guests, more = _normalise_all(raw, normalise_guest, Msg("what_resources"), "guests")
        anomalies += more
    return storages, jobs, guests


def _blind_spots(
    first: Mapping[str, Fetched],
    nodes: list[Node],
    storages: list[Storage],
    jobs: list[BackupJob],
    anomalies: list[Anomaly],
) -> set[str]:
    """What the token could not read (guests, jobs, storages, pools), with the anomalies
    of a cluster that shows no node or hides every storage."""
    unreadable = {
        what
        for key, what in (
            ("resources", "guests"),
            ("jobs", "jobs"),
            ("storage", "storages"),
            ("pools", "pools"),
        )
        if first[key].error is not None
    }
    if first["nodes"].error is None and not nodes:
        anomalies.append(
            Anomaly(
                Severity.WARNING,
                "nodes",
                Msg("no_nodes"),
            )
        )
    if first["storage"].error is None and not storages and jobs:
        # every job writes somewhere (at least the node default 'local'): storages are
        # hidden, so whether jobs write to PBS cannot be known
        unreadable.add("storages")
        anomalies.append(
            Anomaly(
                Severity.CRITICAL,
                "permissions",
                Msg("no_storage_visible"),
                {"jobs": len(jobs), "missing_privilege": "Datastore.Audit on /storage"},
            )
        )
    return unreadable


def _not_backed_up(nbu: Fetched) -> tuple[int, ...] | None:
    if nbu.error is not None or not isinstance(nbu.data, list):
        return None
    return tuple(
        sorted(int(i["vmid"]) for i in nbu.data if isinstance(i, dict) and _is_int(i.get("vmid")))
    )


def _version(answer: Fetched) -> str | None:
    return _opt_str(answer.data.get("version")) if isinstance(answer.data, dict) else None


def _cluster_name(answer: Fetched) -> str | None:
    if not isinstance(answer.data, list):
        return None
    return next(
        (
            _opt_str(i.get("name"))
            for i in answer.data
            if isinstance(i, dict) and i.get("type") == "cluster"
        ),
        None,
    )


def _storage_audit(
    client: PveClient,
    storages: Iterable[Storage],
    jobs: Iterable[BackupJob],
    defaults: Mapping[str, str],
) -> dict[str, bool]:
    """For each storage a job or a node default names that ``/storage`` does not list:
    does the token have what ``/storage`` filters on there?

    pve-storage ``src/PVE/API2/Storage/Config.pm`` ``index`` lists a storage when
    ``check_any(/storage/<id>, [Datastore.Audit, Datastore.AllocateSpace])`` passes. One
    ``GET /access/permissions?path=/storage/<id>`` (pve-access-control
    ``src/PVE/API2/AccessControl.pm`` ``permissions``: ``permissions($user, $path)``, the
    same computation) answers exactly that, also for a storage hidden by a ``NoAccess``
    ACL, which the full answer leaves out. Unanswered: not known (left out).
    """
    listed = {s.id for s in storages}
    named = {j.storage for j in jobs if j.storage} | {
        d for d in defaults.values() if not d.startswith(DUMPDIR)
    }
    out: dict[str, bool] = {}
    for sid in sorted(named - listed):
        path = f"/storage/{sid}"
        try:
            data = client.get("/access/permissions", {"path": path})
        except ApiError:
            continue
        entry = data.get(path) if isinstance(data, Mapping) else None
        privileges = DATASTORE_AUDIT.privileges
        out[sid] = isinstance(entry, Mapping) and any(p in entry for p in privileges)
    return out


def _is_int(v: Any) -> bool:
    try:
        int(v)
    except (TypeError, ValueError):
        return False
    return True


def _is_vzdump(job: Mapping[str, Any]) -> bool:
    """jobs.cfg may hold other job types; legacy vzdump.cron entries have no ``type``."""
    return job.get("type") in (None, "vzdump")


def _nodes(fetched: Fetched) -> list[Node]:
    if fetched.error is not None or not isinstance(fetched.data, list):
        return []
    out = []
    for item in fetched.data:
        if isinstance(item, dict) and item.get("node"):
            status = item.get("status")
            known: NodeStatus = (
                "online" if status == "online" else "offline" if status == "offline" else "unknown"
            )
            out.append(Node(str(item["node"]), known))
    return sorted(out, key=lambda n: n.name)


def _pools(
    client: PveClient,
    fetched: Fetched,
    jobs: Iterable[BackupJob],
    guests: Iterable[Guest],
    anomalies: list[Anomaly],
) -> list[Pool]:
    """Pools with their direct guest members.

    Members come from the ``pool`` field of /cluster/resources (one request for all
    pools). A pool named by a job but absent from /pools is asked directly, to tell a
    deleted pool (pve-manager ``PVE/API2/Pool.pm`` ``read_pool``: ``pool '<id>' does not
    exist``; left out, so coverage knows PVE refuses the job) from a missing Pool.Audit
    (403) or an unreadable answer (kept with unknown members).
    """
    members: dict[str, list[int]] = {}
    for g in guests:
        if g.pool:
            members.setdefault(g.pool, []).append(g.vmid)
    listed: dict[str, str | None] = {}
    if fetched.error is None and isinstance(fetched.data, list):
        for item in fetched.data:
            if isinstance(item, dict) and item.get("poolid"):
                listed[str(item["poolid"])] = _opt_str(item.get("comment"))
    out = [
        Pool(pid, comment, tuple(sorted(members.get(pid, [])))) for pid, comment in listed.items()
    ]
    wanted = sorted({j.pool for j in jobs if j.pool and j.pool not in listed})
    for pid in wanted:
        pool = _unlisted_pool(client, pid, anomalies)
        if pool is not None:
            out.append(pool)
    return sorted(out, key=lambda p: p.id)


def _unlisted_pool(client: PveClient, pid: str, anomalies: list[Anomaly]) -> Pool | None:
    """A pool a job names that /pools does not list, asked directly: None when PVE says
    it does not exist; members unknown when it is hidden (403) or unreadable."""
    try:
        data = client.get(f"/pools/{quote(pid, safe='')}")
    except ApiHttpError as exc:
        if exc.status == 403:
            anomalies.append(
                Anomaly(
                    Severity.WARNING,
                    "permissions",
                    Msg("pool_needs_audit", pool=pid),
                    {"pool": pid, "missing_privilege": exc.missing_privilege or "Pool.Audit"},
                )
            )
            return Pool(pid, None, None)
        if "does not exist" in exc.pve_message:
            return None  # deleted: a job naming it is refused by PVE (coverage reports it)
        message = Msg("pool_read_error", pool=pid, error=exc.message)
        anomalies.append(Anomaly(Severity.WARNING, "pools", message))
        return Pool(pid, None, None)
    except ApiError as exc:
        message = Msg("pool_read_error", pool=pid, error=exc.message)
        anomalies.append(Anomaly(Severity.WARNING, "pools", message))
        return Pool(pid, None, None)
    if not isinstance(data, dict):
        return Pool(pid, None, ())
    direct = [
        int(m["vmid"])
        for m in data.get("members") or []
        if isinstance(m, dict) and m.get("type") in ("qemu", "lxc") and _is_int(m.get("vmid"))
    ]
    return Pool(pid, _opt_str(data.get("comment")), tuple(sorted(direct)))


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, IsADirectoryError, ...
        return False
    return True


def _zone_requests(
    nodes: list[Node], known_timezones: Mapping[str, str]
) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """The time zones to read: those of the online nodes the task cache does not know."""
    return {
        f"time:{n.name}": (f"/nodes/{n.name}/time", None)
        for n in nodes
        if n.status == "online" and n.name not in known_timezones
    }


def _node_details(
    client: PveClient,
    nodes: list[Node],
    jobs: list[BackupJob],
    workers: int,
    fallback: str | None,
    known_timezones: Mapping[str, str],
    anomalies: list[Anomaly],
    need_defaults: bool,
    zones: Mapping[str, Fetched],
) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """Time zone of each node (and which were read now), and the default vzdump storage
    of each node when a job has none.

    The time zones (``zones``, read as ``_zone_requests`` says) are asked as soon as the
    first round names the nodes, while the rest of the inventory is normalised: on 32
    nodes and 10,000 guests they were a round of their own after it, some 0.09 s of
    each cold run. The defaults depend on the jobs, so they are asked after them.
    """
    online = [n.name for n in nodes if n.status == "online"]
    fetched = dict(zones)
    if need_defaults or any(j.storage is None and j.dumpdir is None for j in jobs):
        requests = {f"defaults:{n}": (f"/nodes/{n}/vzdump/defaults", None) for n in online}
        fetched.update(fetch_parallel(client, requests, workers) if requests else {})
    timezones, read_now = _timezones(nodes, fetched, known_timezones, fallback, anomalies)
    return timezones, read_now, _defaults(online, fetched, anomalies)


def _timezones(
    nodes: list[Node],
    fetched: Mapping[str, Fetched],
    known_timezones: Mapping[str, str],
    fallback: str | None,
    anomalies: list[Anomaly],
) -> tuple[dict[str, str], set[str]]:
    """Each node's zone: read now, else known from the cache, else a fallback (named in
    an anomaly); and the nodes whose zone was read now."""
    timezones: dict[str, str] = {}
    read_now: set[str] = set()
    missing: list[str] = []
    why: Msg | None = None  # the first reason a time zone could not be had
    for n in nodes:
        r = fetched.get(f"time:{n.name}")
        tz = r.data.get("timezone") if r and r.error is None and isinstance(r.data, dict) else None
        if r is not None and r.error is not None:
            why = why or Msg("paren_error", error=r.error.message)
        if isinstance(tz, str) and tz and not _known_zone(tz):
            why = why or Msg("tz_not_installed", zone=tz)
            tz = None
        if isinstance(tz, str) and tz:
            read_now.add(n.name)
        else:
            tz = known_timezones.get(n.name)
        if isinstance(tz, str) and tz:
            timezones[n.name] = tz
        else:
            missing.append(n.name)
    if missing:
        anomalies.append(_fallback_zone(timezones, missing, fallback, why))
    return timezones, read_now


def _fallback_zone(
    timezones: dict[str, str], missing: list[str], fallback: str | None, why: Msg | None
) -> Anomaly:
    """The config's timezone, else the zone the other nodes share (clusters nearly always
    run in one zone), else UTC, for the nodes whose zone is not known."""
    seen = sorted(set(timezones.values()))
    used = fallback or (seen[0] if len(seen) == 1 else "UTC")
    for name in missing:
        timezones[name] = used
    known = fallback is not None or len(seen) == 1
    return Anomaly(
        Severity.INFO if known else Severity.WARNING,
        "schedule",
        Msg(
            "tz_fallback" if known else "tz_fallback_guess",
            nodes=missing,
            why=why or Msg("empty"),
            zone=used,
        ),
        {"nodes": missing, "timezone": used},
    )


def _defaults(
    online: list[str], fetched: Mapping[str, Fetched], anomalies: list[Anomaly]
) -> dict[str, str]:
    """Each online node's vzdump default target, where it was asked."""
    defaults: dict[str, str] = {}
    for name in online:
        r = fetched.get(f"defaults:{name}")
        if r is None:
            continue
        if r.error is not None:
            anomalies.append(
                Anomaly(
                    Severity.WARNING,
                    "jobs",
                    Msg("vzdump_defaults_unreadable", node=name, error=r.error.message),
                    {"node": name},
                )
            )
            continue
        defaults[name] = default_target(r.data)
    return defaults


DUMPDIR = "dumpdir:"  # prefix of a node default that is a directory, not a storage


def default_target(answer: Any) -> str:
    """A node's vzdump default from ``GET /nodes/{node}/vzdump/defaults``: the storage
    id, or ``dumpdir:<path>`` (``dumpdir:`` alone when PVE hides the path).

    pve-manager ``PVE/API2/VZDump.pm`` ``defaults`` answers ``storage: local`` when
    vzdump.conf sets neither storage nor dumpdir, and drops ``dumpdir`` without
    ``Sys.Audit`` on the node: an answer without ``storage`` is a directory.
    """
    if not isinstance(answer, dict):
        return "local"  # odd answer: what PVE uses when nothing is configured
    storage = _opt_str(answer.get("storage"))
    if storage is not None:
        return storage
    return DUMPDIR + (_opt_str(answer.get("dumpdir")) or "")


def _description(config: Any) -> str | None:
    """A guest config's notes ("" when it has none); None when it is no config."""
    if not isinstance(config, dict):
        return None
    desc = config.get("description")
    return str(desc) if desc else ""


def with_notes(
    client: PveClient,
    guests: Sequence[Guest],
    workers: int,
    anomalies: list[Anomaly],
    known: Mapping[int, str],
) -> list[Guest]:
    """Guest descriptions: ``known`` ones as given, the others from their configs, in
    parallel; unreadable -> anomaly."""
    from dataclasses import replace

    wanted = {
        str(g.vmid): (f"/nodes/{g.node}/{g.type}/{g.vmid}/config", None)
        for g in guests
        if g.vmid not in known
    }
    fetched = fetch_parallel(client, wanted, workers, _description) if wanted else {}
    out = []
    failed: list[int] = []
    for g in guests:
        if g.vmid in known:
            out.append(replace(g, notes=known[g.vmid]))
            continue
        r = fetched[str(g.vmid)]
        if r.error is not None or r.data is None:
            failed.append(g.vmid)
            out.append(g)
            continue
        out.append(replace(g, notes=r.data))
    if failed:
        anomalies.append(
            Anomaly(
                Severity.INFO,
                "guests",
                Msg("notes_unreadable", count=len(failed)),
                {"vmids": failed[:50]},
            )
        )
    return out
