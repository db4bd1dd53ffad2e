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
from typing import Generic, TypeVar

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


class Ahead(Generic[T, R]):
    """``call(item)`` on the pool for each item added, given back in the order added, at
    most ``ahead`` submitted and not yet given back (the others wait their turn): the
    first calls run while the caller is still finding the next items."""

    def __init__(self, pool: ThreadPoolExecutor, call: Callable[[T], R], ahead: int) -> None:
        self._pool = pool
        self._call = call
        self._ahead = max(1, ahead)
        self._waiting: deque[tuple[T, Future[R]]] = deque()
        self._queued: deque[tuple[T, Future[R] | None]] = deque()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._queued)

    @property
    def full(self) -> bool:
        return len(self._waiting) >= self._ahead

    def add(self, item: T, started: Future[R] | None = None) -> None:
        """``call(item)`` in its turn; ``started``: that call, already submitted (its
        result is given back in the item's turn, and it counts in the bound from then)."""
        if self.full:
            self._queued.append((item, started))
        else:
            self._waiting.append((item, started or self._pool.submit(self._call, item)))

    def take(self) -> tuple[T, R]:
        """The oldest item and its call's result (waited for). The items waiting their
        turn start first, up to the bound: the one taken back before counts in it until
        the caller asks for the next."""
        while self._queued and not self.full:
            self.add(*self._queued.popleft())
        item, future = self._waiting.popleft()
        return item, future.result()

    def __iter__(self) -> Iterator[tuple[T, R]]:
        while self:
            yield self.take()


def in_order(
    pool: ThreadPoolExecutor, call: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[tuple[T, R]]:
    """``call(item)`` for each item on the pool, given back in the items' order, with at
    most ``ahead`` submitted and not yet given back: thousands of answers (task logs,
    guest configs) do not all wait in memory, nor thousands of futures."""
    run = Ahead(pool, call, ahead)
    for item in items:
        if run.full:
            yield run.take()
        run.add(item)
    yield from run
