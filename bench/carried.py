#!/usr/bin/env python3
"""A warm check that carries its whole analysis from the run before it
(``bench/run.py --carried``): what carrying results across runs could save at most.

    PYTHONPATH=<tree> PVE_HOST=... PVE_API_TOKEN_ID=... PVE_API_TOKEN_SECRET=... \\
        python bench/carried.py KEPT <the check's arguments>

Without a ``KEPT`` file, the check of the tree on ``PYTHONPATH`` runs as it is, and
what it found is kept there (pickle): its assessment, the nodes' time zones, the PBS
storages it read and the guests whose creation it looked up. With one, the check makes
the requests a warm check makes to learn its inputs, and does with their answers what
it must do before any analysis: the inventory (its first round normalised; the time
zones kept), every node's first task-list page turned into tasks, the PBS content and
space read and parsed, the same creation lookup (a guest deleted and made again under
its VMID shows only there). It reads no task log (a warm check reads those of runs
still going, or ended since it last ran). Then,
instead of reading its task cache and computing the coverage, the history and the
verdicts, it gives back the kept assessment (with this run's request counts) to the
check's output, as if the inputs were proven unchanged, at no cost: no comparison, no
digest. Its CPU is a floor for a warm check in this interpreter that makes the same
requests and carries its whole analysis from one run to the next; the ratio to the
check's own CPU is the most such carrying could save. A bench tool only: it relies on
the tree's ``pipeline`` internals, and gives a stale answer by design.
"""

from __future__ import annotations

import pickle
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any


def main() -> None:
    kept = Path(sys.argv[1])
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    from pve_backup_report import pipeline
    from pve_backup_report.cli import main as check

    computed, lookup = pipeline._run_assessment, pipeline._lookup_creations
    looked_up: dict[int, Any] = {}

    def recorded(client: Any, inventory: Any, candidates: Any, settings: Any, progress: Any) -> Any:
        looked_up.update(candidates)  # the guests not settled by the task cache
        return lookup(client, inventory, candidates, settings, progress)

    def carried(settings: Any, options: Any, client: Any, progress: Any) -> Any:
        if kept.exists():
            return _given_back(kept, settings, options, client)
        result = computed(settings, options, client, progress)
        _keep(kept, result, looked_up)
        return result

    # run_assessment calls them (the garbage collector paused around)
    pipeline._run_assessment, pipeline._lookup_creations = carried, recorded
    check()


def _keep(path: Path, result: Any, looked_up: dict[int, Any]) -> None:
    from pve_backup_report.analysis.assess import pbs_storages_in_use

    zones = {n.name: n.timezone for n in result.inventory.nodes if n.timezone}
    storages = pbs_storages_in_use(result.inventory, result.coverage)
    kept = {"result": result, "zones": zones, "storages": storages, "looked_up": looked_up}
    with path.open("wb") as out:
        pickle.dump(kept, out)


def _given_back(path: Path, settings: Any, options: Any, client: Any) -> Any:
    """The kept assessment, after the requests and parsing a warm run needs for its
    inputs (``pipeline._collected``'s, without the history's walk)."""
    from pve_backup_report import pipeline
    from pve_backup_report.collect.backup_sources import collect_backup_sources
    from pve_backup_report.collect.creation import collect_creations
    from pve_backup_report.collect.inventory import collect_inventory
    from pve_backup_report.collect.parallel import worker_pool
    from pve_backup_report.collect.tasks import ask_first_pages

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
        collect_backup_sources(client, settings, inventory, kept["storages"], options.now)
        for page in asked.values():
            page.result()
    if kept["looked_up"]:
        collect_creations(client, inventory, kept["looked_up"], settings.task_history_limit,
                          settings.max_workers)  # fmt: skip
    return kept["result"].with_stats(pipeline._stats(client, t0, None))


if __name__ == "__main__":
    main()
