"""One run: collect (I/O), then analyse (pure), giving the :class:`Assessment`.

The check, the report and the dumps all call :func:`run_assessment`; nothing else talks
to the API.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from pve_backup_report.analysis.anomalies import hidden_history_anomaly
from pve_backup_report.analysis.assess import (
    AnalysisOptions,
    Assessment,
    CollectStats,
    assess,
    may_be_pending,
    pbs_storages_in_use,
    pending_candidates,
)
from pve_backup_report.analysis.coverage import CoverageResult, analyse_coverage
from pve_backup_report.analysis.creation import Candidate, GuestCreation
from pve_backup_report.analysis.history import GuestHistory
from pve_backup_report.analysis.pbs_content import PbsContent
from pve_backup_report.analysis.pbs_health import StorageSpace
from pve_backup_report.collect.backup_sources import collect_backup_sources
from pve_backup_report.collect.creation import CreationCollection, collect_creations
from pve_backup_report.collect.inventory import collect_inventory, with_notes
from pve_backup_report.collect.parallel import worker_pool
from pve_backup_report.collect.progress import Progress, no_progress
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.task_cache import TaskCache, default_cache_path
from pve_backup_report.collect.tasks import (
    HistoryCollection,
    HistoryOptions,
    PageAnswer,
    PbsSnapshots,
    ask_first_pages,
    collect_history,
)
from pve_backup_report.config import Settings
from pve_backup_report.model import Anomaly, Guest, Inventory, Node, Severity
from pve_backup_report.timeutil import window_s

log = logging.getLogger("nagiosplugin.pve_backup_report")


@dataclass(frozen=True)
class RunOptions:
    now: int
    need_notes: bool = False  # guest descriptions: report and dumps only
    need_history: bool = True  # --dump-inventory does without
    use_cache: bool = True


def run_assessment(
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    progress: Progress = no_progress,
) -> Assessment:
    """Collect everything the chosen output needs and analyse it."""
    with _gc_paused():
        return _run_assessment(settings, options, client, progress)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the run builds its (acyclic) data.

    Decoding large answers and the task cache creates hundreds of thousands of containers;
    each allocation burst would trigger collections that find nothing to free (about a
    quarter of a warm run's CPU time on 10,000 guests). Reference counting still frees
    everything; the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_assessment(
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    progress: Progress,
) -> Assessment:
    t0 = time.monotonic()
    cache = _load_cache(settings, options) if options.need_history else None
    inventory, coverage, got = _collected(settings, options, client, cache, progress)
    # said in the output, never on stderr (Icinga 2 would show stderr as the status)
    extra = [Anomaly(Severity.WARNING, "config", w) for w in settings.secret_warnings]
    extra += got.anomalies
    analysis = AnalysisOptions(settings.grace_s, settings.max_age_s, settings.history_days)
    inputs = (got.histories, got.readable, got.content, extra)
    history = got.history
    if history is None:
        result = assess(inventory, coverage, *inputs[:3], options.now, analysis, extra)
    else:
        window = window_s(settings.history_days)
        lookup = _Lookup(client, inventory, settings, progress, cache, options.now - window)
        written: list[Anomaly] = []
        try:
            result = _judged(inventory, coverage, inputs, options.now, analysis, lookup)
        finally:  # also when the check's timeout stops the lookup: keep what was read
            if cache is not None:
                written = _save_cache(cache, history, options.now - window)
        if written:
            result = replace(result, anomalies=(*result.anomalies, *written))
        hidden = hidden_history_anomaly(result.guests, history.empty_nodes, options.now, window)
        if hidden is not None:
            result = replace(result, anomalies=(*result.anomalies, hidden))
    if got.spaces:
        result = replace(result, storage_space=got.spaces)
    return result.with_stats(_stats(client, t0, history))


def _collected(
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    cache: TaskCache | None,
    progress: Progress,
) -> tuple[Inventory, CoverageResult, _Collected]:
    """The inventory, the coverage and the rest. The nodes' first task-list pages are
    asked as soon as the inventory's first round names the nodes: on a cluster of 32
    nodes and 10,000 guests they were asked about 0.25 s later, after the time zones and
    the coverage, on every run."""
    with worker_pool(settings.max_workers) as early:
        asked: dict[str, Future[PageAnswer]] = {}

        def ask(nodes: list[Node]) -> None:
            if options.need_history:
                online = [n.name for n in nodes if n.status == "online"]
                asked.update(
                    ask_first_pages(client, early, online, options.now, _history_options(settings))
                )

        inventory = _inventory(settings, client, cache, progress, ask, early)
        return _coverage_and_history(settings, options, client, cache, progress, inventory, asked)


def _history_options(settings: Settings) -> HistoryOptions:
    return HistoryOptions(
        settings.history_days,
        settings.task_history_limit,
        settings.task_log_limit,
        settings.max_workers,
    )


def _coverage_and_history(
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    cache: TaskCache | None,
    progress: Progress,
    inventory: Inventory,
    asked: Mapping[str, Future[PageAnswer]],
) -> tuple[Inventory, CoverageResult, _Collected]:
    """The coverage, the history and the backup sources, the notes read meanwhile (the
    inventory and the coverage come back with them)."""
    with worker_pool(1) as side:
        notes = _notes_meanwhile(side, settings, options, client, cache, inventory)
        coverage = analyse_coverage(inventory, settings.ignore, options.now)
        got = _Collected()
        if options.need_history:
            got = _history_and_sources(
                settings, options, client, cache, progress, inventory, coverage, asked
            )
        if notes is not None:
            if not notes.done():
                progress(f"guest notes: {len(inventory.guests)} guest(s)")
            inventory, coverage = _noted(inventory, coverage, notes.result(), cache)
    return inventory, coverage, got


def _inventory(
    settings: Settings,
    client: PveClient,
    cache: TaskCache | None,
    progress: Progress,
    on_nodes: Callable[[list[Node]], object] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> Inventory:
    """The inventory (its guests without notes), with the time zones the cache still
    knows; those read now go back into the cache. Its first round and time zones are read
    on ``pool``, the threads that then read the first task-list pages (``on_nodes``), in
    that order while the main thread normalises: the threads the first round started
    (up to nine) are idle by then, and the main thread starts the rest as it submits the
    zones, rather than a side thread while the main thread is busy."""
    progress("inventory: nodes, storages, jobs, guests, pools")
    inventory = collect_inventory(
        client,
        settings.backup_jobs_endpoint,
        settings.max_workers,
        fallback_timezone=settings.timezone,
        known_timezones=cache.fresh_timezones(int(time.time())) if cache else None,
        on_nodes=on_nodes,
        pool=pool,
    )
    if cache is not None:
        _remember(cache, inventory)
    log.info(
        "inventory: %d nodes, %d storages, %d jobs, %d guests, %d pools",
        len(inventory.nodes),
        len(inventory.storages),
        len(inventory.jobs),
        len(inventory.guests),
        len(inventory.pools),
    )
    return inventory


def _remember(cache: TaskCache, inventory: Inventory) -> None:
    read_at = int(time.time())
    fetched = {n.name: n.timezone for n in inventory.nodes if n.timezone_fetched}
    cache.timezones.update({name: (tz, read_at) for name, tz in fetched.items() if tz})


@dataclass(frozen=True)
class _Notes:
    """The guests with their notes, the anomaly of those unreadable, and the notes the
    cache gave (the others were read now)."""

    guests: tuple[Guest, ...]
    anomalies: tuple[Anomaly, ...]
    known: Mapping[int, str]


def _notes_meanwhile(
    side: ThreadPoolExecutor,
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    cache: TaskCache | None,
    inventory: Inventory,
) -> Future[_Notes] | None:
    """The guests' notes (report and dumps only), read on the side thread while the
    history is collected and analysed: a first report on 10,000 guests asks for 10,000
    configs, whose waiting would otherwise come before everything else. The client keeps
    all the run's threads together within ``max_workers`` requests."""
    if not options.need_notes or not inventory.guests:
        return None
    known = cache.fresh_notes(int(time.time())) if cache else {}

    def read() -> _Notes:
        anomalies: list[Anomaly] = []
        guests = with_notes(client, inventory.guests, settings.max_workers, anomalies, known)
        return _Notes(tuple(guests), tuple(anomalies), known)

    return side.submit(read)


