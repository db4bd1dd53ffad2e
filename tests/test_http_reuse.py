"""Requests on an open connection go through ``http.client`` alone and end as urllib3
would have ended them.

``collect/http.py`` ``Transport._get_reused`` answers a GET on a connection urllib3
opened before (it verified the certificate then); urllib3 opens connections and retries
a 502, 503 or 504. Each case is run twice against a small keep-alive HTTP/1.1 server:
with the reuse, and with urllib3 alone (``_get_reused`` left out); the answers, the
errors and the requests the server saw must be the same, and with the reuse urllib3 must
have sent only the requests that opened a connection, retried a status or went to a
URL it would have sent otherwise (found by an independent review: a redirect to a URL
without a path, a fragment or dot segments, the backoff of a 503's retries, a body in
two gzip members, a body sent twice, a request sent again after no answer; a second
review: a connection kept after a broken chunk, a retry sent with none left, a host
part ending at a backslash).
"""

from __future__ import annotations

import gzip
import io
import json
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util.retry import Retry
from urllib3.util.url import _encode_target, parse_url

from pve_backup_report.collect import http, http_wire
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.errors import ApiError
from test_pve_client import CANARY, TOKEN

# gzipped, over twice what one read of the socket takes (``http_wire._RECV``)
BIG = json.dumps({"data": random.Random(17).randbytes(600_000).hex()}).encode()
assert len(gzip.compress(BIG)) > 2 * http_wire._RECV


