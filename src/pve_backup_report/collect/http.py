"""HTTP transport of the API clients: urllib3, behaving as the ``requests`` session did;
a request on a connection urllib3 already opened is sent with ``http.client`` alone
(``Transport._get_reused``).

The clients used a ``requests.Session``, which adds about 0.6 ms of CPU to every request
over the urllib3 underneath (measured: 1.45 ms against 0.88 ms per GET); a cold check of
a large cluster makes thousands of requests from many threads under the GIL. So the
clients call urllib3 directly, and this module keeps what the session did for them:

* the headers: requests' defaults (``Accept-Encoding``, ``Connection: keep-alive``) plus
  the client's own; no proxies and no ``.netrc`` (urllib3 reads neither);
* TLS: the CA bundle given, else certifi's (what requests used), or no verification, or
  a pinned SHA-256 fingerprint (urllib3's ``assert_fingerprint``);
* the query string as requests encoded ``params`` (``None`` dropped, sequences repeated)
  and its re-quoting of the URL;
* redirects followed as requests did (at most 30, the ``Authorization`` header dropped
  when the host, port or scheme changes);
* the body read outside urllib3's retries (a broken body is not retried), and its JSON
  decoded with the charset of ``Content-Type`` (invalid bytes replaced, not fatal);
* errors sorted as requests raised them and the client caught them (:func:`send_error`,
  :func:`read_error`): TLS, timeout, truncated body, any other connection failure.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import ssl
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast
from urllib.parse import quote, urlencode, urljoin, urlparse, urlunparse
from weakref import WeakValueDictionary

import urllib3
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import make_headers, parse_url
from urllib3.util.retry import RequestHistory, Retry
from urllib3.util.ssl_ import ALPN_PROTOCOLS, create_urllib3_context, resolve_cert_reqs

from pve_backup_report.collect import http_wire
from pve_backup_report.collect.json_decode import UNDECODED, decode_fast, standard_loads

ErrorKind = Literal["tls", "timeout", "truncated", "connection"]

MAX_REDIRECTS = 30  # requests' Session.max_redirects
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# requests' Accept-Encoding: urllib3's list (gzip, deflate, and br/zstd when available)
ACCEPT_ENCODING = ", ".join(
    re.split(r",\s*", make_headers(accept_encoding=True)["accept-encoding"])
)
# A URL made only of these characters is left as it is by requests' re-quoting.
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!#$&'()*+,/:;=?@\[\]]*")
# A URL whose request target urllib3 sends as it is (no dot segment, fragment, bracket
# or percent-escape for it to normalise): only these are sent on a reused connection.
_REUSABLE = re.compile(r"https?://[^/?#\\]+(/(?:[A-Za-z0-9\-_~!$&'()*+,;=:@/?]|\.(?![./?]|$))*)")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class TransportError(Exception):
    """A request that got no complete answer: ``kind`` says how, ``cause`` is urllib3's."""

    def __init__(self, kind: ErrorKind, cause: Exception) -> None:
        super().__init__(kind)
        self.kind: ErrorKind = kind
        self.cause = cause


class TooManyRedirects(Exception):
    """More than :data:`MAX_REDIRECTS` redirects (requests' message)."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, its body read (and decompressed)."""

    status: int
    reason: str | None
    content: bytes
    content_type: str | None
    location: str | None = None  # where a redirect points

    def json(self) -> Any:
        """The body as JSON, decoded as requests' ``Response.json()`` did; ValueError if not."""
        return decode_json(self.content, self.content_type)


def session_headers(user_agent: str, authorization: str) -> dict[str, str]:
    """The headers the requests session sent, in its order."""
    return {
        "User-Agent": user_agent,
        "Accept-Encoding": ACCEPT_ENCODING,
        "Accept": "application/json",
        "Connection": "keep-alive",
        "Authorization": authorization,
    }


