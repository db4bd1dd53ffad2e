"""Error types. Every message is meant to be shown as one line, and never holds a secret."""

from __future__ import annotations

import sys


class PveBackupError(Exception):
    """Base class of the errors this plugin reports as one clear line."""


class MissingModuleError(PveBackupError):
    """A Python module the check needs is not installed (or not importable)."""

    def __init__(self, name: str) -> None:
        super().__init__(missing_module_message(name))


def missing_module_message(name: str) -> str:
    """The one line that names a missing dependency and how to install it."""
    return (
        f"missing Python module {name}: install check_pve_backup with its dependencies "
        f"(pip install <wheel or checkout>) for {sys.executable}"
    )


class ConfigError(PveBackupError):
    """Bad configuration, environment, ``.env`` file, YAML file or command line.

    The message stays one line even when it quotes a value with line breaks (a path).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


class ApiError(PveBackupError):
    """Base class of errors talking to the PVE API. ``endpoint`` is the API path asked."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.message = message

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.message}"


class ApiConnectionError(ApiError):
    """Connection refused, DNS failure, TLS failure or a dropped connection (all hosts)."""


class ApiTimeout(ApiConnectionError):
    """No answer within the per-request timeout."""


class ApiTlsError(ApiConnectionError):
    """The server certificate failed verification or did not match the pinned fingerprint."""


class ApiHttpError(ApiError):
    """PVE answered with an HTTP error status (401, 403, 500, 595, ...)."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        super().__init__(endpoint, f"{status} {message}".rstrip())
        self.status = status
        self.pve_message = message

    @property
    def missing_privilege(self) -> str | None:
        """The privilege PVE names in ``Permission check failed (<path>, <priv>)``, if any."""
        text = self.pve_message
        marker = "Permission check failed ("
        if self.status != 403 or marker not in text:
            return None
        inner = text.split(marker, 1)[1].split(")", 1)[0]
        parts = [p.strip() for p in inner.split(",")]
        return f"{parts[-1]} on {parts[0]}" if len(parts) >= 2 else inner


class ApiJsonError(ApiError):
    """The body is not valid JSON."""


class ApiDataError(ApiError):
    """Valid JSON but without the ``data`` field, or data of an unexpected shape."""
