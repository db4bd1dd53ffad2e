"""Bounded worker pools that never hold up a timeout.

``with ThreadPoolExecutor()`` waits for running requests when an exception (such as the
run's timeout) leaves the block; a monitoring check must answer now instead. This pool
waits only on a normal exit, and otherwise cancels what has not started and leaves the
running requests to their own (shorter) timeout while the process exits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def worker_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pve-api")
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def in_order(
    pool: ThreadPoolExecutor, call: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[tuple[T, R]]:
    """``call(item)`` for each item on the pool, given back in the items' order, with at
    most ``ahead`` submitted and not yet given back: thousands of answers (task logs,
    guest configs) do not all wait in memory, nor thousands of futures."""
    waiting: deque[tuple[T, Future[R]]] = deque()
    for item in items:
        if len(waiting) >= max(1, ahead):
            done, future = waiting.popleft()
            yield done, future.result()
        waiting.append((item, pool.submit(call, item)))
    while waiting:
        done, future = waiting.popleft()
        yield done, future.result()
