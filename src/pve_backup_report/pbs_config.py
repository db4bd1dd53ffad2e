"""Proxmox Backup Server API settings: one server from the environment, or several in YAML.

The single-server case is set like the PVE connection, with the same precedence
(environment > ``.env`` file > YAML ``pbs:`` mapping), key by key:

======================  ===========================  =============================
environment             YAML (``pbs:`` entry)        meaning
======================  ===========================  =============================
PBS_HOST                host                         ``host[:port]`` (port 8007)
PBS_API_TOKEN_ID        api_token_id                 ``user@realm!tokenname``
PBS_API_TOKEN_SECRET    api_token_secret             the token secret
PBS_API_TOKEN_SECRET_FILE api_token_secret_file      a file holding only the secret
PBS_VERIFY_TLS          verify_tls                   ``false``: no certificate check
PBS_CA_BUNDLE           ca_bundle                    CA certificates (PEM)
PBS_FINGERPRINT         fingerprint                  SHA-256 certificate pin
(none)                  datastores                   serve only these datastores
======================  ===========================  =============================

Several servers: ``pbs:`` is a list of such mappings (the environment then does not
apply). Every secret is a :class:`~pve_backup_report.config.Secret`, so the scrubber
knows it from the moment it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pve_backup_report.errors import ConfigError

PBS_DEFAULT_PORT = 8007

# YAML key -> environment variable (the single-server case)
_ENV = {
    "api_token_secret": "PBS_API_TOKEN_SECRET",
    "host": "PBS_HOST",
    "api_token_id": "PBS_API_TOKEN_ID",
    "api_token_secret_file": "PBS_API_TOKEN_SECRET_FILE",
    "verify_tls": "PBS_VERIFY_TLS",
    "ca_bundle": "PBS_CA_BUNDLE",
    "fingerprint": "PBS_FINGERPRINT",
}
_YAML_KEYS = (*_ENV, "datastores")
# the environment variables, in the order a person sets them (for --help)
PBS_ENV_NAMES = (
    "PBS_HOST", "PBS_API_TOKEN_ID", "PBS_API_TOKEN_SECRET", "PBS_API_TOKEN_SECRET_FILE",
    "PBS_VERIFY_TLS", "PBS_CA_BUNDLE", "PBS_FINGERPRINT",
)  # fmt: skip


@dataclass(frozen=True)
class PbsServer:
    """One PBS API endpoint and its read-only token."""

    url: str  # https://host:8007 (the API path is appended by the client)
    token_id: str
    token_secret: Any  # config.Secret (typed loosely to avoid an import cycle)
    verify_tls: bool = True
    ca_bundle: str | None = None
    fingerprint: str | None = None
    datastores: tuple[str, ...] = ()  # empty: whatever datastores the server has

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or PBS_DEFAULT_PORT

    @property
    def label(self) -> str:
        """``host:port`` for messages."""
        return self.url.split("://", 1)[1]


def parse_pbs_host(value: object) -> str:
    """``host``, ``host:port`` or ``https://host:port`` -> ``https://host:port``."""
    from pve_backup_report.config import base_url

    text = str(value).strip().rstrip("/")
    if not text or "," in text:
        raise ValueError("must be one host[:port]")
    return base_url(text, PBS_DEFAULT_PORT)


def load_pbs_servers(
    environ: Mapping[str, str],
    env_file: Mapping[str, str],
    yaml_value: object,
    yaml_path: str | None,
) -> tuple[PbsServer, ...]:
    """The configured PBS servers (none when nothing is set). Raises ConfigError."""
    env_layer = {
        key: (value, f"{var} (environment)")
        for key, var in _ENV.items()
        if (value := environ.get(var)) not in (None, "")
    }
    for key, var in _ENV.items():
        if key not in env_layer and env_file.get(var) not in (None, ""):
            env_layer[key] = (env_file[var], f"{var} (env file)")
    where = f"pbs (config file {yaml_path})"
    if isinstance(yaml_value, list):
        if env_layer:
            raise ConfigError(
                "PBS_* environment settings describe one PBS server; with a list of servers "
                f"under pbs: in the config file, set each one there ({yaml_path})"
            )
        return tuple(_server(_yaml_layer(v, f"{where} #{i + 1}")) for i, v in enumerate(yaml_value))
    if yaml_value is not None and not isinstance(yaml_value, Mapping):
        raise ConfigError(f"{where}: must be a mapping (one server) or a list of mappings")
    layer = {**(_yaml_layer(yaml_value, where) if yaml_value else {}), **env_layer}
    if not layer:
        return ()
    return (_server(layer),)


def _yaml_layer(raw: object, where: str) -> dict[str, tuple[Any, str]]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping of PBS settings")
    unknown = sorted(str(k) for k in raw if k not in _YAML_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")
    return {str(k): (v, f"{where} {k}") for k, v in raw.items() if v is not None}


def _server(layer: Mapping[str, tuple[Any, str]]) -> PbsServer:
    """Validate one server's values (each with where it came from)."""
    from pve_backup_report.config import (
        check_ca_bundle,
        parse_bool,
        parse_fingerprint,
        parse_secret,
        parse_token_id,
        read_secret_file,
    )

    def value(key: str, parse: Any, default: Any = None) -> Any:
        if key not in layer:
            return default
        raw, where = layer[key]
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    secret = None
    if "api_token_secret" in layer and str(layer["api_token_secret"][0]).strip():
        secret = value("api_token_secret", parse_secret)
    if secret is None and "api_token_secret_file" in layer:
        secret = read_secret_file(str(layer["api_token_secret_file"][0]).strip())[0]
    host = value("host", parse_pbs_host)
    token_id = value("api_token_id", parse_token_id)
    missing = [
        name
        for name, v in (("PBS_HOST", host), ("PBS_API_TOKEN_ID", token_id), ("secret", secret))
        if not v
    ]
    if missing:
        names = ", ".join(missing).replace("secret", "PBS_API_TOKEN_SECRET(_FILE)")
        raise ConfigError(f"PBS API configured but incomplete: set {names}")
    ca_bundle = value("ca_bundle", lambda v: str(v).strip())
    if ca_bundle:  # the same check as PVE_CA_BUNDLE, naming where it was set
        check_ca_bundle(ca_bundle, layer["ca_bundle"][1])
    stores = value("datastores", _datastores, ())
    return PbsServer(
        url=host,
        token_id=token_id,
        token_secret=secret,
        verify_tls=value("verify_tls", parse_bool, True),
        ca_bundle=ca_bundle,
        fingerprint=value("fingerprint", parse_fingerprint),
        datastores=stores,
    )


def _datastores(v: object) -> tuple[str, ...]:
    items = v if isinstance(v, list) else str(v).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())