def tls_pool_options(
    verify_tls: bool, ca_bundle: str | None, fingerprint: str | None
) -> dict[str, Any]:
    """urllib3 pool options for the TLS mode: pinned, not verified, or verified."""
    if fingerprint:
        return {"cert_reqs": "CERT_NONE", "assert_fingerprint": fingerprint}
    if not verify_tls:
        return {"cert_reqs": "CERT_NONE"}
    bundle = ca_bundle or _certifi_bundle()
    if bundle is None:  # no certifi: the system store
        return {"cert_reqs": "CERT_REQUIRED"}
    where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
    return {"cert_reqs": "CERT_REQUIRED", where: bundle}


def _certifi_bundle() -> str | None:
    """certifi's CA file, which requests verified against (distributions point it at the
    system store)."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi is a dependency
        return None
    return str(certifi.where())


class _SharedContext(ssl.SSLContext):
    """A TLS context shared by the run's threads. urllib3 sets its ALPN list again on
    every connection it opens (``util/ssl_.py`` ``ssl_wrap_socket``): OpenSSL frees and
    replaces the context's copy while another thread's ``SSL_new``, which CPython runs
    without the GIL, may be copying it (python/cpython#141012, a use-after-free: one
    ClientHello in about 100,000 went out with freed bytes for its ALPN extension in a
    review's stress test). The list is set once, before any thread uses the context
    (``shared_tls``); the same list again changes nothing."""

    _alpn: tuple[str, ...] | None = None

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        protocols = tuple(alpn_protocols)
        if protocols != self._alpn:
            super().set_alpn_protocols(protocols)
            self._alpn = protocols


def shared_tls(tls: Mapping[str, Any]) -> dict[str, Any]:
    """The pool options ``tls`` (:func:`tls_pool_options`) with one TLS context, its CA
    store loaded once, for every connection; ``tls`` itself when that context cannot be
    made (an unreadable CA file), so that the connection fails as before, with its error.

    Given CA files and no context, urllib3 makes a context for each connection it opens
    and loads the CA store into it (``_ssl_wrap_socket_and_match_hostname``,
    ``ssl_wrap_socket``): certifi's bundle, the default, took 19 ms of CPU each time, and
    a run opens up to ``--max-workers`` connections per host (docs/performance.md).
    requests (2.32 on) shares one context loaded once for the same reason. The context
    is urllib3's own (``create_urllib3_context``); urllib3 still sets its ``verify_mode``
    from ``cert_reqs`` (kept in the options, the value it already has) and checks the
    host name or the pinned fingerprint on each connection, as before.
    """
    reqs = resolve_cert_reqs(tls.get("cert_reqs"))
    try:
        context = create_urllib3_context(cert_reqs=reqs)
        if reqs == ssl.CERT_REQUIRED:
            cafile, capath = tls.get("ca_certs"), tls.get("ca_cert_dir")
            if cafile or capath:
                context.load_verify_locations(cafile, capath)
            else:  # no certifi: the system store, as urllib3 loads it then
                context.load_default_certs()
    except (ssl.SSLError, OSError, ValueError):
        return dict(tls)
    if type(context) is ssl.SSLContext:  # not pyOpenSSL's (urllib3.contrib.pyopenssl)
        context.__class__ = _SharedContext  # the same object, its ALPN list set once
    context.set_alpn_protocols(ALPN_PROTOCOLS)  # before any thread uses it
    kept = {k: v for k, v in tls.items() if k not in ("ca_certs", "ca_cert_dir")}
    return {**kept, "ssl_context": context}


class Transport:
    """GETs through one urllib3 pool manager (thread-safe); every error a TransportError."""

    def __init__(
        self, *, pool_size: int, retry: Retry, timeout: float, tls: Mapping[str, Any]
    ) -> None:
        options = shared_tls(tls)
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, block=False, **options)
        # the pool of each origin ``_get_reused`` last sent on: looking it up in the
        # manager (``connection_from_url`` parses the URL and builds its key) took a
        # tenth of the CPU of a request on an open connection. Weak: a pool the manager
        # drops (``close``, more origins than ``num_pools``) goes, and its connections
        # are closed, as without this (urllib3 closes a pool once nothing refers to it).
        self._pools: WeakValueDictionary[str, urllib3.HTTPConnectionPool] = WeakValueDictionary()
        self._retry = retry
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._read_timeout = timeout
        # statuses urllib3 retries: a first answer with one goes on through ``_retried``
        self._retry_status = frozenset(retry.status_forcelist or ())

    def get(self, url: str, headers: Mapping[str, str]) -> Answer:
        """GET ``url``, following redirects as requests did."""
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._get_reused(url, headers)
            if answer is None:
                answer = self._get_once(url, headers)
            elif answer.status in self._retry_status and (retry := self._retried(url, answer)):
                answer = self._get_once(url, headers, retry)
            if answer.location is None:
                return answer
            target = redirect_url(url, answer.location)
            if "Authorization" in headers and should_strip_auth(url, target):
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
            url = target
        raise TransportError("connection", TooManyRedirects(f"Exceeded {MAX_REDIRECTS} redirects."))

    def _get_once(self, url: str, headers: Mapping[str, str], retry: Retry | None = None) -> Answer:
        try:
            resp = self._pool.urlopen(
                "GET",
                url,
                headers=headers,
                redirect=False,
                preload_content=False,
                retries=retry or self._retry,
                timeout=self._timeout,
            )
        except (HTTPError, OSError) as exc:
            raise TransportError(send_error(exc), exc) from None
        try:
            body = resp.read(decode_content=True)
        except HTTPError as exc:
            raise TransportError(read_error(exc), exc) from None
        except OverflowError as exc:  # a Content-Length beyond 2**63 (http.client's read):
            # an answer that is no HTTP, as urllib3 reports a bad status line
            raise _failed(exc, "connection", "Connection aborted.") from None
        resp.release_conn()
        status = resp.status
        location = resp.headers.get("location") if status in REDIRECT_STATUSES else None
        return Answer(status, resp.reason, body, resp.headers.get("content-type"), location)

    def _retried(self, url: str, first: Answer) -> Retry | None:
        """The retries left after a first answer with a status urllib3 retries, its
        history holding that answer (the backoff grows with it); None when none is left
        (urllib3 would have returned that answer)."""
        retry = self._retry
        if any(n is not None and n <= 0 for n in (retry.total, retry.status)):
            return None
        return retry.new(
            total=None if retry.total is None else int(retry.total) - 1,
            status=None if retry.status is None else retry.status - 1,
            history=(*retry.history, RequestHistory("GET", url, None, first.status, None)),
        )

    def _get_reused(self, url: str, headers: Mapping[str, str]) -> Answer | None:
        """The GET on a connection of the pool that is already open, with ``http.client``
        alone; None leaves it to urllib3 (``_get_once``).

        urllib3's request path costs CPU on every request, thousands of them in a cold check
        or a first report: 300 task logs from the L simulator over HTTPS, with their JSON
        decoding, took 1.02–1.19 ms each through urllib3, 0.86–0.90 ms so, 0.66–0.79 ms with
        ``http.client`` alone; 0.80–0.89 ms so since the pool of each origin is kept
        (``_pools``) and the head sent by ``_send_get``. The connection was opened, its
        certificate verified or its fingerprint checked, by urllib3 on an earlier request:
        what is done here is the request and the answer on it, for a URL whose target
        urllib3 would send unchanged (``_REUSABLE``). urllib3 keeps the rest: opening
        connections (and their errors), other URLs, and the retries of a 502, 503 or 504
        (``_retried``). A failure ends as urllib3 ends it (no retry: ``read`` and ``other``
        are 0), a body is decoded by urllib3's decoders.
        """
        target = _REUSABLE.fullmatch(url)
        if target is None or not any(name.lower() == "user-agent" for name in headers):
            return None  # without a User-Agent, urllib3 sends its own
        origin = url[: target.start(1)]
        try:
            pool = self._pools.get(origin) or self._pool.connection_from_url(url)
            raw = pool._get_conn()
        except (HTTPError, OSError, ValueError):  # closed (urllib3 < 1.26.16 closed one it dropped)
            self._pools.pop(origin, None)
            return None
        conn = cast(http.client.HTTPConnection, raw)
        if conn.sock is None:  # not open: urllib3 opens it, in the pool it has now
            pool._put_conn(raw)
            self._pools.pop(origin, None)
            return None
        self._pools[origin] = pool
        clean = False  # the answer was read to its end, and the connection may be kept
        try:
            if http_wire.AVAILABLE:
                reply = _exchange_wire(conn, target.group(1), headers, self._read_timeout)
                clean = reply.keep  # read to its end: kept, even if not decodable
                return _answer(reply.status, reply.reason, reply.headers.get, reply.body)
            resp = _exchange(conn, target.group(1), headers, self._read_timeout)
            body = _read(resp)
            clean = not resp.will_close
            return _answer(resp.status, resp.reason, resp.getheader, body)
        finally:
            if not clean:  # as urllib3 does after any error: nothing half-read is kept
                conn.close()
            pool._put_conn(raw)

    def close(self) -> None:
        self._pools.clear()
        self._pool.clear()


def _exchange(
    conn: http.client.HTTPConnection, target: str, headers: Mapping[str, str], timeout: float
) -> http.client.HTTPResponse:
    """Send the GET on the open ``conn`` and read the answer's head. A failure is the
    error urllib3 (``read=0``, ``other=0``: no retry) would have ended the request with:
    a timeout, a TLS error, else the connection aborted (``send_error`` sorts them)."""
    try:
        assert conn.sock is not None
        conn.sock.settimeout(timeout)
        _send_get(conn, target, headers)
        return http.client.HTTPConnection.getresponse(conn)
    except (OSError, http.client.HTTPException) as exc:
        raise _failed(exc, "connection", "Connection aborted.") from None


def _exchange_wire(
    conn: http.client.HTTPConnection, target: str, headers: Mapping[str, str], timeout: float
) -> http_wire.Reply:
    """``_exchange`` and ``_read`` through llhttp (``http_wire``), the failures the same:
    none before the answer's head is "connection", a body cut short "truncated"."""
    try:
        assert conn.sock is not None
        head = http_wire.request_head(conn, target, headers)
        conn.sock.settimeout(timeout)
        return http_wire.exchange(conn.sock, head)
    except http.client.IncompleteRead as exc:
        raise _failed(exc, "truncated", "Connection broken") from None
    except http_wire.BodyError as exc:
        raise _failed(exc.cause, "truncated", "Connection broken") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _failed(exc, "connection", "Connection aborted.") from None


def _send_get(conn: http.client.HTTPConnection, target: str, headers: Mapping[str, str]) -> None:
    """The request head as ``http.client``'s ``request`` sends a GET without a body, by
    its own methods: urllib3's ``putrequest`` and ``putheader`` (its connection's
    overrides) only check what is never here (a method with control characters, its
    ``SKIP_HEADER`` value), at a cost on each header of each request."""
    names = {name.lower() for name in headers}
    base = http.client.HTTPConnection
    base.putrequest(
        conn, "GET", target,
        skip_host="host" in names, skip_accept_encoding="accept-encoding" in names,
    )  # fmt: skip
    for name, value in headers.items():
        base.putheader(conn, name, value)
    base.endheaders(conn)


def _read(resp: http.client.HTTPResponse) -> bytes:
    """The whole body as sent. A body cut short is "truncated", a timeout in it
    "timeout", a TLS error "tls", as ``read_error`` sorts urllib3's."""
    try:
        return resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise _failed(exc, "truncated", "Connection broken") from None
    except OverflowError as exc:  # a Content-Length beyond 2**63: as ``_get_once``
        raise _failed(exc, "connection", "Connection aborted.") from None


def _decoded(coding: str | None, body: bytes) -> bytes:
    """The body decoded as urllib3 decodes it; one it cannot decode is "connection"."""
    if not coding or coding.strip().lower() == "identity":
        return body
    inflated = _inflated(coding.lower(), body)
    if inflated is not None:
        return inflated
    encoded = urllib3.HTTPResponse(
        io.BytesIO(body), headers={"content-encoding": coding}, preload_content=False
    )
    try:
        return encoded.read(decode_content=True)
    except HTTPError as exc:  # DecodeError
        raise TransportError("connection", exc) from None


# zlib's window bits of the encodings urllib3 decodes with zlib (``_get_decoder``; 1.26
# has no x-gzip), by the header value as urllib3 takes it (lower case, not stripped)
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _inflated(coding: str, body: bytes) -> bytes | None:
    """The body inflated by zlib alone when it is one whole gzip member (``gzip``) or one
    zlib stream (``deflate``): what urllib3's decoder gives for it, without a response
    object built around it. None leaves anything else to urllib3 as before (several
    members, raw deflate, a cut or broken stream, other encodings).

    pve-http-server compresses every answer over 1024 bytes when the client accepts gzip
    (``src/PVE/APIServer/AnyEvent.pm`` ``response``, ``Compress::Zlib::memGzip``): a cold
    check of a large cluster inflates thousands of task logs, and urllib3's way took
    about 60 µs for a 28 kB log, zlib alone 33 µs.
    """
    wbits = _WBITS.get(coding)
    if wbits is None:
        return None
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body)
    except zlib.error:
        return None
    return out if inflater.eof and not inflater.unused_data else None


