"""The HTTP(S) transport: a stdlib ``ThreadingHTTPServer`` on loopback around :class:`PveApi`,
with latency, fault injection and request statistics."""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from pve_sim.api import (
    API_PREFIX,
    ApiRequest,
    ApiResponse,
    PveApi,
    error_response,
    perl_json,
)
from pve_sim.faults import FaultTable
from pve_sim.pbs_api import PbsApi
from pve_sim.pbs_server import PbsSimulator
from pve_sim.scenario import FaultSpec, Scenario, load_scenario
from pve_sim.stats import RequestRecord, SimulatorStats, StatsCollector
from pve_sim.tls import TlsMaterial, generated_tls, tls_from_files

__all__ = ["Simulator"]

JSON_TYPE = "application/json;charset=UTF-8"
STATS_PATH = "/_simulator/stats"  # request statistics as JSON (benchmarks), not a PVE path


class _CountingWriter:
    """Wraps the handler's ``wfile`` to count the bytes sent."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return self._raw.closed


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections
    wbufsize = 64 * 1024  # headers and body leave in one write ...
    disable_nagle_algorithm = True  # ... and without waiting for delayed ACKs

    def setup(self) -> None:
        super().setup()
        self._counter = _CountingWriter(self.wfile)  # type: ignore[arg-type]
        self.wfile = self._counter  # type: ignore[assignment]

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.simulator.verbose:
            sys.stderr.write(f"simulator: {self.address_string()} {format % args}\n")

    def _serve(self) -> None:
        sim = self.server.simulator
        start_bytes = self._counter.count
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # a body is never used, but must be consumed
        split = urlsplit(self.path)
        raw_path = unquote(split.path)
        if raw_path == STATS_PATH:  # not a PVE path: for benchmarks, never counted
            self._send_stats(sim, split.query)
            return
        api_path = raw_path[len(API_PREFIX) :] if raw_path.startswith(API_PREFIX) else None
        fault = sim.faults.match(api_path) if api_path is not None else None
        sim.sleep_ms(sim.latency_ms + (fault.delay_ms if fault else 0))
        status = 0
        try:
            if fault is not None and fault.drop:
                self.close_connection = True
                return
            status = self._answer(sim, api_path, raw_path, split.query, fault)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            record = RequestRecord(self.command, api_path or raw_path, split.query, status)
            sim.record(record, self._counter.count - start_bytes)

    def _send_stats(self, sim: Simulator, query: str) -> None:
        """The statistics; ``?records=N`` adds the last N requests (of the
        ``MAX_RECORDS`` kept) in the order they ended, as ``[method, path, query,
        status]``: a benchmark replays a run's requests (``bench/least.py``). N other
        than ASCII digits: 400."""
        wanted = parse_qs(query).get("records", ["0"])[-1]
        if not (wanted.isascii() and wanted.isdigit()):
            refused = error_response(400, "Parameter verification failed.",
                                     {"records": "not a number of requests"})  # fmt: skip
            self._send(refused, refused.body(), JSON_TYPE, truncate=False)
            return
        stats = sim.stats
        payload: dict[str, Any] = {
            "requests": stats.requests,
            "bytes_sent": stats.bytes_sent,
            "per_path": dict(stats.per_path),
            # the simulator process's CPU so far (all its threads): a benchmark on the
            # same machine sees what serving cost next to the client's own CPU
            "cpu_s": time.process_time(),
        }
        last = int(wanted)
        if last:
            payload["records"] = [
                [r.method, r.path, r.query, r.status] for r in stats.records[-last:]
            ]
        body = json.dumps(payload, sort_keys=True).encode()
        self._send(ApiResponse(200, "OK", {}), body, JSON_TYPE, truncate=False)

    def _answer(
        self,
        sim: Simulator,
        api_path: str | None,
        raw_path: str,
        query: str,
        fault: FaultSpec | None,
    ) -> int:
        """Send the answer (the API's, or the fault's); returns the HTTP status."""
        response: ApiResponse | None
        request: ApiRequest | None = None
        cached: tuple[ApiResponse, bytes] | None = None
        if api_path is None:
            response = sim.error_response(
                501, f"Method '{self.command} {raw_path}' not implemented"
            )
        elif fault is not None and (fault.status is not None or fault.message is not None):
            status = fault.status or (200 if fault.body is not None else 500)
            response = (
                ApiResponse(status, _phrase(status), {})
                if fault.body is not None
                else sim.error_response(status, fault.message or _phrase(status))
            )
        else:
            params = dict(parse_qsl(query, keep_blank_values=True))
            request = ApiRequest(self.command, api_path, params, self.headers.get("Authorization"))
            response = None
            cached = sim.cached_answer(request)
            if cached is None:
                response = sim.api.handle(request)
        if response is None:
            assert cached is not None
            response, body = cached
        else:
            body = response.body()
            if request is not None and fault is None:
                sim.keep_answer(request, response, body)
        content_type = JSON_TYPE
        if fault is not None and fault.body is not None:
            body, content_type = fault.body.encode(), fault.content_type
        elif fault is not None and fault.no_data:
            payload = {k: v for k, v in response.payload.items() if k != "data"}
            body = perl_json(payload)
        accept = ", ".join(self.headers.get_all("Accept-Encoding") or ())  # Perl joins them
        body, encoding = sim.encoded(request if fault is None else None, body, accept)
        self._send(
            response, body, content_type, truncate=fault is not None and fault.truncate,
            encoding=encoding,
        )  # fmt: skip
        return response.status

    def _send(
        self,
        response: ApiResponse,
        body: bytes,
        content_type: str,
        truncate: bool,
        encoding: str | None = None,
    ) -> None:
        """Headers like pve-api-daemon; ``truncate`` sends half the announced body."""
        reason = response.reason.encode("latin-1", "replace").decode("latin-1")
        self.send_response(response.status, reason)
        self.send_header("Content-Type", content_type)
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", formatdate(usegmt=True))
        self.end_headers()
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        simulator: Simulator,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.simulator = simulator
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # the handshake runs in the worker thread, never in the accept loop
        tls_sock = self.ssl_context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls_sock.shutdown(socket.SHUT_RDWR)
            tls_sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.simulator.verbose:
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Simulator:
    """A simulated PVE API on loopback; use as a context manager.

    A scenario with a ``pbs`` key also gets a simulated PBS API on a second port
    (:attr:`pbs_url`), with the same TLS material.

    ``scenario`` is a :class:`Scenario`, a dict in the scenario format, a YAML path or
    ``"demo"``. ``tls=True`` without ``cert``/``key`` generates a CA with trustme.
    """

    def __init__(
        self,
        scenario: Scenario | Mapping[str, Any] | str | Path = "demo",
        *,
        tls: bool = False,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int | None = None,
        clock: Callable[[], float] = time.time,
        verbose: bool = False,
        cache_answers: bool = False,
        compression: bool = True,
    ) -> None:
        if (cert is None) != (key is None):
            raise ValueError("give both cert and key, or neither")
        self._scenario = _as_scenario(scenario)
        self._tls = tls or cert is not None
        self._cert = Path(cert) if cert is not None else None
        self._key = Path(key) if key is not None else None
        self._host = host
        self._port = port
        self._latency_override = latency_ms
        self._clock = clock
        self.verbose = verbose
        self.cache_answers = cache_answers
        self.compression = compression
        self._answers: dict[tuple[str, str, str | None], tuple[ApiResponse, bytes]] = {}
        # per answer key and encoding: the body compressed, and the compressed bytes
        self._encoded: dict[tuple[tuple[str, str, str | None], str], tuple[bytes, bytes]] = {}
        self._answers_lock = threading.Lock()
        self.api = PveApi(self._scenario, clock)
        self.faults = FaultTable(self._scenario.faults)
        self._stats = StatsCollector()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls_material: TlsMaterial | None = None
        self._tempdir: Path | None = None
        self.pbs: PbsSimulator | None = None

    error_response = staticmethod(error_response)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        try:
            context = self._tls_context()
            server_class = _Server6 if ":" in self._host else _Server
            self._server = server_class((self._host, self._port), self, context)
            if self._scenario.pbs is not None:
                self.pbs = PbsSimulator(
                    self._scenario, self._host, context, self._stopping, self._clock, self.verbose
                )
                self.pbs.start()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="pve-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self._tls:
            return None
        if self._cert is not None and self._key is not None:
            self._tls_material = tls_from_files(self._cert, self._key)
        else:
            self._tempdir = Path(tempfile.mkdtemp(prefix="pve-simulator-"))
            self._tls_material = generated_tls(self._tempdir)
        return self._tls_material.context

    def stop(self) -> None:
        self._stopping.set()
        if self.pbs is not None:
            self.pbs.stop()
            self.pbs = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need ----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` (no path)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @property
    def token_id(self) -> str:
        return self._scenario.token.id

    @property
    def token_secret(self) -> str:
        return self._scenario.token.secret

    @property
    def auth_header(self) -> dict[str, str]:
        """``{"Authorization": "PVEAPIToken=<id>=<secret>"}``."""
        return {"Authorization": f"PVEAPIToken={self.token_id}={self.token_secret}"}

    @property
    def pbs_url(self) -> str | None:
        """``https://127.0.0.1:PORT`` of the simulated PBS, when the scenario has one."""
        return self.pbs.url if self.pbs is not None else None

    @property
    def pbs_token_id(self) -> str | None:
        pbs = self._scenario.pbs
        return pbs.token.id if pbs is not None else None

    @property
    def pbs_token_secret(self) -> str | None:
        pbs = self._scenario.pbs
        return pbs.token.secret if pbs is not None else None

    @property
    def ca_path(self) -> Path | None:
        return self._tls_material.ca_path if self._tls_material else None

    @property
    def fingerprint(self) -> str | None:
        return self._tls_material.fingerprint if self._tls_material else None

    @property
    def latency_ms(self) -> int:
        if self._latency_override is not None:
            return self._latency_override
        return self._scenario.latency_ms

    # -- statistics and control ------------------------------------------------------------

    @property
    def stats(self) -> SimulatorStats:
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def record(self, record: RequestRecord, bytes_sent: int) -> None:
        self._stats.record(record, bytes_sent)

    def set_scenario(self, scenario: Scenario | Mapping[str, Any] | str | Path) -> None:
        """Serve another scenario from now on (fault counters start again)."""
        new = _as_scenario(scenario)
        self._scenario = new
        with self._answers_lock:
            self._answers.clear()
            self._encoded.clear()
        self.faults = FaultTable(new.faults)
        self.api = PveApi(new, self._clock)
        if self.pbs is not None and new.pbs is not None:
            self.pbs.api = PbsApi(new, self._clock)
            self.pbs.faults = FaultTable(new.pbs.faults)

    def _answer_key(self, request: ApiRequest) -> tuple[str, str, str | None] | None:
        """Answers are kept only with ``cache_answers`` and a fixed ``now``. Task logs too:
        a ``log_recipe`` always renders the same log, and only the logs asked for are
        kept (rendering one cost the simulator about 2 ms of CPU, on the cores the
        benchmarked check runs on)."""
        if not self.cache_answers or self._scenario.now is None:
            return None
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        return request.path, query, request.authorization

    def cached_answer(self, request: ApiRequest) -> tuple[ApiResponse, bytes] | None:
        key = self._answer_key(request)
        if key is None:
            return None
        with self._answers_lock:
            return self._answers.get(key)

    def keep_answer(self, request: ApiRequest, response: ApiResponse, body: bytes) -> None:
        key = self._answer_key(request)
        if key is not None:
            with self._answers_lock:
                self._answers[key] = (response, body)

    def encoded(
        self, request: ApiRequest | None, body: bytes, accept: str | None
    ) -> tuple[bytes, str | None]:
        """The body as pve-http-server sends it, and its ``Content-Encoding``.

        pve-http-server ``src/PVE/APIServer/AnyEvent.pm`` ``response``: a body over 1024
        bytes is compressed when the request's ``Accept-Encoding`` matches ``gzip``
        (``Compress::Zlib::memGzip``), else ``deflate`` (``Compress::Zlib::compress``, zlib
        format), unless compression is off (``compression``, on by default: ``new`` sets
        ``$self->{compression} //= 1``, and pveproxy passes ``COMPRESSION`` of
        ``/etc/default/pveproxy``, unset by default). A request's compressed answer is kept
        with the answer (``cache_answers``).
        """
        accept = accept or ""
        encoding = "gzip" if "gzip" in accept else "deflate" if "deflate" in accept else None
        if encoding is None or not self.compression or len(body) <= 1024:
            return body, None
        key = self._answer_key(request) if request is not None else None
        if key is not None:
            with self._answers_lock:
                found = self._encoded.get((key, encoding))
            if found is not None and found[0] is body:  # the kept answer's own bytes
                return found[1], encoding
        packed = gzip.compress(body, 6, mtime=0) if encoding == "gzip" else zlib.compress(body, 6)
        if key is not None:
            with self._answers_lock:
                self._encoded[(key, encoding)] = (body, packed)
        return packed, encoding

    def sleep_ms(self, milliseconds: int) -> None:
        """Wait, but return at once when the simulator stops."""
        if milliseconds > 0:
            self._stopping.wait(milliseconds / 1000)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _as_scenario(scenario: Scenario | Mapping[str, Any] | str | Path) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return Scenario.from_dict(scenario)
    return load_scenario(scenario)
