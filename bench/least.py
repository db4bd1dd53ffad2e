#!/usr/bin/env python3
"""The least a check's requests can cost a Python process (``bench/run.py --least``).

    PVE_HOST=... PVE_API_TOKEN_ID=... PVE_API_TOKEN_SECRET=... [PVE_CA_BUNDLE=...] \\
        python bench/least.py REQUESTS.json [--max-workers 16]

``REQUESTS.json`` is a list of ``[path, query]`` (below ``/api2/json``, unquoted), the
GETs one run of the check made (the simulator's ``/_simulator/stats?records=N``). They
are all asked at once, ``--max-workers`` at a time (the check's), one kept-alive
connection per worker (one TLS context for all, its CA loaded once), compressed as the
check asks; each answer is inflated, decoded (orjson when installed, as the check) and
kept in the least form the check needs: the guests by VMID, the newest snapshot per
backup group, the task lists as tuples, a log's lines, a guest's notes. The garbage
collector is off, as in the check while it builds its data. Nothing else: no plugin
code, no task cache, no analysis, no order between requests (the check's rounds wait on
answers; here none does). The process's CPU is a floor for a check in this interpreter
that makes the same requests with as many workers, its wall time one for their transfer.
Prints one line; exits 1 with one line when an answer is not a 200 or cannot be read.
The token secret is only sent, never printed.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import queue
import ssl
import threading
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

try:
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # the check's own fallback (collect/json_decode.py)
    loads = json.loads


TIMEOUT_S = 120  # per socket operation: a server that never answers ends the replay


class Replay:
    """The requests, a queue of them for the workers, and what went wrong (first only)."""

    def __init__(self, base: str, requests: list[tuple[str, str]]) -> None:
        split = urlsplit(base)
        self.host, self.port = split.hostname or "localhost", split.port
        self.tls = split.scheme == "https"
        self.prefix = split.path.rstrip("/") + "/api2/json"
        self.todo: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        for item in requests:
            self.todo.put(item)
        self.count = len(requests)
        self.failed: list[str] = []  # list.append is atomic: the workers add to them
        self.received: list[int] = []  # bytes, one sum per worker

    def connection(self, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        if self.tls:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=TIMEOUT_S, context=context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)


def least_form(path: str, data: Any) -> Any:
    """What the check keeps of an answer, in the cheapest form that holds it."""
    if path.endswith("/log"):
        return [item.get("t", "") for item in data]
    if path.endswith("/content"):
        newest: dict[tuple[int, str], tuple[int, Any, Any]] = {}
        for item in data:
            key = (item["vmid"], item["volid"].partition(":backup/")[2][:2])
            found = newest.get(key)
            if found is None or item["ctime"] > found[0]:
                newest[key] = (item["ctime"], item.get("size"), item.get("verification"))
        return newest
    if path.endswith("/tasks"):
        return [
            (t["upid"], t["starttime"], t.get("endtime"), t.get("status"), t.get("id"))
            for t in data
        ]
    if path.endswith("/config"):  # a guest's config: its notes
        return data.get("description") if isinstance(data, dict) else None
    if path == "/cluster/resources":
        return {g["vmid"]: (g["node"], g["type"], g.get("template"), g.get("pool")) for g in data}
    return data


def worker(replay: Replay, context: ssl.SSLContext | None, headers: dict[str, str]) -> None:
    """Ask the queued requests on one connection until none is left or one failed."""
    conn = replay.connection(context)
    received = 0
    try:
        while not replay.failed:
            try:
                path, query = replay.todo.get_nowait()
            except queue.Empty:
                break
            target = quote(replay.prefix + path, safe="/:@!$&'()*+,;=~")
            conn.request("GET", target + (f"?{query}" if query else ""), headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise ValueError(f"{path}: HTTP {answer.status}")
            received += len(body)
            if answer.getheader("Content-Encoding") == "gzip":
                body = zlib.decompress(body, 31)
            least_form(path, loads(body)["data"])
    except Exception as exc:  # one line for the caller, never a header
        replay.failed.append(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
        replay.received.append(received)


def read_requests(path: str) -> list[tuple[str, str]]:
    """The ``[path, query]`` pairs of the file; ValueError for anything else."""
    with open(path, encoding="utf-8") as f:
        listed = json.load(f)
    if not isinstance(listed, list) or not all(
        isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
        for item in listed
    ):
        raise ValueError(f"{path}: not a list of [path, query]")
    return [(p, q) for p, q in listed]


def redacted(text: str) -> str:
    """``text`` without the token secret (an error may quote the header it is in)."""
    secret = os.environ.get("PVE_API_TOKEN_SECRET", "")
    for form in (secret, secret.strip()):  # a header error quotes it as bytes' repr
        if form:
            text = text.replace(form, "<secret>")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", help="JSON list of [path, query]")
    parser.add_argument("--max-workers", type=int, default=16)
    args = parser.parse_args(argv)
    replay = Replay(os.environ["PVE_HOST"], read_requests(args.requests))
    token = f"{os.environ['PVE_API_TOKEN_ID']}={os.environ['PVE_API_TOKEN_SECRET']}"
    headers = {"Authorization": f"PVEAPIToken={token}", "Accept-Encoding": "gzip"}
    gc.disable()
    ca = os.environ.get("PVE_CA_BUNDLE")
    context = ssl.create_default_context(cafile=ca) if replay.tls else None
    threads = [
        threading.Thread(target=worker, args=(replay, context, headers))
        for _ in range(max(1, min(args.max_workers, replay.count)))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if replay.failed:
        print(f"least: {redacted(replay.failed[0])}")
        return 1
    # the check's perfdata label, which bench/run.py reads
    print(f"least: {replay.count} answers, {sum(replay.received)} bytes "
          f"| api_requests={replay.count}")  # fmt: skip
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (OSError, ValueError, KeyError) as exc:  # the environment or the request file
        print(f"least: {type(exc).__name__}: {redacted(str(exc))}")
        raise SystemExit(1) from None
