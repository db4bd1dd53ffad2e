"""A GET on an open connection, its answer parsed by llhttp (``httptools``, in the
optional extra ``fast``); ``collect/http.py`` ``Transport._get_reused`` uses it when
``httptools`` is installed, ``http.client`` otherwise.

Why not ``http.client``: a cold check of a large cluster reads thousands of task logs, and
the CPU of each request, under the GIL, sets how fast the worker threads get through them.
300 task logs from the L simulator over HTTPS, one after the other, cost 0.70–0.76 ms of
CPU each; ``HTTPResponse.begin`` alone 0.23 ms of it (its header parsing goes through the
``email`` package), the request head built by ``putrequest`` and ``putheader`` 0.05 ms.
Sent as bytes built once per connection's origin and headers, and read with ``recv`` into
llhttp (Node.js's parser, C), the same request costs about half of that
(docs/performance.md). What is kept from ``http.client``: the request head (built by its
own methods, once: :func:`request_head`) and its exceptions, so that a failure is sorted
as before (``http._failed``): a connection closed before the answer is
``RemoteDisconnected``, an answer that is no HTTP ``BadStatusLine``, a body cut short
``IncompleteRead``.

What differs from ``http.client`` (neither is sent by pve-http-server, whose answers
carry a ``Content-Length`` and one value per header: ``PVE/APIServer/AnyEvent.pm``
``response``): llhttp strips the spaces at the end of a header value and refuses some
malformed heads ``http.client`` reads anyway (the request then fails as "connection").
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:
    import httptools
except ImportError:  # the extra ``fast`` is not installed
    httptools = None  # type: ignore[assignment]


def _llhttp(module: Any) -> bool:
    """httptools 0.5 or later (llhttp; ``pyproject.toml``'s minimum): older ones parse
    with the retired http-parser (Debian 12's python3-httptools is 0.1.1)."""
    found = getattr(module, "__version__", "0").split(".")[:2]
    return module is not None and tuple(int(p) if p.isdigit() else 0 for p in found) >= (0, 5)


AVAILABLE = _llhttp(httptools)
_RECV = 256 * 1024  # bytes asked of the socket at a time


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer as read: its status line, headers (names in lower case, the values of
    a repeated header joined by ", " as ``HTTPResponse.getheader`` joins them), the body
    as sent (not decompressed), and whether the connection may carry the next request."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    keep: bool


class BodyError(Exception):
    """``cause`` (an ``OSError``) ended the answer while its body was read."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Capture(http.client.HTTPConnection):
    """Never connects: keeps the bytes ``endheaders`` would send."""

    sent = b""

    def send(self, data: Any) -> None:
        self.sent += bytes(data)


@lru_cache(maxsize=16)
def _head_tail(
    host: str, port: int, default_port: int, headers: tuple[tuple[str, str], ...]
) -> bytes:
    """Everything of a GET's head after its request line, as ``http.client`` writes it
    for a connection to ``host:port`` (the ``Host`` header, then ``headers``)."""
    scratch = _Capture(host, port)
    scratch.default_port = default_port  # the Host header leaves the scheme's port out
    names = {name.lower() for name, _ in headers}
    scratch.putrequest(
        "GET", "/", skip_host="host" in names, skip_accept_encoding="accept-encoding" in names
    )
    for name, value in headers:
        scratch.putheader(name, value)
    scratch.endheaders()
    return scratch.sent.split(b"\r\n", 1)[1]


def request_head(conn: http.client.HTTPConnection, target: str, headers: dict[str, str]) -> bytes:
    """The head ``http.client`` sends for a GET of ``target`` (plain ASCII, checked by
    the caller) with ``headers`` on ``conn``: ``putrequest``, ``putheader``, ``endheaders``."""
    tail = _head_tail(conn.host, conn.port, conn.default_port, tuple(headers.items()))
    return b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + tail


class _Message:
    """llhttp's callbacks for one answer. A new message starts afresh: the answer after
    a ``100 Continue`` is read as ``http.client`` reads it, the 100 skipped."""

    def __init__(self) -> None:
        self.reason = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.head_done = False
        self.done = False

    def on_message_begin(self) -> None:
        self.__init__()  # type: ignore[misc]

    def on_status(self, part: bytes) -> None:
        self.reason += part

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, part: bytes) -> None:
        self.chunks.append(part)

    def on_message_complete(self) -> None:
        self.done = True


def exchange(sock: socket.socket, head: bytes) -> Reply:
    """Send ``head`` on ``sock`` and read the answer (the socket's timeout applies to
    each send and receive). Raises ``OSError`` (a timeout, a TLS error, a reset) or
    ``http.client.HTTPException`` as ``http.client`` would for the same failure."""
    assert httptools is not None
    msg = _Message()
    parser = httptools.HttpResponseParser(msg)
    sock.sendall(head)
    received = False
    while not msg.done:
        try:
            data = sock.recv(_RECV)
        except OSError as exc:
            if msg.head_done:
                raise BodyError(exc) from exc
            raise
        if not data:
            return _at_eof(msg, parser.get_status_code(), received)
        received = True
        _feed(parser, msg, data)
        if msg.done and parser.get_status_code() == 100:
            msg.done = False  # the answer follows: its message starts afresh
    reply = _reply(msg, parser.get_status_code(), keep=True)
    if _will_close(parser.get_http_version(), reply.headers):
        return Reply(reply.status, reply.reason, reply.headers, reply.body, keep=False)
    return reply


def _feed(parser: Any, msg: _Message, data: bytes) -> None:
    try:
        parser.feed_data(data)
    except httptools.HttpParserError as exc:
        if msg.head_done:  # a broken chunk: what http.client's _read_chunked raises
            raise http.client.IncompleteRead(b"".join(msg.chunks)) from exc
        raise http.client.BadStatusLine(str(exc)) from exc


def _at_eof(msg: _Message, status: int, received: bool) -> Reply:
    """The connection closed before llhttp saw the answer's end: a body that runs to the
    close is whole; anything else was cut (the errors ``http.client`` raises)."""
    if not received or not msg.head_done:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    body = b"".join(msg.chunks)
    if any(name.lower() == b"transfer-encoding" for name, _ in msg.fields):
        raise http.client.IncompleteRead(body)
    length = _header(msg.fields, b"content-length")
    if length is not None:
        raise http.client.IncompleteRead(body, max(0, int(length) - len(body)))
    return _reply(msg, status, keep=False)


def _will_close(version: str, headers: dict[str, str]) -> bool:
    """``HTTPResponse._check_close``: whether the connection ends with this answer (one
    whose body runs to the close never reaches here: ``_at_eof``)."""
    conn = headers.get("connection", "").lower()
    if version == "1.1":
        return "close" in conn
    if headers.get("keep-alive") or "keep-alive" in conn:
        return False
    return "keep-alive" not in headers.get("proxy-connection", "").lower()


def _header(fields: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [v.decode("iso-8859-1") for k, v in fields if k.lower() == name]
    return ", ".join(values) if values else None


def _reply(msg: _Message, status: int, keep: bool) -> Reply:
    headers: dict[str, str] = {}
    for name, value in msg.fields:
        key = name.decode("iso-8859-1").lower()
        text = value.decode("iso-8859-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    reason = msg.reason.decode("iso-8859-1").strip()
    return Reply(status, reason, headers, b"".join(msg.chunks), keep)