def _failed(exc: Exception, kind: ErrorKind, text: str) -> TransportError:
    """urllib3's error for ``exc`` of ``http.client`` on an open connection: a timeout,
    a TLS error, else ``kind`` (its ``ProtocolError`` saying ``text``)."""
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", exc)
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", SSLError(exc))
    return TransportError(kind, ProtocolError(text, exc))


def _answer(
    status: int, reason: str | None, header: Callable[[str], str | None], raw: bytes
) -> Answer:
    """The answer of either reader: ``header`` gives a header's value (repeated ones
    joined), ``raw`` is the body as sent, decoded here."""
    location = header("location") if status in REDIRECT_STATUSES else None
    body = _decoded(header("content-encoding"), raw)
    return Answer(status, reason, body, header("content-type"), location)


# ---------------------------------------------------------------------- errors


def send_error(exc: Exception) -> ErrorKind:
    """How an error of ``urlopen`` was sorted: requests' adapter, then the client."""
    if isinstance(exc, MaxRetryError):
        reason = exc.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return "timeout"  # ConnectTimeout
        if isinstance(reason, ResponseError):
            return "connection"  # RetryError
        if isinstance(reason, SSLError):
            return "tls"
        return _connection_error(exc)
    if isinstance(exc, (ProtocolError, OSError, ClosedPoolError, ProxyError)):
        return _connection_error(exc)
    if isinstance(exc, SSLError):
        return "tls"
    if isinstance(exc, ReadTimeoutError):
        return "timeout"  # ReadTimeout
    return "connection"  # InvalidURL, InvalidSchema, InvalidHeader...


