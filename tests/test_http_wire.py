"""An answer read by llhttp (``collect/http_wire.py`` ``exchange``) is the one
``http.client`` reads from the same bytes: status, reason, the headers the transport
uses, body, whether the connection is kept; or the same error.

pve-http-server (``src/PVE/APIServer/AnyEvent.pm`` ``response``) writes CRLF line ends,
a ``Content-Length`` with every body (none when there is no content), and pushes
``Connection: Keep-Alive`` (``close`` for a status of 400 and over) onto the headers of
the ``HTTP::Response`` before ``headers_as_string``: "PVE's head" below. The other cases
go beyond it, to what a proxy in front of PVE may send.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.connection import HTTPConnection, HTTPSConnection

from pve_backup_report.collect import http_wire
from pve_backup_report.collect.http import _send_get

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
    "chunked, a trailer naming headers": (
        b"HTTP/1.1 302 Found\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n13\r\n" + BODY + b"\r\n0\r\n"
        b"Location: /elsewhere\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"
    ),
    "HTTP/1.0 chunked, a trailer saying keep-alive": (
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n"
        + BODY
        + b"\r\n0\r\nConnection: keep-alive\r\n\r\n"
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
    # found by the review
    "a 100, then the close": b"HTTP/1.1 100 Continue\r\n\r\n",
    "a 100 saying close, then the answer": (
        b"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n" + BODY
    ),
    "a 100 with a length": (
        b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n" + BODY
    ),
    "Connection twice, the first kept": (
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
        b"Content-Length: 19\r\n\r\n" + BODY
    ),
    "HTTP/1.0, Connection twice": (
        b"HTTP/1.0 200 OK\r\nConnection: x\r\nConnection: keep-alive\r\n"
        b"Content-Length: 19\r\n\r\n" + BODY
    ),
    "HTTP/1.0, an empty Keep-Alive first": (
        b"HTTP/1.0 200 OK\r\nKeep-Alive:\r\nKeep-Alive: timeout=5\r\n"
        b"Content-Length: 19\r\n\r\n" + BODY
    ),
    "Transfer-Encoding identity, to the close": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n" + BODY
    ),
}
# the same answer, and the connection closed rather than kept: what came after the
# answer (or a protocol switch) is not left for the next request
CLOSED_NOT_KEPT: dict[str, bytes] = {
    "a second answer after it": CASES["plain"]
    + b"HTTP/1.1 404 Nope\r\nContent-Length: 2\r\n\r\n{}",
    "garbage after it": CASES["plain"] + b"garbage",
    "a 102 first": b"HTTP/1.1 102 Processing\r\n\r\n" + CASES["plain"],
    "a 204 with a body": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
    "a 101": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    ),
}


def _outcome_http_client(sock: socket.socket) -> tuple[Any, ...]:
    """The answer, or where it failed ("head": "connection", "body": "truncated", as
    ``collect/http.py`` sorts them) and how."""
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
    except (http.client.HTTPException, OSError) as exc:
        return ("head", type(exc).__name__)
    try:
        body = resp.read()
    except (http.client.HTTPException, OSError) as exc:
        return ("body", type(exc).__name__)
    head = tuple(resp.getheader(n) for n in ("content-type", "content-encoding", "location"))
    return (resp.status, resp.reason.strip(), *head, body, not resp.will_close)


def _outcome_wire(sock: Any) -> tuple[Any, ...]:
    try:
        reply = http_wire.exchange(sock, b"GET / HTTP/1.1\r\n\r\n")
    except http_wire.BodyError as exc:
        return ("body", type(exc.cause).__name__)
    except http.client.IncompleteRead as exc:
        return ("body", type(exc).__name__)
    except (http.client.HTTPException, OSError) as exc:
        return ("head", type(exc).__name__)
    head = tuple(reply.headers.get(n) for n in ("content-type", "content-encoding", "location"))
    return (reply.status, reply.reason, *head, reply.body, reply.keep)


def _served(raw: bytes, read: Any) -> tuple[Any, ...]:
    """``read`` of one end of a socket pair, the other having sent ``raw`` and ended its
    side (what it is sent is left unread)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(5)

        def send() -> None:
            theirs.sendall(raw)
            theirs.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            return read(ours)  # type: ignore[no-any-return]
        finally:
            sender.join()