def _noted(
    inventory: Inventory, coverage: CoverageResult, notes: _Notes, cache: TaskCache | None
) -> tuple[Inventory, CoverageResult]:
    """The inventory and the coverage with the guests that have their notes (the coverage
    does not read notes), and the notes read now in the cache for a while (not those that
    failed)."""
    by_vmid = {g.vmid: g for g in notes.guests}
    if cache is not None:
        read_at = int(time.time())
        cache.notes.update(
            {
                g.vmid: (g.notes, read_at)
                for g in notes.guests
                if g.notes is not None and g.vmid not in notes.known
            }
        )
    inventory = replace(
        inventory,
        guests=tuple(by_vmid[g.vmid] for g in inventory.guests),
        anomalies=(*inventory.anomalies, *notes.anomalies),
    )
    guests = tuple(replace(gc, guest=by_vmid[gc.guest.vmid]) for gc in coverage.guests)
    return inventory, replace(coverage, guests=guests)


@dataclass
class _Collected:
    """What the history and the backup sources gave (nothing without ``need_history``)."""

    history: HistoryCollection | None = None
    histories: dict[int, GuestHistory] = field(default_factory=dict)
    readable: frozenset[str] = frozenset()
    content: PbsContent | None = None
    spaces: tuple[StorageSpace, ...] = ()
    anomalies: list[Anomaly] = field(default_factory=list)


