#!/usr/bin/env python3
"""A warm check that carries its whole analysis from the run before it
(``bench/run.py --carried``): what carrying results across runs could save.

    PYTHONPATH=<tree> PVE_HOST=... PVE_API_TOKEN_ID=... PVE_API_TOKEN_SECRET=... \\
        python bench/carried.py KEPT <the check's arguments>

Without a ``KEPT`` file, the check of the tree on ``PYTHONPATH`` runs as it is, and
what it found is kept there (pickle): its assessment, the time zones its next run would
know (from its task cache, or read now), the PBS storages it read, the task logs it read
(on a warm run, those of runs still going, whose results the task cache does not keep),
the older task-list pages it asked and the guests whose creation it looked up. With one,
the check makes the requests the kept run made to learn its inputs, and does with their
answers what it must do before any analysis: the inventory (its first round
normalised), every node's task-list pages turned into tasks, the PBS content and space
read and parsed, the same logs read, the same creation lookup (a guest deleted and made
again under its VMID shows only there). Then, instead of reading its task cache and
computing the coverage, the history and the verdicts, it gives back the kept assessment
(unpickled; with this run's storage space and request counts, the kept run's anomalies)
to the check's output, as if the inputs were proven unchanged, at no cost: no
comparison, no digest. Its output is the kept run's at the same ``--now`` and on the
same cluster, but for the time taken.

Its CPU is that of a warm check in this interpreter that makes the same requests and
carries its whole assessment from one run to the next, proving nothing; less the
unpickling (measured apart), a floor for such a check. A bench tool only: it relies on
the tree's ``pipeline`` internals, and gives a stale answer by design. Exits 2 with one
line when the tree lacks them.
"""

from __future__ import annotations

import pickle
import sys
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

# what it takes from the tree's pipeline (with ``tasks._fetch_log``)
_NEEDED = ("_run_assessment", "_lookup_creations", "collect_inventory", "_stats",
           "_history_options")  # fmt: skip


def main() -> None:
    kept = Path(sys.argv[1])
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    try:
        from pve_backup_report import pipeline
        from pve_backup_report.cli import main as check
        from pve_backup_report.collect import tasks
    except ImportError as exc:  # another layout (an older tree), or a missing package
        print(f"carried: cannot import {exc.name or 'a module'} (PYTHONPATH: the tree to run)")
        raise SystemExit(2) from None
    missing = [name for name in _NEEDED if not hasattr(pipeline, name)]
    lacking = [f"pipeline.{m}" for m in missing]
    lacking += [f"tasks.{t}" for t in ("_fetch_log", "_ask_page") if not hasattr(tasks, t)]
    if lacking:
        _lacks(", ".join(lacking))
    seen = _Seen()
    computed = pipeline._run_assessment

    def carried(settings: Any, options: Any, client: Any, progress: Any) -> Any:
        if kept.exists():
            return _given_back(kept, settings, options, client)
        seen.watch(pipeline, tasks)
        result = computed(settings, options, client, progress)
        _keep(kept, result, seen)
        return result

    pipeline._run_assessment = carried  # run_assessment calls it (the GC paused around)
    check()


def _lacks(what: str) -> NoReturn:
    print(f"carried: the tree on PYTHONPATH lacks {what}, which bench/carried.py uses")
    raise SystemExit(2)


class _Seen:
    """What the keeping run asked beyond its inputs' first reads: the zones it knew from
    its cache, the logs it read, the guests whose creation it looked up."""

    def __init__(self) -> None:
        self.known_zones: dict[str, str] = {}
        self.logs: list[tuple[Any, int]] = []  # (task, cap)
        self.pages: list[tuple[str, int, int, int]] = []  # (node, since, size, start) > 0
        self.looked_up: dict[int, Any] = {}

    def watch(self, pipeline: Any, tasks: Any) -> None:
        inventory, fetch_log, lookup = (
            pipeline.collect_inventory, tasks._fetch_log, pipeline._lookup_creations
        )  # fmt: skip
        ask_page = tasks._ask_page

        def collect_inventory(*args: Any, **kwargs: Any) -> Any:
            self.known_zones.update(kwargs.get("known_timezones") or {})
            return inventory(*args, **kwargs)

        def read_log(client: Any, task: Any, cap: int) -> Any:
            self.logs.append((task, cap))  # list.append: the fetching threads share it
            return fetch_log(client, task, cap)

        def look_up(client: Any, inv: Any, candidates: Any, settings: Any, progress: Any) -> Any:
            self.looked_up.update(candidates)  # the guests the task cache did not settle
            return lookup(client, inv, candidates, settings, progress)

        def page(client: Any, node: str, since: int, size: int, start: int) -> Any:
            if start:  # the first pages are asked again anyway
                self.pages.append((node, since, size, start))
            return ask_page(client, node, since, size, start)

        pipeline.collect_inventory, tasks._fetch_log = collect_inventory, read_log
        pipeline._lookup_creations, tasks._ask_page = look_up, page


def _keep(path: Path, result: Any, seen: _Seen) -> None:
    from pve_backup_report.analysis.assess import pbs_storages_in_use

    read = {n.name: n.timezone for n in result.inventory.nodes if n.timezone_fetched}
    kept = {
        "result": result,
        "zones": {**seen.known_zones, **{k: v for k, v in read.items() if v}},
        "storages": pbs_storages_in_use(result.inventory, result.coverage),
        "logs": seen.logs,
        "pages": seen.pages,
        "looked_up": seen.looked_up,
    }
    with path.open("wb") as out:
        pickle.dump(kept, out)


def _given_back(path: Path, settings: Any, options: Any, client: Any) -> Any:
    """The kept assessment, after the requests and parsing the kept run needed for its
    inputs (``pipeline._collected``'s, without the history's walk)."""
    from pve_backup_report import pipeline
    from pve_backup_report.collect.backup_sources import collect_backup_sources
    from pve_backup_report.collect.creation import collect_creations
    from pve_backup_report.collect.inventory import collect_inventory
    from pve_backup_report.collect.parallel import worker_pool
    from pve_backup_report.collect.tasks import _ask_page, _fetch_log, ask_first_pages

    with path.open("rb") as kept_file:
        kept = pickle.load(kept_file)
    t0 = time.monotonic()
    with worker_pool(settings.max_workers) as pool:
        asked: dict[str, Future[Any]] = {}

        def ask(nodes: list[Any]) -> None:
            online = [n.name for n in nodes if n.status == "online"]
            history = pipeline._history_options(settings)
            asked.update(ask_first_pages(client, pool, online, options.now, history))

        inventory = collect_inventory(
            client, settings.backup_jobs_endpoint, settings.max_workers,
            fallback_timezone=settings.timezone, known_timezones=kept["zones"],
            on_nodes=ask, pool=pool,
        )  # fmt: skip
        more: list[Future[Any]] = [
            pool.submit(_fetch_log, client, task, cap) for task, cap in kept["logs"]
        ]
        more += [pool.submit(_ask_page, client, *page) for page in kept["pages"]]
        sources = collect_backup_sources(client, settings, inventory, kept["storages"], options.now)
        for waited in (*asked.values(), *more):  # the logs and older pages too
            waited.result()
    if kept["looked_up"]:
        collect_creations(client, inventory, kept["looked_up"], settings.task_history_limit,
                          settings.max_workers)  # fmt: skip
    result = replace(kept["result"], storage_space=sources.spaces)  # this run's, or none
    return result.with_stats(pipeline._stats(client, t0, None))


if __name__ == "__main__":
    main()
