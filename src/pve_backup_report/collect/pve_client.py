"""Read-only PVE REST API client (acquisition layer: knows nothing of thresholds).

* ``Authorization: PVEAPIToken=<id>=<secret>``; GET only.
* urllib3 (through :mod:`.http`, which keeps what the former ``requests`` session did):
  per-request timeout, a connection pool sized for the workers, retries with backoff for
  connection errors and 502/503/504, and fail-over across the configured hosts.
* TLS: CA verification (system store or ``ca_bundle``), or SHA-256 certificate pinning,
  or (explicitly) none.
* Distinct errors (see :mod:`pve_backup_report.errors`). Every message passes through
  :meth:`PveClient.redact`, so the secret never leaves this module.
* Counts requests and bytes for ``--check-api``, perfdata and benchmarks.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import urllib3
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from pve_backup_report import __version__
from pve_backup_report.collect.http import (
    Answer,
    Transport,
    TransportError,
    build_url,
    session_headers,
    tls_pool_options,
)
from pve_backup_report.config import API_PATH, Settings
from pve_backup_report.errors import (
    ApiConnectionError,
    ApiDataError,
    ApiError,
    ApiHttpError,
    ApiJsonError,
    ApiTimeout,
    ApiTlsError,
)
from pve_backup_report.model import TlsMode

log = logging.getLogger("nagiosplugin.pve_backup_report.api")

T = TypeVar("T")

# An answer longer than this (PBS content lists of a large cluster, 10 to 30 MB of JSON)
# decodes into several times its size: ``get_reduced`` decodes one such at a time.
LARGE_ANSWER = 1 << 20


@dataclass
class RequestStats:
    """Mutable counters (guarded by a lock in the client)."""

    requests: int = 0
    bytes: int = 0
    errors: int = 0
    per_path: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Page:
    """One API answer: ``data`` plus PVE's ``total`` when the endpoint gives one."""

    data: Any
    total: int | None


