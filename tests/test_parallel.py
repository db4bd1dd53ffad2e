"""``collect.parallel``: bounded pools and calls given back in order."""

from __future__ import annotations

import threading
import time

import pytest

from pve_backup_report.collect.parallel import Ahead, in_order, worker_pool


def test_ahead_starts_the_calls_as_items_are_added() -> None:
    """A round's logs are asked while the next nodes are still being planned: the
    first ``ahead`` calls start at ``add``, before anything is taken back."""
    started: list[int] = []
    release = threading.Event()

    def call(i: int) -> int:
        started.append(i)
        release.wait(5)
        return i * 10

    with worker_pool(4) as pool:
        run = Ahead(pool, call, 2)
        for i in range(5):
            run.add(i)
        deadline = time.monotonic() + 5
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(started) == [0, 1]  # two started, three wait their turn
        assert len(run) == 5 and run.full
        release.set()
        assert list(run) == [(i, i * 10) for i in range(5)]
    assert sorted(started) == [0, 1, 2, 3, 4] and len(run) == 0


@pytest.mark.parametrize("ahead", [1, 3, 100])
def test_in_order_keeps_the_order_and_the_bound(ahead: int) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def call(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002 * (i % 3))
        with lock:
            running -= 1
        return -i

    with worker_pool(8) as pool:
        got = list(in_order(pool, call, range(20), ahead))
    assert got == [(i, -i) for i in range(20)]
    assert most <= min(ahead, 8)