@pytest.mark.parametrize("case", list(CASES))
def test_llhttp_reads_what_http_client_reads(case: str) -> None:
    raw = CASES[case]
    assert _served(raw, _outcome_wire) == _served(raw, _outcome_http_client)


@pytest.mark.parametrize("case", list(CLOSED_NOT_KEPT))
def test_what_follows_the_answer_is_not_read(case: str) -> None:
    raw = CLOSED_NOT_KEPT[case]
    wire, plain = _served(raw, _outcome_wire), _served(raw, _outcome_http_client)
    assert wire[:-1] == plain[:-1]
    assert (wire[-1], plain[-1]) == (False, True)


def test_the_cases_say_what_they_test() -> None:
    got = {case: _served(raw, _outcome_wire) for case, raw in CASES.items()}
    assert got["plain"] == (200, "OK", None, None, None, BODY, True)
    assert got["a header twice"][4] == "/a, /b"  # getheader joins them
    assert got["a 100 Continue first"] == (200, "OK", None, None, None, BODY, True)
    assert got["chunked, with a trailer"][5] == BODY
    trailer = got["chunked, a trailer naming headers"]  # dropped, as http.client drops it
    assert trailer == (302, "Found", "application/json", None, None, BODY, True)
    assert got["HTTP/1.0 chunked, a trailer saying keep-alive"][-1] is False
    assert got["HTTP/1.0"][-1] is False and got["HTTP/1.0, kept alive"][-1] is True
    assert got["a body to the close"] == (200, "OK", None, None, None, BODY, False)
    assert got["a reason with spaces"][:2] == (500, "Internal  Error")
    cut = ("body", "IncompleteRead")
    assert got["a body cut short"] == got["a chunk cut short"] == cut
    assert got["a chunk size that is none"] == cut
    assert got["nothing"] == got["a 100, then the close"] == ("head", "RemoteDisconnected")
    assert got["no HTTP"] == ("head", "BadStatusLine")
    assert got["a 100 saying close, then the answer"][::5] == (200, BODY)
    assert got["a 100 with a length"][::5] == (200, BODY)
    assert got["Connection twice, the first kept"][-1] is True
    assert got["HTTP/1.0, Connection twice"][-1] is False
    assert got["HTTP/1.0, an empty Keep-Alive first"][-1] is False
    assert got["Transfer-Encoding identity, to the close"][-2:] == (BODY, False)
    after = {case: _served(raw, _outcome_wire) for case, raw in CLOSED_NOT_KEPT.items()}
    assert (
        after["a second answer after it"]
        == after["garbage after it"]
        == (*got["plain"][:-1], False)
    )
    assert after["a 102 first"][0] == 102
    assert after["a 204 with a body"][::5] == (204, b"")
    assert after["a 101"][0] == 101


@pytest.mark.parametrize(
    "head",
    [
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
        b"Transfer-Encoding: gzip, chunked",
    ],
)
def test_chunks_cut_by_the_close_are_cut(head: bytes) -> None:
    """llhttp takes the chunks apart whatever comes before ``chunked``; cut before the
    last chunk, the answer is "truncated", never a shorter body (``http.client`` returns
    the framing of such a body, which is no JSON: documented in the module)."""
    raw = b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n13\r\n" + BODY + b"\r\n"
    assert _served(raw, _outcome_wire) == ("body", "IncompleteRead")
    assert _served(raw + b"2\r\n{\r\n", _outcome_wire) == ("body", "IncompleteRead")