class PveClient:
    """GET-only client; thread-safe for parallel collection."""

    def __init__(self, settings: Settings, pool_size: int | None = None) -> None:
        if not settings.hosts or not settings.token_id or not settings.token_secret:
            raise ValueError("PveClient needs hosts, a token id and a token secret")
        self._settings = settings
        self._secret = settings.token_secret.reveal()
        self._hosts = list(settings.api_urls)
        self._preferred = 0
        self._down: set[int] = set()  # hosts that failed to connect during this run
        self._answered = threading.Event()  # set once any host has answered
        self._probe_lock = threading.Lock()
        self._large = threading.Lock()  # one large answer decoded at a time (get_reduced)
        self._lock = threading.Lock()
        self.stats = RequestStats()
        self._inflight: dict[int, str] = {}
        # at most ``max_workers`` requests at once from all the run's threads together
        # (the history's pool, and the PBS sources' and the notes' beside it)
        self._slots = threading.BoundedSemaphore(max(1, settings.max_workers))
        size = pool_size or max(10, settings.max_workers + 4)
        retry = Retry(
            total=3,
            connect=1,
            read=0,
            status=2,
            other=0,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        self._headers = session_headers(
            f"check_pve_backup/{__version__}", f"PVEAPIToken={settings.token_id}={self._secret}"
        )
        fingerprint = settings.tls_fingerprint
        tls = tls_pool_options(
            settings.verify_tls,
            settings.ca_bundle,
            fingerprint.replace(":", "").lower() if fingerprint else None,
        )
        if tls["cert_reqs"] == "CERT_NONE":
            # Verification is off on purpose (pinned, or PVE_VERIFY_TLS=false, which the
            # output states): urllib3's per-request warning would only reach stderr, from
            # any worker thread (warnings.catch_warnings is not thread-safe).
            urllib3.disable_warnings(InsecureRequestWarning)
        self._transport = Transport(
            pool_size=size, retry=retry, timeout=settings.request_timeout, tls=tls
        )

    # ------------------------------------------------------------------ public

    @property
    def tls_mode(self) -> TlsMode:
        """``verified``, ``pinned``, ``not verified`` or ``plain http`` (any host given
        as ``http://``: the token may travel unencrypted), for the output."""
        if any(h.startswith("http://") for h in self._hosts):
            return "plain http"
        if self._settings.tls_fingerprint:
            return "pinned"
        return "verified" if self._settings.verify_tls else "not verified"

    @property
    def tls_origin(self) -> str | None:
        """The setting behind an unverified or plain-HTTP connection, for the notice."""
        mode = self.tls_mode
        if mode == "not verified":
            return self._settings.origin("verify_tls", "PVE_VERIFY_TLS=false")
        if mode == "plain http":
            return self._settings.origin("hosts", "PVE_HOST")
        return None

    def inflight(self) -> list[str]:
        """The API paths being asked right now (named when the run times out)."""
        with self._lock:
            return sorted(set(self._inflight.values()))

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "********") if self._secret else text

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (below ``/api2/json``) and return its ``data``."""
        return self.get_page(path, params).data

    def get_reduced(
        self, path: str, params: dict[str, Any] | None, reduce: Callable[[Any], T]
    ) -> T:
        """``reduce(self.get(path, params))``, a large answer (over :data:`LARGE_ANSWER`
        bytes) decoded and reduced while no other large answer is: the requests still run
        in parallel, but the decoded trees (about 50 MB for a 15 MB content list) are not
        held at the same time, and each is dropped once ``reduce`` has taken what it
        keeps. ``reduce`` runs in the calling worker thread; it must not call the client
        (the lock is not reentrant) nor raise :class:`ApiError` (a connection error would
        be taken for the host's and the request sent to the next host)."""
        return cast(T, self._get_page(path, params, reduce).data)

    def get_page(self, path: str, params: dict[str, Any] | None = None) -> Page:
        """GET ``path`` and return ``data`` plus ``total`` (task lists, task logs)."""
        return self._get_page(path, params, None)

    def _get_page(
        self, path: str, params: dict[str, Any] | None, reduce: Callable[[Any], Any] | None
    ) -> Page:
        if len(self._hosts) > 1 and not self._answered.is_set():
            # Until a host has answered, one request at a time looks for a working host,
            # so that parallel requests do not all try (and wait for) a dead first host.
            with self._probe_lock:
                return self._get_failing_over(path, params, reduce)
        return self._get_failing_over(path, params, reduce)

    def _get_failing_over(
        self, path: str, params: dict[str, Any] | None, reduce: Callable[[Any], Any] | None
    ) -> Page:
        first_error: ApiError | None = None
        for idx in self._host_order():
            try:
                page = self._get_from(self._hosts[idx], path, params, reduce)
            except ApiConnectionError as exc:
                first_error = first_error or exc
                if len(self._hosts) > 1:
                    log.info("host %s failed (%s), trying the next one", self._hosts[idx], exc)
                    with self._lock:
                        self._down.add(idx)
                continue
            with self._lock:
                self._preferred = idx
                self._down.discard(idx)
            self._answered.set()
            return page
        assert first_error is not None
        raise first_error

    def _host_order(self) -> list[int]:
        """The preferred host first, then the others; hosts that failed in this run last."""
        n = len(self._hosts)
        with self._lock:
            order = [(self._preferred + i) % n for i in range(n)]
            down = set(self._down)
        return [i for i in order if i not in down] + [i for i in order if i in down]

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> PveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _get_from(
        self,
        base: str,
        path: str,
        params: dict[str, Any] | None,
        reduce: Callable[[Any], Any] | None = None,
    ) -> Page:
        with self._slots:
            answer = self._answer(base, path, params)
        if reduce is None:
            return self._page(path, answer)
        if len(answer.content) <= LARGE_ANSWER:
            return self._reduced(path, answer, reduce)
        # a timeout meanwhile names the answer waiting for its turn or being decoded
        with self._in_flight(f"{path} (decoding)"), self._large:
            return self._reduced(path, answer, reduce)

    def _reduced(self, path: str, answer: Answer, reduce: Callable[[Any], Any]) -> Page:
        page = self._page(path, answer)
        return Page(reduce(page.data), page.total)

    @contextmanager
    def _in_flight(self, label: str) -> Iterator[None]:
        """``label`` named in flight (``inflight``) meanwhile, for this thread."""
        key = threading.get_ident()
        with self._lock:
            self._inflight[key] = label
        try:
            yield
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def _answer(self, base: str, path: str, params: dict[str, Any] | None) -> Answer:
        """The HTTP answer, ``path`` named in flight meanwhile, and the request counted."""
        url = base + path
        host = base[: -len(API_PATH)].split("://", 1)[1]
        t0 = time.monotonic()
        status = 0
        size = 0
        try:
            with self._in_flight(path):
                answer = self._transport.get(build_url(url, params), self._headers)
            status = answer.status
            size = len(answer.content)
        except TransportError as exc:
            raise self._transport_error(path, host, exc) from None
        finally:
            self._record(path, status, size, time.monotonic() - t0)
        return answer

    def _page(self, path: str, answer: Answer) -> Page:
        """The answer's ``data`` and ``total``; an error status or no JSON ``data`` raises."""
        status = answer.status
        if status >= 400:
            raise ApiHttpError(path, status, self.redact(self._error_text(answer)))
        try:
            payload = answer.json()
        except ValueError:
            excerpt = self.redact(answer.content[:40].decode("utf-8", "replace")).strip()
            raise ApiJsonError(path, f"answer is not JSON (starts with {excerpt!r})") from None
        if not isinstance(payload, dict) or "data" not in payload:
            raise ApiDataError(path, "JSON answer without a 'data' field")
        total = payload.get("total")
        return Page(payload["data"], total if isinstance(total, int) else None)

    def _record(self, path: str, status: int, size: int, elapsed: float) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.bytes += size
            self.stats.per_path[_path_template(path)] += 1
            if status == 0 or status >= 400:
                self.stats.errors += 1
        log.debug("GET %s -> %s (%d bytes, %.0f ms)", path, status or "error", size, elapsed * 1000)

    def _transport_error(self, path: str, host: str, exc: TransportError) -> ApiError:
        """The client's error for a request without a complete answer."""
        if exc.kind == "tls":
            return ApiTlsError(path, self._tls_message(host, exc.cause))
        if exc.kind == "timeout":
            timeout = self._settings.request_timeout
            return ApiTimeout(path, f"no answer from {host} within {timeout:g}s")
        if exc.kind == "truncated":
            return ApiConnectionError(
                path, f"connection to {host} closed before the full answer (truncated body)"
            )
        return ApiConnectionError(path, self._conn_message(host, exc.cause))

    def _error_text(self, resp: Answer) -> str:
        message = ""
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            if isinstance(payload.get("message"), str):
                message = payload["message"].strip()
            errors = payload.get("errors")
            if isinstance(errors, dict) and errors:
                detail = "; ".join(f"{k}: {str(v).strip()}" for k, v in sorted(errors.items()))
                message = f"{message} ({detail})" if message else detail
        if not message:
            message = (resp.reason or "").strip()
        return " ".join(message.split())[:300]

    def _tls_message(self, host: str, exc: Exception) -> str:
        text = self.redact(str(exc))
        if "Fingerprints did not match" in text or "fingerprint" in text.lower():
            return self._pin_message(host, text)
        ca = self._settings.origin("ca_bundle", "")
        if "NO_CERTIFICATE_OR_CRL_FOUND" in text or "PEM lib" in text:
            return f"CA bundle {self._settings.ca_bundle} ({ca}) holds no PEM certificate"
        # urllib3 1.26 checks the name itself: CertificateError("hostname ... doesn't match")
        if any(n in text for n in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed",
                                   "CertificateError")):  # fmt: skip
            return f"TLS verification of {host} failed: {_verify_reason(text, ca)}"
        if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
            return f"TLS handshake with {host} failed (is it plain HTTP?)"
        return f"TLS error with {host}"

    def _pin_message(self, host: str, text: str) -> str:
        """The pinned fingerprint, where it was set, and the one the server presented."""
        origin = self._settings.origin("tls_fingerprint", "PVE_TLS_FINGERPRINT")
        # urllib3 2: got "4f29..."; 1.26: got "b'4f29...'" (its quote escaped in the repr)
        got = re.search(r'got "(?:b[\\\']+)?([0-9a-fA-F]+)', text)
        presented = ""
        if got is not None:
            hexits = got.group(1).upper()
            pretty = ":".join(hexits[i : i + 2] for i in range(0, len(hexits), 2))
            presented = f"; the server presented {pretty}"
        return (
            f"TLS certificate of {host} does not match the fingerprint pinned by {origin}"
            f"{presented}"
        )

    def _conn_message(self, host: str, exc: Exception) -> str:
        text = self.redact(str(exc))
        for needle, reason in (
            ("Connection refused", "connection refused"),
            ("Name or service not known", "unknown host name"),
            ("nodename nor servname", "unknown host name"),
            ("Temporary failure in name resolution", "name resolution failed"),
            ("No route to host", "no route to host"),
            ("Network is unreachable", "network unreachable"),
            ("RemoteDisconnected", "connection closed without an answer"),
            ("Connection aborted", "connection closed without an answer"),
            ("Connection reset", "connection reset"),
            ("Max retries exceeded", "connection failed"),
        ):
            if needle in text:
                return f"cannot connect to {host}: {reason}"
        return f"cannot connect to {host}"