class _KeepAlive(BaseHTTPRequestHandler):
    """``/json``, ``/gzip``, ``/deflate`` answer ``{"data": path}`` (compressed so),
    ``/multigz`` in two gzip members, ``/badchunk`` a chunk size that is none (then
    a stale answer on the same connection), ``/badgz`` with a body that is no gzip; ``/cut``
    announces 100 bytes and sends 10; ``/hang`` answers after 2 s; ``/drop`` closes
    without an answer; ``/busy`` is a 503; ``/nopath`` redirects to the server's URL
    without a path, ``/dots`` to ``/a/./b/../c``; ``/continue`` sends a 100 Continue
    first, ``/toclose`` a body that runs to the close, ``/old`` an HTTP/1.0 answer,
    ``/big`` a large gzip body, ``/chunked`` a chunked one, ``/huge`` a Content-Length
    beyond 2**63 (``_beyond_pve``)."""

    protocol_version = "HTTP/1.1"
    hits: ClassVar[list[str]] = []
    heads: ClassVar[list[tuple[str, list[tuple[str, str]]]]] = []  # request line, headers
    connections: ClassVar[list[int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def do_GET(self) -> None:
        path = self.path.removeprefix("/api2/json").split("?")[0]
        self.hits.append(path)
        address = cast("tuple[str, int]", self.server.server_address)
        port = f":{address[1]}"  # each run has its own server
        self.heads.append(
            (self.requestline, [(k, v.replace(port, ":PORT")) for k, v in self.headers.items()])
        )
        body = json.dumps({"data": path}).encode()
        codings: dict[str, Callable[[bytes], bytes]] = {
            "/gzip": gzip.compress,
            "/deflate": zlib.compress,
        }
        coding = codings.get(path)
        if path == "/hang":
            time.sleep(2)
        if path == "/drop":
            self.close_connection = True
        elif path in ("/nopath", "/dots"):
            here = f"http://127.0.0.1:{address[1]}"
            to = here if path == "/nopath" else f"{here}/api2/json/a/./b/../c"
            self._send(302, b"", {"Location": to})
        elif path == "/badchunk":  # a chunk size that is none, then a stale answer
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"
            )
            self.wfile.flush()
            time.sleep(0.2)
            self._send(200, b'{"data": "stale"}', {})
        elif self._beyond_pve(path, body):
            pass
        elif path == "/multigz":
            self._send(
                200, gzip.compress(body[:5]) + gzip.compress(body[5:]), {"Content-Encoding": "gzip"}
            )
        elif path == "/badgz":
            self._send(200, b"not gzip", {"Content-Encoding": "gzip"})
        elif path == "/busy":
            self._send(503, b'{"data": null}', {})
        elif path == "/cut":
            self._send(200, body[:10], {"Content-Length": "100"})
            self.close_connection = True
        elif coding is not None:
            self._send(200, coding(body), {"Content-Encoding": path[1:]})
        else:
            self._send(200, body, {})

    def _beyond_pve(self, path: str, body: bytes) -> bool:
        """What pve-http-server never sends, read as urllib3 reads it; False: not one."""
        if path == "/continue":  # a 100 Continue first, skipped
            self.wfile.write(b"HTTP/1.1 100 Continue\r\nX-Not: the answer's\r\n\r\n")
            self._send(200, body, {})
        elif path in ("/toclose", "/old"):  # a body to the close; HTTP/1.0, not kept
            line = (
                b"HTTP/1.1 200 OK\r\nConnection: close"
                if path == "/toclose"
                else (b"HTTP/1.0 200 Fine \r\nContent-Length: %d" % len(body))
            )
            self.wfile.write(line + b"\r\nContent-Type: application/json\r\n\r\n" + body)
            self.close_connection = True
        elif path == "/big":  # read in many pieces
            self._send(200, gzip.compress(BIG), {"Content-Encoding": "gzip"})
        elif path == "/huge":  # a Content-Length no read can reach
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n{")
            self.close_connection = True
        elif path == "/chunked":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (body[:7], body[7:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            return False
        return True

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (``/hang``)
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def server() -> Iterator[tuple[str, type[_KeepAlive]]]:
    handler = type("Handler", (_KeepAlive,), {"hits": [], "heads": [], "connections": []})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(autouse=True, params=["llhttp", "http.client"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: the answers on an open connection read by llhttp
    (``collect/http_wire.py``, when ``httptools`` is installed), then by ``http.client``."""
    if request.param == "llhttp":
        assert http_wire.AVAILABLE, "httptools (the extra 'fast') is needed for the tests"
    else:
        monkeypatch.setattr(http_wire, "AVAILABLE", False)
    return str(request.param)


def _run(paths: list[str], reuse: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """GET ``paths`` one after the other; the answers (or error texts), the server's
    hits and connections, and how many requests urllib3 sent."""
    sent: list[str] = []
    plain = http.Transport._get_once

    def counted(self: http.Transport, url: str, *args: Any) -> http.Answer:
        sent.append(url)
        return plain(self, url, *args)

    with monkeypatch.context() as m:
        m.setattr(http.Transport, "_get_once", counted)
        if not reuse:
            m.setattr(http.Transport, "_get_reused", lambda self, url, headers: None)
        with server() as (url, handler):
            settings = Settings(
                hosts=(url,), token_id=TOKEN, token_secret=Secret(CANARY), request_timeout=1
            )
            answers: list[Any] = []
            with PveClient(settings) as client:
                started = time.monotonic()
                for path in paths:
                    try:
                        answers.append(client.get(path))
                    except ApiError as exc:
                        host = url.split("//")[1]
                        answers.append(f"{type(exc).__name__}: {exc}".replace(host, "HOST"))
            return {
                "answers": answers,
                "hits": list(handler.hits),
                "heads": list(handler.heads),
                "connections": len(handler.connections),
                "urllib3": len(sent),
                "seconds": time.monotonic() - started,
            }


CASES: dict[str, tuple[list[str], int, int]] = {
    # paths, and how many requests urllib3 sends for them alone and with the reuse
    "plain": (["/json", "/json", "/json"], 3, 1),
    "gzip and deflate": (["/json", "/gzip", "/deflate", "/gzip"], 4, 1),
    "a body cut short": (["/json", "/cut", "/json"], 3, 2),  # the cut closed the connection
    "a timeout": (["/json", "/hang", "/json"], 3, 2),  # the timeout closed it
    "a 503, retried by urllib3": (["/json", "/busy", "/json"], 3, 2),
    "closed without an answer": (["/json", "/drop", "/json"], 3, 2),
    "a broken chunk": (["/json", "/badchunk", "/json"], 3, 2),  # its connection closed
    "two gzip members": (["/json", "/multigz"], 2, 1),
    "no gzip": (["/json", "/badgz", "/json"], 3, 1),  # read to its end: kept, as urllib3 does
    # to a URL without a path, and one urllib3 normalises: both sent by urllib3
    "redirects": (["/json", "/nopath", "/dots"], 5, 3),
    "a 100 Continue before the answer": (["/json", "/continue", "/json"], 3, 1),
    "a body that runs to the close": (["/json", "/toclose", "/json"], 3, 2),
    "an HTTP/1.0 answer": (["/json", "/old", "/json"], 3, 2),  # the server closed it
    "a Content-Length beyond 2**63": (["/json", "/huge", "/json"], 3, 2),
    "a large body, then a chunked one": (["/json", "/big", "/chunked", "/json"], 4, 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reused_connection_ends_as_urllib3(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, by_urllib3_alone, by_urllib3 = CASES[case]
    alone = _run(paths, reuse=False, monkeypatch=monkeypatch)
    reused = _run(paths, reuse=True, monkeypatch=monkeypatch)
    assert reused["answers"] == alone["answers"]
    assert reused["hits"] == alone["hits"]
    assert reused["heads"] == alone["heads"]  # the same request line and headers, in order
    assert reused["connections"] == alone["connections"]
    assert alone["urllib3"] == by_urllib3_alone
    assert reused["urllib3"] == by_urllib3


def test_cases_say_what_they_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answers themselves: decoded bodies, the truncation, the timeout, the three
    tries of a 503 (``Retry(total=3, status=2)`` in ``PveClient``)."""

    def got(case: str) -> dict[str, Any]:
        return _run(CASES[case][0], reuse=True, monkeypatch=monkeypatch)

    assert got("gzip and deflate")["answers"] == ["/json", "/gzip", "/deflate", "/gzip"]
    cut = got("a body cut short")["answers"][1]
    assert cut == (
        "ApiConnectionError: /cut: connection to HOST closed before the full answer "
        "(truncated body)"
    )
    assert got("a timeout")["answers"][1] == "ApiTimeout: /hang: no answer from HOST within 1s"
    busy = got("a 503, retried by urllib3")
    assert busy["hits"] == ["/json", "/busy", "/busy", "/busy", "/json"]
    assert busy["answers"][1].startswith("ApiHttpError: /busy")
    assert busy["seconds"] >= 0.4  # urllib3's backoff before the third try (0.2 × 2)
    drop = got("closed without an answer")
    assert drop["hits"] == ["/json", "/drop", "/json"]  # not sent again
    assert drop["answers"][1] == (
        "ApiConnectionError: /drop: cannot connect to HOST: connection closed without an answer"
    )
    assert got("two gzip members")["answers"] == ["/json", "/multigz"]
    assert got("a broken chunk")["answers"] == [
        "/json",
        "ApiConnectionError: /badchunk: connection to HOST closed before the full answer "
        "(truncated body)",
        "/json",  # not the stale answer left on the broken connection
    ]
    assert got("no gzip")["hits"] == ["/json", "/badgz", "/json"]
    assert got("redirects")["answers"] == ["/json", "/", "/a/c"]
    assert got("a 100 Continue before the answer")["answers"] == ["/json", "/continue", "/json"]
    assert got("a body that runs to the close")["answers"][1] == "/toclose"
    assert got("an HTTP/1.0 answer")["answers"][1] == "/old"
    assert got("a Content-Length beyond 2**63")["answers"][1] == (  # no internal error
        "ApiConnectionError: /huge: cannot connect to HOST: connection closed without an answer"
    )  # as for any answer that is no HTTP (urllib3's "Connection aborted.")
    big = json.loads(BIG)["data"]
    assert got("a large body, then a chunked one")["answers"] == ["/json", big, "/chunked", "/json"]


def test_no_status_retry_left_returns_the_first_answer() -> None:
    """With no status retry left (``Retry(status=0)``), the first 503 on an open
    connection is the answer, as urllib3 alone returns it: no second request."""
    retry = Retry(total=3, status=0, status_forcelist=(503,), raise_on_status=False)
    with server() as (url, handler):
        transport = http.Transport(pool_size=2, retry=retry, timeout=5, tls={})
        assert transport.get(f"{url}/api2/json/json", {}).status == 200
        assert transport.get(f"{url}/api2/json/busy", {}).status == 503
        assert handler.hits == ["/json", "/busy"]


class _Counting:
    """A keep-alive server answering every GET with the same JSON; it counts the
    connections opened and those still open, and keeps each request head as sent."""

    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api2/json/x"
        self.opened = self.closed = 0
        self.heads: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.opened += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        self.closed += 1
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.heads.append(head.replace(self.url.split("/")[2].encode(), b"HOST"))
                conn.sendall(self.answer)

    def open_now(self, expected: int) -> int:
        """The connections open, once they are ``expected`` (a close reaches the server
        soon) or after 2 s."""
        deadline = time.monotonic() + 2
        while self.opened - self.closed != expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.opened - self.closed


def _transports(monkeypatch: pytest.MonkeyPatch) -> Iterator[http.Transport]:
    """A transport with the reuse, then one with urllib3 alone."""
    yield http.Transport(pool_size=2, retry=Retry(0), timeout=5, tls={})
    monkeypatch.setattr(http.Transport, "_get_reused", lambda self, url, headers: None)
    yield http.Transport(pool_size=2, retry=Retry(0), timeout=5, tls={})


UA = {"User-Agent": "check_pve_backup/x"}


def test_close_closes_the_connections_and_the_next_request_opens_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Transport.close`` (the manager's ``clear``) lets the pools go, and urllib3 closes
    a pool once nothing refers to it: ``_pools`` (weak) does not keep one. The next
    request then opens (and verifies) a new connection, with and without the reuse
    (found by the third review: a plain dict kept the old connection in use)."""
    for transport in _transports(monkeypatch):
        server = _Counting()
        for _ in range(3):
            assert transport.get(server.url, UA).status == 200
        assert (server.opened, server.open_now(1)) == (1, 1)
        transport.close()
        assert server.open_now(0) == 0
        assert transport.get(server.url, UA).status == 200
        assert transport.get(server.url, UA).status == 200
        assert (server.opened, server.open_now(1)) == (2, 1)


def test_pools_the_manager_drops_keep_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six origins for a manager of four pools: the two it dropped keep no connection
    open, with the reuse as with urllib3 alone."""
    for transport in _transports(monkeypatch):
        servers = [_Counting() for _ in range(6)]
        open_after = [0, 0, 1, 1, 1, 1]
        for server in servers:
            assert transport.get(server.url, UA).status == 200
            assert transport.get(server.url, UA).status == 200
        assert [s.open_now(e) for s, e in zip(servers, open_after, strict=True)] == open_after


@pytest.mark.parametrize("headers", [UA, {}, {"Host": "h", "Accept-Encoding": "gzip"}])
def test_the_request_head_is_urllib3s(
    headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request (on the open connection) goes out as urllib3 sends it; without
    a User-Agent (urllib3 adds its own) it is left to urllib3."""
    heads = []
    for transport in _transports(monkeypatch):
        server = _Counting()
        for _ in range(2):
            assert transport.get(server.url, headers).status == 200
        heads.append(server.heads)
    assert heads[0] == heads[1]


@pytest.mark.parametrize(
    "url",
    [
        "http://a\\@127.0.0.1/api2/json/x",  # urllib3 connects to "a"
        "http://127.0.0.1:8006",  # no path
        "HTTPS://h:8006/api2/json/x",
        "https://h:8006/api2/json/x#frag",
        "https://h:8006/api2/json/a/../b",
        "https://h:8006/api2/json/a/./b",
        "https://h:8006/api2/json/x/.",
        "https://h:8006/api2/json/%7Ex",
        "https://h:8006/api2/json/[x]",
        "https://h:8006/api2/json/é",
    ],
)
def test_urls_urllib3_would_rewrite_are_left_to_it(url: str) -> None:
    assert http._REUSABLE.fullmatch(url) is None


@given(st.text(st.sampled_from("az09-._~!$&'()*+,;=:@/?%#[]\\ é"), max_size=24))
def test_a_reused_target_is_the_one_urllib3_sends(tail: str) -> None:
    """``_REUSABLE`` accepts only URLs whose request target urllib3 sends unchanged
    (``_encode_target`` of ``parse_url(url).request_uri``, as its pool does)."""
    url = f"https://pve1.example.org:8006/api2/json/{tail}"
    found = http._REUSABLE.fullmatch(url)
    if found is not None:
        assert found.group(1) == _encode_target(parse_url(url).request_uri)


def _urllib3_decoded(coding: str, body: bytes) -> bytes | str:
    """What urllib3's own decoder makes of the body (its error's class name if none)."""
    resp = urllib3.HTTPResponse(
        io.BytesIO(body), headers={"content-encoding": coding}, preload_content=False
    )
    try:
        return resp.read(decode_content=True)
    except urllib3.exceptions.HTTPError as exc:
        return type(exc).__name__


_JSON = json.dumps({"data": [{"n": i, "t": f"INFO: line {i}"} for i in range(200)]}).encode()
_RAW = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)


@pytest.mark.parametrize(
    ("coding", "body", "fast"),
    [
        ("gzip", gzip.compress(_JSON, mtime=0), True),  # what pve-http-server sends
        ("deflate", zlib.compress(_JSON), True),  # Compress::Zlib::compress: zlib format
        ("gzip", gzip.compress(_JSON[:99]) + gzip.compress(_JSON[99:]), False),
        ("gzip", gzip.compress(_JSON) + b"trailing", False),
        ("gzip", gzip.compress(_JSON)[:-20], False),  # cut short
        ("gzip", b"not gzip", False),
        ("deflate", _RAW.compress(_JSON) + _RAW.flush(), False),  # raw deflate
        ("x-gzip", gzip.compress(_JSON), False),  # urllib3 1.26 does not decode it
        ("GZIP", gzip.compress(_JSON), True),  # urllib3 takes the value lower-cased ...
        ("gzip ", gzip.compress(_JSON), False),  # ... not stripped
    ],
)
def test_zlib_inflates_only_what_urllib3_would_give_the_same(
    coding: str, body: bytes, fast: bool
) -> None:
    """``http._inflated`` answers for one whole gzip member or zlib stream, as urllib3's
    decoder does; everything else goes on to urllib3 (None), as before."""
    got = http._inflated(coding.lower(), body)
    if fast:
        assert got == _JSON == _urllib3_decoded(coding, body)
    else:
        assert got is None
