"""TLS for the simulator: given certificate files, or a throw-away CA made with ``trustme``.

The server certificate's SHA-256 fingerprint is exposed in PVE's ``AA:BB:...`` format so
clients can test fingerprint pinning as well as CA verification.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsError", "TlsMaterial", "fingerprint_of_pem", "generated_tls", "tls_from_files"]

_INSTALL_HINT = (
    "the simulator needs 'trustme' to generate a certificate; "
    "install check-pve-backup[demo] (or pass --cert and --key)"
)


class TlsError(RuntimeError):
    """TLS cannot be set up (missing trustme, unreadable certificate or key)."""


@dataclass(frozen=True)
class TlsMaterial:
    context: ssl.SSLContext
    fingerprint: str  # SHA-256 of the server certificate, AA:BB:... upper case
    ca_path: Path | None  # PEM of the CA that signed it (generated certificates only)


def fingerprint_of_pem(pem: bytes | str) -> str:
    """The SHA-256 fingerprint of the first certificate in ``pem``, as PVE shows it."""
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    end = "-----END CERTIFICATE-----"
    first = text[: text.index(end) + len(end)]
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_from_files(cert: Path, key: Path) -> TlsMaterial:
    context = _server_context()
    try:
        context.load_cert_chain(str(cert), str(key))
        pem = Path(cert).read_bytes()
        fingerprint = fingerprint_of_pem(pem)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise TlsError(
            f"cannot use certificate {Path(cert).name!r} / key {Path(key).name!r}: {exc}"
        ) from None
    return TlsMaterial(context, fingerprint, None)


def generated_tls(directory: Path) -> TlsMaterial:
    """A new CA and a server certificate for 127.0.0.1, ::1 and localhost.

    The CA certificate is written to ``directory/ca.pem``.
    """
    try:
        import trustme
    except ImportError:
        raise TlsError(_INSTALL_HINT) from None
    ca = trustme.CA(organization_name="check_pve_backup simulator")
    leaf = ca.issue_cert("127.0.0.1", "::1", "localhost", common_name="127.0.0.1")
    context = _server_context()
    leaf.configure_cert(context)
    ca_path = Path(directory) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    fingerprint = fingerprint_of_pem(leaf.cert_chain_pems[0].bytes())
    return TlsMaterial(context, fingerprint, ca_path)
