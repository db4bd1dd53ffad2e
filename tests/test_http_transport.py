"""The clients' urllib3 transport does what the ``requests`` session did before it.

``collect/http.py`` re-creates the parts of requests the clients relied on; these tests
hold it to requests itself (installed for the tests): the query string, the headers,
the JSON decoding and the redirect rule, then redirects over real HTTP (a small local
server that redirects, and the simulator).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import LifoQueue
from typing import Any, ClassVar, cast

import pytest
import requests
import trustme
from hypothesis import given
from hypothesis import strategies as st
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers
from urllib3.util.url import _encode_target, parse_url

from pve_backup_report.collect import http
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.errors import ApiConnectionError, ApiHttpError
from pve_sim import Simulator
from test_pve_client import (
    CANARY,
    PEM_WITHOUT_CERTIFICATE,
    TOKEN,
    assert_no_canary,
    scenario,
)

BASE = "https://pve1.example.org:8006/api2/json"


def requests_url(url: str, params: Any) -> str:
    prepared = requests.Request("GET", url, params=params).prepare()
    assert prepared.url is not None
    return prepared.url


def on_the_wire(url: str) -> str:
    """The request target urllib3 sends for ``url`` (requests gave it the same parse)."""
    return _encode_target(parse_url(url).request_uri)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/version", None),
        ("/nodes/pve1/tasks", {"typefilter": "vzdump", "start": 0, "limit": 500}),
        ("/nodes/pve1/tasks", {"since": 1700000000, "vmid": None, "errors": True}),
        ("/nodes/pve1/tasks/UPID:pve1:000A1B2C:0F00BA12:65A0B3C4:vzdump::root@pam:/log", None),
        ("/nodes/pve1/tasks/UPID:pve1:1:2:3:vzdump:100:monitor@pve!check:/log", {"start": 50}),
        ("/pools/a%2Fb", None),
        ("/pools/%7Etilde%41", None),
        ("/access/permissions", {"path": "/storage/pbs 1"}),
        ("/nodes/pve1/storage/pbs1/content", {"content": ["backup", "iso"], "x": "é&=?"}),
        ("/odd path/é", {"bad%zz": "100%"}),
    ],
)
def test_url_as_requests_prepared_it(path: str, params: Any) -> None:
    assert http.build_url(BASE + path, params) == requests_url(BASE + path, params)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_VALUE = st.one_of(st.none(), st.integers(), st.booleans(), _TEXT, st.lists(_TEXT, max_size=3))


@given(
    # an API path (the query comes from params): no '?' or '#'
    path=st.text(st.sampled_from("abz09-._~:@!%/ é&=+$,;*'()[]"), max_size=20),
    params=st.dictionaries(_TEXT, _VALUE, max_size=4),
)
def test_request_target_as_requests_sent_it(path: str, params: dict[str, Any]) -> None:
    url = f"{BASE}/x/{path}"
    try:
        expected = requests_url(url, params)
    except requests.exceptions.RequestException:
        return  # requests refused it (an invalid URL): not a path the client builds
    assert on_the_wire(http.build_url(url, params)) == on_the_wire(expected)


def test_headers_as_the_session_sent_them() -> None:
    session = requests.Session()
    session.headers.update(
        {"Authorization": "PVEAPIToken=t=s", "Accept": "application/json", "User-Agent": "ua"}
    )
    assert list(http.session_headers("ua", "PVEAPIToken=t=s").items()) == list(
        session.headers.items()
    )


def requests_json(body: bytes, content_type: str | None) -> Any:
    response = requests.Response()
    response._content = body
    if content_type is not None:
        response.headers["content-type"] = content_type
    response.encoding = get_encoding_from_headers(response.headers)
    return response.json()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json;charset=UTF-8",
        "application/json",
        "application/json; charset='latin-1'",
        'text/html; charset="utf-8"',
        "text/plain",
        "application/octet-stream",
        "application/json; charset=no-such-codec",
        None,
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        b'{"data": {"name": "caf\xc3\xa9"}}',
        b'{"data": "bad \xff byte"}',
        '{"data": [1, 2]}'.encode("utf-16"),
        b"\xef\xbb\xbf{}",
        b"{}",
        b"",
        b"<html>oops</html>",
    ],
)
def test_json_as_requests_decoded_it(
    json_decoder: str, body: bytes, content_type: str | None
) -> None:
    try:
        expected: Any = requests_json(body, content_type)
    except ValueError:
        expected = ValueError
    if content_type in (None, "application/octet-stream") and body == b'{"data": "bad \xff byte"}':
        # requests guessed the charset of invalid UTF-8 (charset_normalizer); the
        # transport replaces the byte. Either way the answer parses.
        assert http.decode_json(body, content_type)["data"].startswith("bad ")
        return
    try:
        got: Any = http.decode_json(body, content_type)
    except ValueError:
        got = ValueError
    assert got == expected


@pytest.mark.parametrize(
    "old", ["http://a:8006/x", "https://a:8006/x", "http://a/x", "https://a/x"]
)
@pytest.mark.parametrize(
    "new",
    ["https://a:8006/y", "http://a:8006/y", "https://a/y", "http://a:80/y", "https://a:443/y",
     "https://b:8006/y", "http://a:8007/y", "/relative"],
)  # fmt: skip
def test_authorization_dropped_on_redirect_as_requests_did(old: str, new: str) -> None:
    target = http.redirect_url(old, new)
    ours = http.should_strip_auth(old, target)
    assert ours == requests.Session().should_strip_auth(old, target)  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------- over HTTP


class _Redirector(BaseHTTPRequestHandler):
    """``/moved`` to ``/here`` (same host), ``/away`` to the simulator, ``/loop`` to itself;
    ``/here`` answers whether the Authorization header came along."""

    target = ""
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        path = self.path.removeprefix("/api2/json")
        self.hits.append(path)
        locations = {"/moved": "/api2/json/here", "/away": self.target, "/loop": "loop"}
        if path in locations:
            self.send_response(302)
            self.send_header("Location", locations[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"data": {"auth": "Authorization" in self.headers}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def redirector(target: str) -> Iterator[tuple[str, list[str]]]:
    handler = cast(
        "type[_Redirector]", type("Handler", (_Redirector,), {"target": target, "hits": []})
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_followed_as_requests_did() -> None:
    with Simulator(scenario(), tls=False) as sim:
        with redirector(f"{sim.url}/api2/json/version") as (url, hits):
            settings = Settings(
                hosts=(url,), token_id=TOKEN, token_secret=Secret(CANARY), request_timeout=5
            )
            with PveClient(settings) as client:
                assert client.get("/moved") == {"auth": True}  # same host: header kept
                with pytest.raises(ApiHttpError) as err:  # another port: header dropped
                    client.get("/away")
                assert err.value.status == 401
                assert_no_canary(err.value)
                hits.clear()
                with pytest.raises(ApiConnectionError) as loop:
                    client.get("/loop")
                assert str(loop.value) == f"/loop: cannot connect to {url.split('//')[1]}"
                assert client.stats.requests == 3
            ours = len(hits)
            hits.clear()
            with requests.Session() as session:
                session.trust_env = False
                headers = {"Authorization": f"PVEAPIToken={TOKEN}={CANARY}"}
                assert session.get(f"{url}/api2/json/away", headers=headers).status_code == 401
                hits.clear()
                with pytest.raises(requests.exceptions.TooManyRedirects):
                    session.get(f"{url}/api2/json/loop")
            assert ours == len(hits) == 31  # the request and 30 redirects


def test_tls_options_as_the_session_set_them(tmp_path: Path) -> None:
    """The CA store requests verified against by default (certifi), a bundle file or
    directory, no verification, or a pin (verification off, the fingerprint checked)."""
    default = http.tls_pool_options(True, None, None)
    assert default == {"cert_reqs": "CERT_REQUIRED", "ca_certs": DEFAULT_CA_BUNDLE_PATH}
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert http.tls_pool_options(True, str(bundle), None)["ca_certs"] == str(bundle)
    assert http.tls_pool_options(True, str(tmp_path), None)["ca_cert_dir"] == str(tmp_path)
    assert http.tls_pool_options(False, str(bundle), None) == {"cert_reqs": "CERT_NONE"}
    assert http.tls_pool_options(False, None, "ab" * 32) == {
        "cert_reqs": "CERT_NONE",
        "assert_fingerprint": "ab" * 32,
    }


def test_one_tls_context_for_every_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """One TLS context, its CA store loaded once, for every connection (``shared_tls``).
    Given CA files and no ``ssl_context``, urllib3 makes a context per connection and
    loads the store into it: urllib3 2 ``connection.py``
    ``_ssl_wrap_socket_and_match_hostname`` (``create_urllib3_context``) and
    ``util/ssl_.py`` ``ssl_wrap_socket`` (``load_verify_locations``); urllib3 1.26
    ``HTTPSConnection.connect``. Over HTTPS, the connections opened at once share it,
    and its ALPN list, which ``ssl_wrap_socket`` sets on every connection, is set in
    OpenSSL once, before them: set again while another thread's ``SSL_new`` copies it,
    it is freed under that copy (python/cpython#141012)."""
    alpn_sets: list[object] = []
    base_set = ssl.SSLContext.set_alpn_protocols

    def counted(context: ssl.SSLContext, protocols: Any) -> None:
        alpn_sets.append(context)
        base_set(context, protocols)

    monkeypatch.setattr(ssl.SSLContext, "set_alpn_protocols", counted)
    with Simulator(scenario(), tls=True, latency_ms=50) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=TOKEN, token_secret=Secret(CANARY),
            ca_bundle=str(sim.ca_path), max_workers=4,
        )  # fmt: skip
        with PveClient(settings) as client, ThreadPoolExecutor(4) as pool:
            assert all(v["version"] for v in pool.map(lambda _: client.get("/version"), range(8)))
            manager = client._transport._pool
            shared = manager.connection_pool_kw["ssl_context"]
            assert "ca_certs" not in manager.connection_pool_kw
            pools = manager.pools._container.values()
            conns = [c for p in pools for c in cast("LifoQueue[Any]", p.pool).queue if c]
            opened = [c.sock for c in conns if c.sock is not None]
            assert len(opened) >= 2  # four requests were in flight at once
            assert all(sock.context is shared for sock in opened)
            assert shared.cert_store_stats()["x509_ca"] == 1  # the simulator's CA alone
    assert isinstance(shared, ssl.SSLContext)
    assert alpn_sets == [shared]  # once, by shared_tls