def read_error(exc: Exception) -> ErrorKind:
    """How an error while reading the body was sorted (requests' ``Response.content``)."""
    if isinstance(exc, ProtocolError):
        return "truncated"  # ChunkedEncodingError
    if isinstance(exc, SSLError):
        return "tls"
    if isinstance(exc, ReadTimeoutError):
        return _connection_error(exc)  # requests' ConnectionError around it
    return "connection"  # DecodeError: ContentDecodingError


def _connection_error(exc: Exception) -> ErrorKind:
    """A requests ConnectionError: a timeout when its text says so."""
    return "timeout" if "timed out" in str(exc) else "connection"


# ---------------------------------------------------------------------- URLs


def build_url(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with ``params`` as requests' ``PreparedRequest.prepare_url`` wrote them."""
    query = encode_params(params) if params else ""
    plain = f"{url}?{query}" if query else url
    if "?" not in url and _PLAIN_URL.fullmatch(plain):
        return plain  # what requests' parsing and re-quoting leave as it is
    u = parse_url(url)  # normalized by urllib3 first, as requests did
    if u.query:
        query = f"{u.query}&{query}" if query else u.query
    return requote_uri(urlunparse((u.scheme, u.netloc, u.path or "/", "", query, u.fragment)))


def encode_params(params: Mapping[str, Any]) -> str:
    """requests' ``_encode_params`` for a mapping: ``None`` dropped, sequences repeated."""
    pairs: list[tuple[Any, Any]] = []
    for key, values in params.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        k = key.encode("utf-8") if isinstance(key, str) else key
        for v in values:
            if v is not None:
                pairs.append((k, v.encode("utf-8") if isinstance(v, str) else v))
    return urlencode(pairs, doseq=True)


def requote_uri(uri: str) -> str:
    """requests' ``requote_uri``: unquote the unreserved characters, quote illegal ones."""
    try:
        return quote(_unquote_unreserved(uri), safe="!#$%&'()*+,/:;=?@[]~")
    except ValueError:  # an invalid percent-escape: quote the '%' too
        return quote(uri, safe="!#$&'()*+,/:;=?@[]~")


def _unquote_unreserved(uri: str) -> str:
    parts = uri.split("%")
    for i in range(1, len(parts)):
        h = parts[i][0:2]
        if len(h) == 2 and h.isalnum():
            c = chr(int(h, 16))  # ValueError: not hexadecimal
            parts[i] = c + parts[i][2:] if c in _UNRESERVED else f"%{parts[i]}"
        else:
            parts[i] = f"%{parts[i]}"
    return "".join(parts)


def redirect_url(current: str, location: str) -> str:
    """Where a redirect leads (requests' ``get_redirect_target`` and ``resolve_redirects``)."""
    location = location.encode("latin1").decode("utf-8", "replace")  # UTF-8 sent as such
    if location.startswith("//"):
        location = f"{urlparse(current).scheme}:{location}"
    if not urlparse(location).netloc:
        return urljoin(current, requote_uri(location))
    return requote_uri(location)


def should_strip_auth(old_url: str, new_url: str) -> bool:
    """requests' rule: drop the Authorization header unless host, port and scheme stay
    (http to https on the default ports counts as staying)."""
    old, new = urlparse(old_url), urlparse(new_url)
    if old.hostname != new.hostname:
        return True
    upgrade = (old.scheme, new.scheme) == ("http", "https")
    if upgrade and old.port in (80, None) and new.port in (443, None):
        return False
    changed_port = old.port != new.port
    changed_scheme = old.scheme != new.scheme
    default_port = (_DEFAULT_PORTS.get(old.scheme), None)
    if not changed_scheme and old.port in default_port and new.port in default_port:
        return False
    return changed_port or changed_scheme


# ---------------------------------------------------------------------- JSON


def decode_json(body: bytes, content_type: str | None) -> Any:
    """requests' ``Response.json()``: the charset of ``Content-Type`` (invalid bytes
    replaced), else JSON's own UTF-8/16/32 detection; ValueError when it is not JSON,
    or nested too deeply for ``json`` (``standard_loads``)."""
    encoding = charset(content_type) if content_type else None
    if encoding is None or encoding.lower() in _UTF8:
        found = decode_fast(body)  # orjson, when installed and it takes the body
        if found is not UNDECODED:
            return found
    if not encoding and len(body) > 3:
        try:
            return standard_loads(body)
        except UnicodeDecodeError:
            pass  # requests then guessed the charset; UTF-8 with replacements here
    try:
        text = str(body, encoding or "utf-8", errors="replace")
    except (LookupError, TypeError):  # an unknown charset
        text = str(body, errors="replace")
    return standard_loads(text)


_UTF8 = frozenset({"utf-8", "utf8"})


@lru_cache(maxsize=32)
def charset(content_type: str) -> str | None:
    """requests' ``get_encoding_from_headers``."""
    mime, *params = content_type.split(";")
    found: str | None = None
    for param in params:
        key, eq, value = param.strip().partition("=")
        if eq and key.strip("\"' ").lower() == "charset":
            found = value.strip("\"' ")  # the last one, as requests' dict kept it
    if found is not None:
        return found
    if "text" in mime.strip():
        return "ISO-8859-1"
    if "application/json" in mime:
        return "utf-8"
    return None