def _history_and_sources(
    settings: Settings,
    options: RunOptions,
    client: PveClient,
    cache: TaskCache | None,
    progress: Progress,
    inventory: Inventory,
    coverage: CoverageResult,
    asked: Mapping[str, Future[PageAnswer]],
) -> _Collected:
    """The task history, and meanwhile (one side thread) the PBS snapshots and space."""
    progress("task history and PBS content")
    snapshots = _Snapshots()
    with worker_pool(1) as side:
        sources_future = side.submit(
            collect_backup_sources,
            client,
            settings,
            inventory,
            pbs_storages_in_use(inventory, coverage),
            options.now,
            snapshots.read,
        )
        history = collect_history(
            client,
            inventory,
            coverage,
            options.now,
            _history_options(settings),
            cache.tasks if cache is not None else None,
            progress,
            asked,
            cache.creations if cache is not None else None,
            snapshots,
        )
        sources = sources_future.result()
    anomalies = [*sources.anomalies, *history.anomalies]
    if cache is not None:
        anomalies += cache.anomalies  # the load's; the save's come after the creations
    log.info(
        "history: %d tasks listed, %d logs read, %d from cache",
        history.tasks_listed,
        history.logs_fetched,
        history.logs_cached,
    )
    return _Collected(
        history, history.histories, history.readable_nodes, sources.content, sources.spaces,
        anomalies,
    )  # fmt: skip


class _Snapshots:
    """The newest snapshot of each guest on PBS, for the history's fetching ahead
    (``collect_history``), once the side thread has read PVE's view of every PBS storage
    in use: None before (the history never waits for it), and when one of them could
    not be read or lists nothing (a guest's newest snapshot may be there: pve-storage
    ``src/PVE/API2/Storage/Content.pm`` ``index`` drops the volumes ``check_volume_access``
    refuses a token without ``Datastore.Allocate``, as ``assess._content_anomalies``
    warns)."""

    def __init__(self) -> None:
        self._found: PbsSnapshots | None = None

    def read(self, content: PbsContent) -> None:
        if content.anomalies or any(c.count == 0 for c in content.storages.values()):
            return  # a storage listing nothing: the token may not see its snapshots
        starts: dict[tuple[int, str], int] = {}
        for storage in content.storages.values():
            for key, snapshot in storage.newest.items():
                if snapshot.ctime > starts.get(key, -1):
                    starts[key] = snapshot.ctime
        # one assignment: the history's thread sees all or nothing
        self._found = PbsSnapshots(starts, frozenset(content.storages))

    def __call__(self) -> PbsSnapshots | None:
        return self._found


def _stats(client: PveClient, t0: float, history: HistoryCollection | None) -> CollectStats:
    stats = CollectStats(
        requests=client.stats.requests,
        bytes=client.stats.bytes,
        collect_time_s=time.monotonic() - t0,
        tasks_listed=history.tasks_listed if history else 0,
        logs_fetched=history.logs_fetched if history else 0,
        logs_cached=history.logs_cached if history else 0,
        tls_mode=client.tls_mode,
        endpoints=dict(client.stats.per_path),
    )
    for path, count in sorted(stats.endpoints.items()):
        log.info("GET %s: %d request(s)", path, count)
    log.info("%d requests, %d bytes, %.2f s", stats.requests, stats.bytes, stats.collect_time_s)
    return stats


def _judged(
    inventory: Inventory,
    coverage: CoverageResult,
    inputs: tuple[dict[int, GuestHistory], frozenset[str], PbsContent | None, list[Anomaly]],
    now: int,
    options: AnalysisOptions,
    lookup: _Lookup,
) -> Assessment:
    """Every guest judged, and judged again with the creations of those without any
    result, whose lookup (one task list per node) runs on a side thread while every guest
    is judged: on 10,000 guests the judging is about 0.12 s of CPU and the lookup two
    waves of 16 requests, which came one after the other at the end of each cold run."""
    with worker_pool(1) as side:
        early = side.submit(lookup, _pending(inventory, coverage, inputs, now, options))
        first = assess(inventory, coverage, *inputs[:3], now, options, inputs[3])
        return _with_creations(first, lookup, early, inputs)


