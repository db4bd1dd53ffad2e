"""Read-only Proxmox Backup Server API client (acquisition layer).

The PVE client's machinery (transport, TLS modes, pinning, retries, timeouts, error
classes, request counters, secret scrubbing) serves PBS too; only three things differ:

* the header is ``Authorization: PBSAPIToken=<user@realm!token>:<secret>`` (a colon
  between id and secret; proxmox-backup ``src/auth.rs`` ``auth_token_prefix``);
* an error answer's body is the bare message text, not JSON (proxmox-rest-server
  ``formatter.rs`` ``error_to_response``: the HTTP status, or 400 for a plain error);
* the messages name the ``PBS_*`` settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pve_backup_report.collect.http import Answer
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Settings
from pve_backup_report.pbs_config import PbsServer


class PbsClient(PveClient):
    """GET-only client for one PBS server; thread-safe like :class:`PveClient`."""

    def __init__(self, server: PbsServer, base: Settings, pool_size: int | None = None) -> None:
        settings = replace(
            base,
            hosts=(server.url,),
            token_id=server.token_id,
            token_secret=server.token_secret,
            verify_tls=server.verify_tls,
            ca_bundle=server.ca_bundle,
            tls_fingerprint=server.fingerprint,
        )
        super().__init__(settings, pool_size)
        self.server = server
        self._headers["Authorization"] = f"PBSAPIToken={server.token_id}:{self._secret}"

    def _error_text(self, resp: Answer) -> str:
        try:
            text = resp.content.decode("utf-8", "replace")
        except Exception:  # pragma: no cover - content is always bytes here
            text = ""
        text = " ".join(text.split())
        if text.startswith("{"):  # a proxy or a future PBS may answer in JSON
            return super()._error_text(resp)
        return (text or (resp.reason or "").strip())[:300]

    def _tls_message(self, host: str, exc: Exception) -> str:
        return (
            super()
            ._tls_message(host, exc)
            .replace("PVE_TLS_FINGERPRINT", "PBS_FINGERPRINT")
            .replace("PVE_CA_BUNDLE", "PBS_CA_BUNDLE")
        )


def missing_role(status: int, store: str, what: str) -> str | None:
    """The PBS role a 403 points at, for ``--check-api`` and anomalies."""
    if status != 403:
        return None
    return f"DatastoreAudit on /datastore/{store} ({what})"


def as_list(data: Any) -> list[dict[str, Any]]:
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
