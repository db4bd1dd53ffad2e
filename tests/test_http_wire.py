"""An answer read by llhttp (``collect/http_wire.py`` ``exchange``) is the one
``http.client`` reads from the same bytes: status, reason, the headers the transport
uses, body, whether the connection is kept; or the same error.

pve-http-server writes every answer with a ``Content-Length`` and no header twice
(``src/PVE/APIServer/AnyEvent.pm`` ``response``: ``HTTP::Response`` with
``Content-Length`` set, sent as ``$res->headers_as_string``); the cases below go beyond
it, to what a proxy in front of PVE may send.
"""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pve_backup_report.collect import http_wire

BODY = b'{"data": [1, 2, 3]}'
CASES: dict[str, bytes] = {
    "plain": b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n" + BODY,
    "PVE's head": (
        b"HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nConnection: Keep-Alive\r\n"
        b"Date: Sun, 06 Dec 2026 20:00:00 GMT\r\nPragma: no-cache\r\n"
        b"Server: pve-api-daemon/3.0\r\nContent-Length: 19\r\n"
        b"Content-Type: application/json;charset=UTF-8\r\n"
        b"Expires: Sun, 06 Dec 2026 20:00:00 GMT\r\n\r\n" + BODY
    ),
    "a header twice": (
        b"HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"
    ),
    "a 100 Continue first": (
        b"HTTP/1.1 100 Continue\r\nContent-Type: not/this\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n" + BODY
    ),
    "chunked, with a trailer": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n" + BODY[:5] + b"\r\ne\r\n" + BODY[5:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    ),
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 19\r\n\r\n" + BODY,
    "HTTP/1.0, kept alive": (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 19\r\n\r\n" + BODY
    ),
    "closed after it": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 19\r\n\r\n" + BODY,
    "a body to the close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
    "no body": b"HTTP/1.1 204 No Content\r\n\r\n",
    "a reason with spaces": b"HTTP/1.1 500  Internal  Error \r\nContent-Length: 0\r\n\r\n",
    "gzip, its type": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    ),
    "a body cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + BODY,
    "a chunk cut short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nabc",
    "a chunk size that is none": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"
    ),
    "nothing": b"",
    "no HTTP": b"hello there\r\n\r\n",
}


def _outcome_http_client(sock: socket.socket) -> tuple[Any, ...]:
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
        body = resp.read()
    except (http.client.HTTPException, OSError) as exc:
        return (type(exc).__name__,)
    head = tuple(resp.getheader(n) for n in ("content-type", "content-encoding", "location"))
    return (resp.status, resp.reason.strip(), *head, body, not resp.will_close)


def _outcome_wire(sock: Any) -> tuple[Any, ...]:
    try:
        reply = http_wire.exchange(sock, b"GET / HTTP/1.1\r\n\r\n")
    except (http.client.HTTPException, OSError) as exc:
        return (type(exc).__name__,)
    head = tuple(reply.headers.get(n) for n in ("content-type", "content-encoding", "location"))
    return (reply.status, reply.reason, *head, reply.body, reply.keep)


def _served(raw: bytes, read: Any) -> tuple[Any, ...]:
    """``read`` of one end of a socket pair, the other having sent ``raw`` and ended its
    side (what it is sent is left unread)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(5)
        sender = threading.Thread(
            target=lambda: (theirs.sendall(raw), theirs.shutdown(socket.SHUT_WR))
        )
        sender.start()
        try:
            return read(ours)  # type: ignore[no-any-return]
        finally:
            sender.join()


@pytest.mark.parametrize("case", list(CASES))
def test_llhttp_reads_what_http_client_reads(case: str) -> None:
    raw = CASES[case]
    assert _served(raw, _outcome_wire) == _served(raw, _outcome_http_client)


def test_the_cases_say_what_they_test() -> None:
    got = {case: _served(raw, _outcome_wire) for case, raw in CASES.items()}
    assert got["plain"] == (200, "OK", None, None, None, BODY, True)
    assert got["a header twice"][4] == "/a, /b"  # getheader joins them
    assert got["a 100 Continue first"] == (200, "OK", None, None, None, BODY, True)
    assert got["chunked, with a trailer"][5] == BODY
    assert got["HTTP/1.0"][-1] is False and got["HTTP/1.0, kept alive"][-1] is True
    assert got["a body to the close"] == (200, "OK", None, None, None, BODY, False)
    assert got["a reason with spaces"][:2] == (500, "Internal  Error")
    assert got["a body cut short"] == got["a chunk cut short"] == ("IncompleteRead",)
    assert got["a chunk size that is none"] == ("IncompleteRead",)
    assert got["nothing"] == ("RemoteDisconnected",)
    assert got["no HTTP"] == ("BadStatusLine",)


class _Pieces:
    """A socket whose answer arrives in the given pieces, then ends."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, size: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


@given(st.sampled_from(sorted(CASES)), st.lists(st.integers(0, 400), max_size=6))
def test_any_split_reads_the_same(case: str, cuts: list[int]) -> None:
    """However the bytes arrive (split anywhere, in any number of reads)."""
    raw = CASES[case]
    bounds = sorted({min(c, len(raw)) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *bounds], [*bounds, len(raw)], strict=True)]
    whole = _outcome_wire(_Pieces([raw]))
    assert _outcome_wire(_Pieces([p for p in pieces if p])) == whole
    assert whole == _served(raw, _outcome_http_client)


def test_the_head_is_http_clients() -> None:
    """``request_head`` is what ``putrequest``, ``putheader`` and ``endheaders`` send,
    with the Host header of the connection's port (the scheme's own left out)."""
    sent: list[bytes] = []

    class Sending(http.client.HTTPConnection):
        def send(self, data: Any) -> None:
            sent.append(bytes(data))

    headers = {"User-Agent": "ua", "Accept-Encoding": "gzip", "Authorization": "x=y"}
    for port, default in ((8006, 443), (443, 443), (80, 80)):
        conn = Sending("pve1.example.org", port)
        conn.default_port = default
        conn.putrequest("GET", "/api2/json/x?a=1", skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        assert http_wire.request_head(conn, "/api2/json/x?a=1", headers) == sent.pop()


@pytest.mark.parametrize(
    ("version", "used"), [("0.9.0", True), ("0.5.0", True), ("0.1.1", False), ("1.0", True)]
)
def test_only_an_llhttp_httptools_is_used(version: str, used: bool) -> None:
    class Module:
        __version__ = version

    assert http_wire._llhttp(Module) is used
    assert http_wire._llhttp(None) is False