def _pending(
    inventory: Inventory,
    coverage: CoverageResult,
    inputs: tuple[dict[int, GuestHistory], frozenset[str], PbsContent | None, list[Anomaly]],
    now: int,
    options: AnalysisOptions,
) -> dict[int, Candidate]:
    """What :func:`pending_candidates` names, from the guests it may name judged alone
    (``may_be_pending``): 2 ms on 10,000 guests, so that their creation lookup runs
    while every guest is judged."""
    histories, readable, content, _extra = inputs
    alone = tuple(gc for gc in coverage.guests if may_be_pending(histories.get(gc.guest.vmid)))
    if not alone:
        return {}
    judged = assess(inventory, replace(coverage, guests=alone), histories, readable, content,
                    now, options)  # fmt: skip
    return pending_candidates(judged)


@dataclass(frozen=True)
class _Found:
    """The creations found for some candidates (``_Lookup``): those the cache knew and
    those read now (``made``, for the cache), and the lookup's anomalies."""

    candidates: Mapping[int, Candidate]
    creations: dict[int, GuestCreation]
    made: dict[int, GuestCreation]
    anomalies: tuple[Anomaly, ...] = ()


@dataclass(frozen=True)
class _Lookup:
    """The creation tasks of pending candidates (``collect_creation``). A creation the
    cache knows to be after the expected run (and since ``oldest``, the window's start)
    settles its guest without asking PVE. It only reads the cache: what it finds goes
    into the cache on the run's thread (``_with_creations``), never beside a write."""

    client: PveClient
    inventory: Inventory
    settings: Settings
    progress: Progress
    cache: TaskCache | None
    oldest: int

    def __call__(self, candidates: Mapping[int, Candidate]) -> _Found:
        cache = self.cache
        known = cache.known_creations(candidates, self.oldest) if cache is not None else {}
        rest = {v: c for v, c in candidates.items() if v not in known}
        if not rest:
            if known:
                log.info("creation tasks: %d guest(s) created since their expected run "
                         "(cached)", len(known))  # fmt: skip
            return _Found(candidates, known, {})
        made = _lookup_creations(self.client, self.inventory, rest, self.settings, self.progress)
        return _Found(candidates, {**known, **made.creations}, made.creations, made.anomalies)


def _with_creations(
    first: Assessment,
    lookup: _Lookup,
    early: Future[_Found],
    inputs: tuple[dict[int, GuestHistory], frozenset[str], PbsContent | None, list[Anomaly]],
) -> Assessment:
    """Judge again the guests without any result once their creation tasks are known: one
    created after its expected run is pending. Their lookup started while every guest was
    judged (``_pending``); candidates it did not look up (none: each guest is judged on
    its own) would be looked up now."""
    candidates = pending_candidates(first)
    found = early.result()
    if found.candidates != candidates:
        found = lookup(candidates)
    if lookup.cache is not None:
        lookup.cache.creations.update(found.made)  # saved with the run's tasks
    if not found.creations and not found.anomalies:
        return first
    histories, readable, content, extra = inputs
    return assess(
        first.inventory, first.coverage, histories, readable, content, first.now,
        first.options, [*extra, *found.anomalies], found.creations, first,
    )  # fmt: skip


def _save_cache(cache: TaskCache, history: HistoryCollection, oldest: int) -> list[Anomaly]:
    """Write the cache once per run, with the tasks read and the creations found; the
    anomalies the write added (it could not be written)."""
    before = len(cache.anomalies)
    if cache.save(history.new_tasks, oldest):
        log.info("task cache written: %d tasks, %d creations", len(cache.tasks),
                 len(cache.creations))  # fmt: skip
    return cache.anomalies[before:]


def _lookup_creations(
    client: PveClient,
    inventory: Inventory,
    candidates: Mapping[int, Candidate],
    settings: Settings,
    progress: Progress,
) -> CreationCollection:
    progress(f"creation tasks of {len(candidates)} guest(s) without any backup")
    made = collect_creations(
        client, inventory, candidates, settings.task_history_limit, settings.max_workers
    )
    log.info(
        "creation tasks: %d tasks listed, %d clone logs read, %d guest(s) created since "
        "their expected run",
        made.tasks_listed,
        made.logs_fetched,
        len(made.creations),
    )
    return made


def _load_cache(settings: Settings, options: RunOptions) -> TaskCache | None:
    if not (options.use_cache and settings.use_cache):
        return None
    path = settings.cache_file or default_cache_path(settings.hosts, settings.token_id)
    return TaskCache.load(path)
