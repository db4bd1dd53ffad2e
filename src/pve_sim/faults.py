"""Fault injection: the first scenario fault whose glob matches the path (and still has
``times`` left) applies to a request."""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Sequence

from pve_sim.scenario import FaultSpec

__all__ = ["FaultTable"]


class FaultTable:
    """Thread-safe matching with per-fault ``times`` counters."""

    def __init__(self, faults: Sequence[FaultSpec]) -> None:
        self._faults = tuple(faults)
        self._used = [0] * len(self._faults)
        self._lock = threading.Lock()

    def match(self, path: str) -> FaultSpec | None:
        """The fault for ``path`` (below /api2/json, no query); counts one use."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if not fnmatch.fnmatchcase(path, fault.path):
                    continue
                if fault.times is not None and self._used[i] >= fault.times:
                    continue
                self._used[i] += 1
                return fault
        return None