def test_ctrl_c_in_a_callback_is_not_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """httptools turns what a callback raises into a parser error: a ``KeyboardInterrupt``
    (or ``SystemExit``) met while reading is raised as itself."""

    def interrupted(self: Any, part: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(http_wire._Message, "on_body", interrupted)
    with pytest.raises(KeyboardInterrupt):
        http_wire.exchange(_Pieces([CASES["plain"]]), b"")  # type: ignore[arg-type]


class _Pieces:
    """A socket whose answer arrives in the given pieces, then ends."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, size: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


ALL = {**CASES, **CLOSED_NOT_KEPT}


@given(st.sampled_from(sorted(ALL)), st.lists(st.integers(0, 400), max_size=6))
def test_any_split_reads_the_same(case: str, cuts: list[int]) -> None:
    """However the bytes arrive (split anywhere, in any number of reads). What follows
    an answer may come after it was read: only the answer is the same then."""
    raw = ALL[case]
    bounds = sorted({min(c, len(raw)) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *bounds], [*bounds, len(raw)], strict=True)]
    whole = _outcome_wire(_Pieces([raw]))
    split = _outcome_wire(_Pieces([p for p in pieces if p]))
    if case in CASES:
        assert split == whole == _served(raw, _outcome_http_client)
    else:
        assert split[:-1] == whole[:-1]


@pytest.mark.parametrize(
    ("cls", "host", "port"),
    [
        (HTTPSConnection, "pve1.example.org", 8006),
        (HTTPSConnection, "PVE1.Example.org.", 443),  # the scheme's port left out
        (HTTPSConnection, "::1", 8006),  # bracketed
        (HTTPConnection, "127.0.0.1", 80),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "ua", "Accept-Encoding": "gzip", "Authorization": "PVEAPIToken=a=b"},
        {"User-Agent": "ua", "Host": "elsewhere"},  # the caller's Host, no Accept-Encoding
    ],
)
def test_the_head_is_the_one_http_client_sends(
    cls: type[HTTPConnection], host: str, port: int, headers: dict[str, str]
) -> None:
    """``request_head`` on a urllib3 connection (its ``host`` is urllib3's) is what
    ``collect/http.py`` ``_send_get`` sends through ``http.client`` on it."""
    conn = cls(host, port)
    sent: list[bytes] = []

    def send(data: Any) -> None:  # what http.client sends: bytes
        sent.append(bytes(data))

    conn.send = send  # type: ignore[method-assign]
    target = "/api2/json/nodes/pve1/tasks?start=0&limit=50"
    _send_get(conn, target, headers)
    http_client_head = sent.pop()
    assert http_wire.request_head(conn, target, headers) == http_client_head


def _tcp(script: Any) -> tuple[Any, Any]:
    """Both readers' outcomes against a TCP server running ``script(conn)`` on each
    connection (a reset needs TCP)."""
    server = socket.create_server(("127.0.0.1", 0))
    outcomes = []
    with server:
        for read in (_outcome_wire, _outcome_http_client):
            with socket.create_connection(server.getsockname()) as ours:
                ours.settimeout(0.5)
                theirs, _ = server.accept()
                thread = threading.Thread(target=script, args=(theirs,))
                thread.start()
                outcomes.append(read(ours))
                thread.join()
    return outcomes[0], outcomes[1]


HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n"


def _reset_in_body(conn: socket.socket) -> None:
    conn.sendall(HEAD + BODY[:5])
    time.sleep(0.2)  # read before the reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _silent_in_body(conn: socket.socket) -> None:
    conn.sendall(HEAD + BODY[:5])
    time.sleep(1)
    conn.close()


def _silent(conn: socket.socket) -> None:
    time.sleep(1)
    conn.close()


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (_reset_in_body, ("body", "ConnectionResetError")),
        (_silent_in_body, ("body", "TimeoutError")),
        (_silent, ("head", "TimeoutError")),
    ],
)
def test_a_failure_in_the_body_is_the_bodys(script: Any, expected: tuple[str, str]) -> None:
    """An ``OSError`` once the head is read fails the body ("truncated", or its own kind:
    a timeout), as ``collect/http.py`` ``_read`` sorts ``http.client``'s."""
    wire, plain = _tcp(script)
    assert wire == plain == expected


@pytest.mark.parametrize(
    ("version", "used"),
    [("0.9.0", True), ("0.5.0", False), ("0.10.1", True), ("0.1.1", False), ("1.0", True)],
)
def test_only_an_llhttp_httptools_is_used(version: str, used: bool) -> None:
    class Module:
        __version__ = version

    assert http_wire._llhttp(Module) is used
    assert http_wire._llhttp(None) is False
