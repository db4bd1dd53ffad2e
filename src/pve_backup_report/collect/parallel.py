"""Bounded worker pools that never hold up a timeout.

``with ThreadPoolExecutor()`` waits for running requests when an exception (such as the
run's timeout) leaves the block; a monitoring check must answer now instead. This pool
waits only on a normal exit, and otherwise cancels what has not started and leaves the
running requests to their own (shorter) timeout while the process exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def worker_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pve-api")
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