# OpenSSL's texts for X509_V_ERR_CERT_HAS_EXPIRED and X509_V_ERR_CERT_NOT_YET_VALID
# (crypto/x509/x509_txt.c ``X509_verify_cert_error_string``), which Python's
# SSLCertVerificationError ends with; the verdict an operator can act on
_VALIDITY = {
    "certificate has expired": "certificate has expired (renew it on the server, or check "
    "this machine's clock)",
    "certificate is not yet valid": "certificate is not yet valid (check the clocks of "
    "this machine and of the server)",
}


def _verify_reason(text: str, ca_origin: str) -> str:
    """Why certificate verification failed, and what to set."""
    lower = text.lower()
    if "hostname mismatch" in lower or "ip address mismatch" in lower or "doesn't match" in lower:
        return "certificate name does not match the host"
    for said, reason in _VALIDITY.items():
        if said in lower:
            return reason
    what = "self-signed certificate" if "self-signed" in text or "self signed" in text else ""
    if "unable to get local issuer" in text:
        what = "unknown certificate authority"
    if not what:
        return "certificate verify failed"
    if ca_origin:  # a CA bundle was given, and it is not the right one
        return f"{what}: it is not signed by the CA bundle of {ca_origin}"
    return f"{what} (set PVE_CA_BUNDLE or PVE_TLS_FINGERPRINT)"


def _path_template(path: str) -> str:
    """``/nodes/pve1/tasks/UPID:.../log`` -> ``/nodes/{node}/tasks/{upid}/log`` for stats."""
    parts = path.split("/")
    out = []
    prev = ""
    for p in parts:
        if prev == "nodes" and p:
            out.append("{node}")
        elif prev == "tasks" and p.startswith("UPID:"):
            out.append("{upid}")
        elif prev in ("qemu", "lxc") and p.isdigit():
            out.append("{vmid}")
        elif prev == "storage" and p and len(out) > 2 and out[1] == "nodes":
            out.append("{storage}")
        elif prev == "backup" and p and out[1] == "cluster":
            out.append("{id}")
        elif prev == "pools" and p:
            out.append("{poolid}")
        else:
            out.append(p)
        prev = p
    return "/".join(out)
