#!/usr/bin/env python3
"""What walks that resume could save a check: its history's planning counted
(issue 17's cold target, ``docs/performance.md``).

    PYTHONPATH=<tree> PVE_HOST=... PVE_API_TOKEN_ID=... PVE_API_TOKEN_SECRET=... \\
        python bench/walks.py <the check's arguments>

Runs the check of the tree on ``PYTHONPATH`` as it is, with counters around the planning
of its history (``collect/tasks.py``: ``_Reader.plan``, ``_walk``, ``_visit``,
``_read_ahead``, ``_fetch_ahead``), and prints after the check's output one line
``walks: ...``, its exit code the check's:

* ``first_walks``, ``first_visits``: each node's first walk, and the tasks it visited;
* ``later_walks``, ``later_visits``: the walks after a node's first (a new round, or a
  walk again at once after a log read during it), which start again from the node's
  newest task; a walk that resumed where the last one stopped would shorten these;
* ``before_change``: of ``later_visits``, those of tasks above the node's first task
  whose log became known (read this run, or in the task cache) since its previous walk:
  what a walk resumed from its first changed task would skip, if nothing else it depends
  on had changed (the search, the pairings and ``_created_since`` change it from its
  first task);
* ``later_own_cpu_s``: the main thread's CPU in the plans after a node's first, less the
  logs read during them (``_read_ahead``: each log is parsed once, whatever the walk)
  and the fetches started ahead (``_fetch_ahead``: once per task taken). At most that is
  what walks that resume could save, if they visited nothing twice at no cost;
* ``first_own_cpu_s``, ``read_ahead_cpu_s``, ``fetch_ahead_cpu_s``: the rest, alike.

The plans run on the main thread (``_read_rounds``): CPU is ``time.thread_time``. The
counting of visits stays in the CPU figures (a little more, so still bounds from above);
finding the changed tasks does not. A bench tool only: it relies on the tree's
``_Reader`` internals. Exits 2 with one line when the tree lacks them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

_NEEDED = ("plan", "_walk", "_visit", "_read_ahead", "_fetch_ahead")
_NESTED = ("_read_ahead", "_fetch_ahead")  # timed apart, outside the plans' own CPU
_CPU = ("first_own", "later_own", *_NESTED)
_COUNTS = ("first_walks", "first_visits", "later_walks", "later_visits", "before_change")


def main() -> None:
    try:
        from pve_backup_report.cli import main as check
        from pve_backup_report.collect.tasks import _Reader
    except ImportError as exc:  # another layout (an older tree), or a missing package
        print(f"walks: cannot import {exc.name or 'a module'} (PYTHONPATH: the tree to run)")
        raise SystemExit(2) from None
    lacking = [f"_Reader.{m}" for m in _NEEDED if not hasattr(_Reader, m)]
    if lacking:
        print(
            f"walks: the tree on PYTHONPATH lacks {', '.join(lacking)} (bench/walks.py uses them)"
        )
        raise SystemExit(2)
    counted = _Counted()
    counted.watch(_Reader)
    try:
        check()
    finally:
        print(counted.line(), flush=True)


class _Counted:
    """The walks' counts and the plans' CPU, per node of each reader."""

    def __init__(self) -> None:
        self.n: Counter[str] = Counter()
        self.cpu: dict[str, float] = dict.fromkeys((*_CPU, "counting"), 0.0)
        self.known_at: dict[tuple[int, str], set[str]] = {}  # at the node's last walk
        self.visits: list[int] = []  # the indexes the current walk visited
        self.depth = 0  # of the timed nested calls

    def watch(self, reader: Any) -> None:
        plan, walk, visit = reader.plan, reader._walk, reader._visit
        for name in _NESTED:
            setattr(reader, name, self._timed(name, getattr(reader, name)))

        def planned(r: Any, st: Any) -> Any:
            kind = "later_own" if (id(r), st.name) in self.known_at else "first_own"
            c0, apart = time.thread_time(), self._apart()
            taken = plan(r, st)
            self.cpu[kind] += time.thread_time() - c0 - (self._apart() - apart)
            return taken

        def walked(r: Any, st: Any) -> Any:
            before = self._known(r, st)
            previous = self.known_at.get((id(r), st.name))
            self.visits = []
            w = walk(r, st)
            self.known_at[(id(r), st.name)] = self._known(r, st)
            if previous is None:
                self.n["first_walks"] += 1
                self.n["first_visits"] += len(self.visits)
                return w
            changed = next(
                (i for i, t in enumerate(st.tasks) if (t.upid in before) != (t.upid in previous)),
                len(st.tasks),
            )
            self.n["later_walks"] += 1
            self.n["later_visits"] += len(self.visits)
            self.n["before_change"] += sum(1 for i in self.visits if i < changed)
            return w

        def visited(r: Any, st: Any, i: int, w: Any) -> None:
            self.visits.append(i)
            visit(r, st, i, w)

        reader.plan, reader._walk, reader._visit = planned, walked, visited

    def _known(self, r: Any, st: Any) -> set[str]:
        """The node's tasks whose log is known (counted apart from the plans' CPU)."""
        c0 = time.thread_time()
        known = {t.upid for t in st.tasks if t.upid in r.known or t.upid in r.cache}
        self.cpu["counting"] += time.thread_time() - c0
        return known

    def _apart(self) -> float:
        return sum(self.cpu[k] for k in (*_NESTED, "counting"))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            self.depth += 1
            c0 = time.thread_time()
            try:
                return method(*args)
            finally:
                self.depth -= 1
                if not self.depth:  # the outermost only: a nested one is in it
                    self.cpu[name] += time.thread_time() - c0

        return timed

    def line(self) -> str:
        counts = [f"{k}={self.n[k]}" for k in _COUNTS]
        cpu = [f"{k.strip('_')}_cpu_s={self.cpu[k]:.3f}" for k in _CPU]
        return "walks: " + " ".join(counts + cpu)


if __name__ == "__main__":
    main()