def test_shared_tls_keeps_each_mode(tmp_path: Path) -> None:
    """Verified against a file or a directory (its store loaded once), not verified,
    pinned: the context does what urllib3's own per-connection context did, and urllib3
    still gets ``cert_reqs`` and the fingerprint. A CA file it cannot load leaves the
    options as they were: the connection fails with its own error, as before
    (``test_pve_client.test_a_ca_bundle_without_a_certificate_is_one_line``)."""
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    verified = http.shared_tls(http.tls_pool_options(True, str(bundle), None))
    assert verified.keys() == {"cert_reqs", "ssl_context"}
    assert verified["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert verified["ssl_context"].cert_store_stats()["x509_ca"] == 1
    by_dir = http.shared_tls(http.tls_pool_options(True, str(tmp_path), None))
    assert by_dir.keys() == {"cert_reqs", "ssl_context"}
    default = http.shared_tls(http.tls_pool_options(True, None, None))
    assert default["ssl_context"].cert_store_stats()["x509_ca"] > 10  # certifi's bundle
    pinned = http.shared_tls(http.tls_pool_options(True, None, "ab" * 32))
    assert pinned["assert_fingerprint"] == "ab" * 32
    assert pinned["ssl_context"].verify_mode == ssl.CERT_NONE
    off = http.shared_tls(http.tls_pool_options(False, None, None))
    assert off["ssl_context"].verify_mode == ssl.CERT_NONE
    assert not off["ssl_context"].check_hostname
    assert http.shared_tls({"cert_reqs": ssl.CERT_NONE})["ssl_context"].verify_mode == 0
    broken = tmp_path / "broken.pem"
    broken.write_text(PEM_WITHOUT_CERTIFICATE)
    options = http.tls_pool_options(True, str(broken), None)
    assert http.shared_tls(options) == options
