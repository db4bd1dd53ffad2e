"""Request statistics for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RequestRecord", "SimulatorStats", "StatsCollector"]

MAX_RECORDS = 40_000  # an XL first report makes 30,097 requests (bench/run.py --least)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # below /api2/json, no query string
    query: str  # the raw query string
    status: int  # 0 when the connection was dropped without an answer


@dataclass(frozen=True)
class SimulatorStats:
    requests: int
    bytes_sent: int
    per_path: Mapping[str, int]
    records: tuple[RequestRecord, ...]  # the most recent requests, oldest first

    def count(self, path: str) -> int:
        return self.per_path.get(path, 0)


class StatsCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._bytes = 0
            self._per_path: Counter[str] = Counter()
            self._records: deque[RequestRecord] = deque(maxlen=MAX_RECORDS)

    def record(self, record: RequestRecord, bytes_sent: int) -> None:
        with self._lock:
            self._requests += 1
            self._bytes += bytes_sent
            self._per_path[record.path] += 1
            self._records.append(record)

    def snapshot(self) -> SimulatorStats:
        with self._lock:
            return SimulatorStats(
                self._requests, self._bytes, dict(self._per_path), tuple(self._records)
            )
