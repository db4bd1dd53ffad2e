"""A GET on an open connection, its answer parsed by llhttp (``httptools``, in the
optional extra ``fast``); ``collect/http.py`` ``Transport._get_reused`` uses it when
``httptools`` is installed, ``http.client`` otherwise.

Why not ``http.client``: a cold check of a large cluster reads thousands of task logs, and
each request's CPU is spent under the GIL. 300 task logs from the L simulator over HTTPS,
one after the other (JSON decoding included), cost 0.80–0.95 ms of CPU each; of that,
``HTTPResponse.begin`` took 0.23 ms (its header parsing goes through the ``email``
package) and the request head built by ``putrequest`` and ``putheader`` 0.05 ms. Sent as
bytes built once per connection's origin and headers, and read with ``recv`` into llhttp
(Node.js's parser, C), the same request costs 0.60–0.76 ms: about a fifth less, in four
alternating pairs (docs/performance.md). What is kept from ``http.client``: the request
head (built by its own methods, once: :func:`request_head`) and its exceptions, so that a
failure is sorted as before (``http._failed``): a connection closed before the answer is
``RemoteDisconnected``, an answer that is no HTTP ``BadStatusLine``, a body cut short
``IncompleteRead``.

What differs from ``http.client``, none of it in what pve-http-server sends
(``src/PVE/APIServer/AnyEvent.pm`` ``response``: CRLF line ends; a ``Content-Length``
with every body, none when there is no content; ``Connection: Keep-Alive``, or
``close`` for a status of 400 and over; a 1xx, 204 or 304 without content), found by two
independent reviews comparing both readers on the same bytes:

* what is left out of the answer closes the connection rather than keeping it for the
  next request (``http.client`` would leave it there): bytes after the answer (a second
  answer, garbage, a body a 204 should not have), and the answer that follows a 1xx
  other than 100 (a 101, 102 or 103 is the answer, as with ``http.client``);
* llhttp refuses heads RFC 9112 forbids and ``http.client`` tolerates (the request then
  fails as "connection"): bare LF line ends, folded header lines, a space before a
  colon, ``HTTP/1.2``, a ``Content-Length`` that is not one number or comes with a
  ``Transfer-Encoding``, a control byte in a header value, a chunk size followed by a
  space, a head cut by the close; it reads some ``http.client`` refuses: more than 100
  headers, lines over 64 KiB, ``HTTP/2.0``, a status below 100, a CRLF before the
  status line;
* a ``Transfer-Encoding`` ending in ``chunked`` (``gzip, chunked``): llhttp takes the
  chunks apart and the connection may be kept, ``http.client`` returns their framing
  and closes; chunks cut by the close are "truncated" either way;
* a 204 or 304 saying ``Transfer-Encoding: chunked``, and a chunked body whose last
  CRLF is missing at the close: llhttp reads the first, refuses the second.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:
    import httptools
except ImportError:  # the extra ``fast`` is not installed
    httptools = None  # type: ignore[assignment]


def _llhttp(module: Any) -> bool:
    """httptools 0.9 or later (``pyproject.toml``'s minimum, the version the comparison
    with ``http.client`` was made with): 0.5 read ``HTTP/1.1  200 OK`` as status 0,
    before 0.5 it parsed with the retired http-parser (Debian 12 has 0.1.1)."""
    found = getattr(module, "__version__", "0").split(".")[:2]
    return module is not None and tuple(int(p) if p.isdigit() else 0 for p in found) >= (0, 9)


AVAILABLE = _llhttp(httptools)
# bytes asked of the socket at a time: a TLS read gives one record (16 KiB) at most; 256
# KiB raised a cold L check's peak RSS by 4 to 6 MB (each read allocates that much first)
_RECV = 64 * 1024


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


def request_head(
    conn: http.client.HTTPConnection, target: str, headers: Mapping[str, str]
) -> bytes:
    """The head ``http.client`` sends for a GET of ``target`` (plain ASCII, checked by
    the caller) with ``headers`` on ``conn``: ``putrequest``, ``putheader``, ``endheaders``."""
    tail = _head_tail(conn.host, conn.port, conn.default_port, tuple(headers.items()))
    return b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + tail


class _After(Exception):
    """Bytes after the answer began another message."""


class _Message:
    """llhttp's callbacks for one answer: a ``100 Continue`` before it is skipped, as
    ``http.client`` skips it; anything after it is not read (``extra``)."""

    def __init__(self, status_of: Callable[[], int] | None) -> None:
        self.status_of = status_of  # the parser's: None once the exchange is over
        self._fresh()
        self.done = False  # the answer is complete
        self.extra = False  # and bytes came after it

    def _fresh(self) -> None:
        self.reason = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.head_done = False
        self.chunked = False  # llhttp took the body apart in chunks

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True
            raise _After
        self._fresh()

    def on_status(self, part: bytes) -> None:
        self.reason += part

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # a chunked body's trailer is dropped, as http.client does
            self.fields.append((name, value))

    def on_chunk_header(self) -> None:
        self.chunked = True

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, part: bytes) -> None:
        self.chunks.append(part)

    def on_message_complete(self) -> None:
        assert self.status_of is not None
        if self.status_of() == 100:
            self._fresh()  # its head is not the answer's: the answer follows
        else:
            self.done = True  # any other status is the answer, 1xx too (http.client's)


def exchange(sock: socket.socket, head: bytes) -> Reply:
    """Send ``head`` on ``sock`` and read the answer (the socket's timeout applies to
    each send and receive). Raises ``OSError`` (a timeout, a TLS error, a reset),
    :class:`BodyError` around one met in the body, or ``http.client.HTTPException`` as
    ``http.client`` would for the same failure."""
    assert httptools is not None
    parser = httptools.HttpResponseParser(msg := _Message(None))
    parser.set_dangerous_leniencies(lenient_keep_alive=True)  # an answer after a 100 that
    # says "Connection: close" is read, as http.client reads it (nothing is sent after)
    msg.status_of = parser.get_status_code  # a cycle, broken below (no cyclic GC here)
    try:
        sock.sendall(head)
        received = False
        while not msg.done:
            data = _recv(sock, msg)
            if not data:
                return _at_eof(msg, parser.get_status_code(), received)
            received = True
            _feed(parser, msg, data)
        status = parser.get_status_code()
        # a 1xx answer (101, 102, 103) is followed by another: not kept, nor what follows
        keep = status >= 200 and not msg.extra
        keep = keep and not _will_close(parser.get_http_version(), msg.fields)
        return _reply(msg, status, keep)
    finally:
        msg.status_of = None


def _recv(sock: socket.socket, msg: _Message) -> bytes:
    try:
        return sock.recv(_RECV)
    except OSError as exc:
        if msg.head_done:
            raise BodyError(exc) from exc
        raise


def _feed(parser: Any, msg: _Message, data: bytes) -> None:
    """llhttp reads ``data``; what follows a complete answer is dropped, as ``http.client``
    drops what it buffered beyond it (the connection is then not kept: ``extra``)."""
    try:
        parser.feed_data(data)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
        cause = exc.__context__  # what a callback raised: Ctrl-C is not a transport error
        if cause is not None and not isinstance(cause, Exception):
            raise cause from None
        if msg.done:
            msg.extra = True  # after the answer: another message, or data after a close
            return
        if msg.head_done:  # a broken chunk: what http.client's _read_chunked raises
            raise http.client.IncompleteRead(b"".join(msg.chunks)) from exc
        raise http.client.BadStatusLine(str(exc)) from exc


def _at_eof(msg: _Message, status: int, received: bool) -> Reply:
    """The connection closed before llhttp saw the answer's end: a body that runs to the
    close is whole; anything else was cut (the errors ``http.client`` raises): chunks
    before their last, a ``Content-Length`` not reached."""
    if not received or not msg.head_done:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    body = b"".join(msg.chunks)
    if msg.chunked or (_first(msg.fields, b"transfer-encoding") or "").lower() == "chunked":
        raise http.client.IncompleteRead(body)  # chunks cut before the last one
    length = _first(msg.fields, b"content-length")
    if length is not None and length.strip().isdigit():
        raise http.client.IncompleteRead(body, max(0, int(length) - len(body)))
    return _reply(msg, status, keep=False)


def _will_close(version: str, fields: list[tuple[bytes, bytes]]) -> bool:
    """``HTTPResponse._check_close``, which reads the first value of each header: whether
    the connection ends with this answer (one whose body runs to the close never reaches
    here: ``_at_eof``)."""
    conn = (_first(fields, b"connection") or "").lower()
    if version == "1.1":
        return "close" in conn
    if _first(fields, b"keep-alive") or "keep-alive" in conn:
        return False
    return "keep-alive" not in (_first(fields, b"proxy-connection") or "").lower()


def _first(fields: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as ``email.message.Message.get``."""
    for key, value in fields:
        if key.lower() == name:
            return value.decode("iso-8859-1")
    return None


def _reply(msg: _Message, status: int, keep: bool) -> Reply:
    headers: dict[str, str] = {}
    for name, value in msg.fields:
        key = name.decode("iso-8859-1").lower()
        text = value.decode("iso-8859-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    reason = msg.reason.decode("iso-8859-1").strip()
    return Reply(status, reason, headers, b"".join(msg.chunks), keep)
