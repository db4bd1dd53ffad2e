"""Configuration: flags > environment > ``.env`` file > YAML file > defaults, validated once.

Each setting is declared once in :data:`SPECS`: environment name, YAML key, parser,
default and command-line flag (cli.py builds its options from them). :func:`load_settings`
merges the layers and returns a frozen :class:`Settings`; every problem is one
:class:`~pve_backup_report.errors.ConfigError` line naming the setting and where it came
from. The secret is held in a :class:`Secret`, whose ``repr``
and ``str`` never show it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pve_backup_report.analysis.thresholds import resolve_thresholds
from pve_backup_report.errors import ConfigError, MissingModuleError
from pve_backup_report.messages import Msg

DEFAULT_PORT = 8006
API_PATH = "/api2/json"


_KNOWN_SECRETS: set[str] = set()
# PVE token secrets are UUIDs (36 characters); a very short "secret" would mask ordinary
# words everywhere, so it is not scrubbed from texts (it still never prints itself).
MIN_REDACTED_LENGTH = 6


def redact(text: str) -> str:
    """Replace every secret this process has seen by ``********``."""
    for secret in _KNOWN_SECRETS:
        if secret and secret in text:
            text = text.replace(secret, "********")
    return text


class Secret:
    """A string that never shows itself in ``repr``, ``str``, f-strings or tracebacks.

    Every secret is also remembered so that :func:`redact` can scrub it from any text
    (error messages, tracebacks) before it is printed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_REDACTED_LENGTH:
            _KNOWN_SECRETS.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


# --------------------------------------------------------------------------- parsers


def _str(v: object) -> str:
    if isinstance(v, (list, dict)):
        raise ValueError("must be a single value")
    s = str(v).strip()
    if not s:
        raise ValueError("must not be empty")
    return s


def parse_secret(v: object) -> Secret:
    """An API token secret: one line of printable characters (PVE and PBS make UUIDs).
    A control character would reach the Authorization header, which urllib3 refuses
    with an error quoting the header whole, the secret with it."""
    s = _str(v)
    if not _printable_line(s):
        raise ValueError("must be one line of printable characters")
    return Secret(s)


def _printable_line(s: str) -> bool:
    return not any(c < " " or c == "\x7f" for c in s)


def parse_bool(v: object) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {str(v)!r}")


def _positive_float(v: object) -> float:
    try:
        f = float(str(v).strip())
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {str(v)!r}") from None
    if not f > 0 or f != f or f == float("inf"):
        raise ValueError(f"must be a positive number, got {str(v)!r}")
    return f


def _int_range(lo: int, hi: int) -> Callable[[object], int]:
    def parse(v: object) -> int:
        try:
            i = int(str(v).strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {str(v)!r}") from None
        if not lo <= i <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {i}")
        return i

    return parse


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(v: object) -> int:
    """``90``, ``90s``, ``45m``, ``26h``, ``8d``, ``2w`` -> seconds."""
    m = _DURATION_RE.match(str(v).lower())
    if not m:
        raise ValueError(f"must be a duration like 26h, 90m or 8d, got {str(v)!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_max_age(v: object) -> tuple[int, int]:
    """``WARN,CRIT`` durations, e.g. ``26h,50h``; a single value is used for both."""
    if isinstance(v, (tuple, list)):  # already parsed (the command line validates early)
        v = ",".join(str(x) for x in v)
    parts = [p for p in str(v).split(",") if p.strip()]
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"must be WARN,CRIT durations like 26h,50h, got {str(v)!r}")
    warn = parse_duration(parts[0])
    crit = parse_duration(parts[-1])
    if crit < warn:
        raise ValueError("the critical age must not be smaller than the warning age")
    return warn, crit


def parse_hosts(v: object) -> tuple[str, ...]:
    """Comma-separated hosts or URLs -> ``scheme://host:port`` base URLs."""
    items = v if isinstance(v, list) else str(v).split(",")
    hosts = [base_url(raw, DEFAULT_PORT) for raw in items if str(raw).strip().rstrip("/")]
    if not hosts:
        raise ValueError("no host given")
    return tuple(hosts)


def base_url(raw: object, default_port: int) -> str:
    """One ``host``, ``host:port`` or URL (path empty or ``/api2/json``, which PVE and
    PBS share) -> ``scheme://host:port``; https unless the URL says http."""
    text = str(raw).strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a host or URL: {str(raw).strip()!r}")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError(f"bad port in {str(raw).strip()!r}") from None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    path = parts.path.rstrip("/")
    if path not in ("", API_PATH):
        raise ValueError(f"unexpected path {path!r} in {str(raw).strip()!r}")
    return f"{parts.scheme}://{host}:{port}"


_TOKEN_ID_RE = re.compile(r"^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$")


def parse_token_id(v: object) -> str:
    s = _str(v)
    if not _TOKEN_ID_RE.match(s):
        # never echo the value: a pasted "id=secret" header value would show the secret
        hint = " (without '=secret')" if "=" in s else ""
        raise ValueError(f"must look like user@realm!tokenname{hint}")
    return s


def parse_fingerprint(v: object) -> str:
    hexits = re.sub(r"[:\s]", "", str(v)).upper()
    if not re.fullmatch(r"[0-9A-F]{64}", hexits):
        raise ValueError("must be a SHA-256 fingerprint like AA:BB:...(32 bytes)")
    return ":".join(hexits[i : i + 2] for i in range(0, 64, 2))


def _endpoint(v: object) -> str:
    s = _str(v)
    if not s.startswith("/") or "?" in s or ".." in s:
        raise ValueError(f"must be an API path like /cluster/backup, got {s!r}")
    return s.rstrip("/")


def _lang(v: object) -> str:
    s = _str(v).lower()
    if s not in ("en", "fr"):
        raise ValueError(f"must be en or fr, got {s!r}")
    return s


def _timezone(v: object) -> str:
    from zoneinfo import ZoneInfo

    s = _str(v)
    try:
        ZoneInfo(s)
    except Exception:  # zoneinfo raises several types for bad keys
        raise ValueError(f"unknown time zone {s!r}") from None
    return s


def _thresholds(v: object) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ValueError("must be a mapping like {warn_stale: '0', crit_failed: '0'}")
    return {str(k): "" if val is None else str(val) for k, val in v.items()}


def _percent_range(v: object) -> str:
    """A Nagios range on a percentage, or an empty string (no threshold)."""
    import nagiosplugin

    text = "" if v is None else str(v).strip().rstrip("%")
    if text:
        try:
            nagiosplugin.Range(text)
        except ValueError as exc:
            raise ValueError(f"invalid range {text!r} ({exc})") from None
    return text


def _ignore(v: object) -> tuple[Any, ...]:
    from pve_backup_report.analysis.ignore import parse_ignore_rules

    return tuple(parse_ignore_rules(v))


# --------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Flag:
    """A setting's command-line option; cli.py places it in ``--help``'s groups."""

    name: str  # "--max-age"
    metavar: str | None = None
    help: str = ""  # "{default}" stands for the setting's default
    short: str | None = None  # "-H"
    # checked while the command line is parsed: int or float (argparse says "invalid int
    # value"), or one of the parsers above (its ValueError is the message); None: later
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    sets: bool | None = None  # a switch (store_true): the value the setting takes when given

    @property
    def dest(self) -> str:
        """The argparse attribute holding the option's value."""
        return self.name.lstrip("-").replace("-", "_")

    def setting_value(self, given: Any) -> Any:
        """The raw value the setting takes from the parsed option (None: not given)."""
        if self.sets is not None:
            return self.sets if given else None
        return given


@dataclass(frozen=True)
class Spec:
    """One setting: where it is read, how it is checked, its default, its flag."""

    name: str  # Settings field (or one merge() folds into a field)
    env: str | None
    yaml: str
    parse: Callable[[object], Any]
    # the default as a user would write it, checked by ``parse``; None: no default here
    # (the setting stays unset, or is worked out where it is used, as --help says)
    default: str | None = None
    flag: Flag | None = None


def env_names() -> tuple[str, ...]:
    """Every environment variable of a setting, from :data:`SPECS` (connection first, as
    a person sets them), then the PBS server's; ``--help`` lists them."""
    from pve_backup_report.pbs_config import PBS_ENV_NAMES

    first = ("PVE_HOST", "PVE_API_TOKEN_ID", "PVE_API_TOKEN_SECRET")
    rest = tuple(s.env for s in SPECS if s.env is not None and s.env not in first)
    return (*first, *rest, *PBS_ENV_NAMES)


SPECS: tuple[Spec, ...] = (
    # the secret first, so that it is known to redact() before any other value fails
    Spec("token_secret", "PVE_API_TOKEN_SECRET", "api_token_secret", parse_secret),
    Spec(
        "hosts", "PVE_HOST", "host", parse_hosts,
        flag=Flag(
            "--host", "HOSTS", short="-H",
            help="PVE host(s) or URL(s), comma-separated; the next one is used when one is "
            "down (PVE_HOST). Default port 8006.",
        ),
    ),
    Spec(
        "token_id", "PVE_API_TOKEN_ID", "api_token_id", parse_token_id,
        flag=Flag("--token-id", "USER@REALM!NAME", "API token id (PVE_API_TOKEN_ID)."),
    ),
    Spec(
        "token_secret_file", "PVE_API_TOKEN_SECRET_FILE", "api_token_secret_file", _str,
        flag=Flag(
            "--token-secret-file", "FILE",
            "File holding only the token secret (PVE_API_TOKEN_SECRET_FILE). There is "
            "deliberately no option for the secret itself.",
        ),
    ),
    Spec(
        "verify_tls", "PVE_VERIFY_TLS", "verify_tls", parse_bool, default="true",
        flag=Flag(
            "--insecure", sets=False,
            help="Do not verify TLS certificates (PVE_VERIFY_TLS=false). Shown in the output.",
        ),
    ),
    Spec(
        "ca_bundle", "PVE_CA_BUNDLE", "ca_bundle", _str,
        flag=Flag("--ca-bundle", "PEM", "CA bundle to verify PVE's certificate (PVE_CA_BUNDLE)."),
    ),
    Spec(
        "tls_fingerprint", "PVE_TLS_FINGERPRINT", "tls_fingerprint", parse_fingerprint,
        flag=Flag(
            "--tls-fingerprint", "AA:BB:...",
            "Pin PVE's certificate by its SHA-256 fingerprint (PVE_TLS_FINGERPRINT).",
        ),
    ),
    Spec(
        "request_timeout", "PVE_TIMEOUT", "request_timeout", _positive_float, default="10",
        flag=Flag(
            "--request-timeout", "SECONDS", type=float,
            help="Timeout of each API request (PVE_TIMEOUT). Default: {default}, kept below "
            "--timeout.",
        ),
    ),
    Spec(
        "check_timeout", None, "check_timeout", _int_range(1, 3600), default="50",
        flag=Flag(
            "--timeout", "SECONDS", short="-t", type=int,
            help="Bound the whole run; UNKNOWN when exceeded. Default: {default} (Icinga's "
            "default check timeout is 60).",
        ),
    ),
    Spec(
        "backup_jobs_endpoint", "PVE_BACKUP_JOBS_ENDPOINT", "backup_jobs_endpoint", _endpoint,
        default="/cluster/backup",
    ),
    Spec(
        "task_history_limit", "PVE_TASK_HISTORY_LIMIT", "task_history_limit",
        _int_range(1, 100000), default="1000",
    ),
    Spec(
        # lines read per task log at most (0: no cap)
        "task_log_limit", "PVE_TASK_LOG_LIMIT", "task_log_limit", _int_range(0, 10_000_000),
        default="500000",
    ),
    Spec(
        "history_days", "PVE_HISTORY_DAYS", "history_days", _int_range(1, 366), default="15",
        flag=Flag(
            "--history-days", "DAYS", "How far back to read vzdump tasks. Default: {default}.",
            type=int,
        ),
    ),
    Spec(
        "max_workers", "PVE_MAX_WORKERS", "max_workers", _int_range(1, 64), default="16",
        flag=Flag("--max-workers", "N", "Parallel API requests. Default: {default}.", type=int),
    ),
    Spec(
        "grace_s", "PVE_GRACE", "grace", parse_duration, default="3h",
        flag=Flag(
            "--grace", "DURATION", type=parse_duration,
            help="How long after a scheduled run its backup may still be missing (big jobs "
            "reach their last guest late). Default: {default}.",
        ),
    ),
    Spec(
        "max_age_s", "PVE_MAX_AGE", "max_age", parse_max_age, default="8d,15d",
        flag=Flag(
            "--max-age", "WARN,CRIT", type=parse_max_age,
            help="Latest success older than this is WARNING/CRITICAL whatever the schedules "
            "say, e.g. 26h,50h. Default: {default}.",
        ),
    ),
    Spec("timezone", "PVE_TIMEZONE", "timezone", _timezone),
    Spec("pbs_content", "PVE_PBS_CONTENT", "pbs_content", parse_bool, default="true"),
    Spec(
        "cache_file", "PVE_CACHE_FILE", "cache_file", _str,
        flag=Flag(
            "--cache-file", "FILE",
            "Task-result cache file. Default: ~/.cache/check_pve_backup/tasks-<hash of hosts "
            "and token id>.json of the user running the check.",
        ),
    ),
    Spec(
        "use_cache", None, "cache", parse_bool, default="true",
        flag=Flag(
            "--no-cache", sets=False,
            help="Do not use the task-result cache (every needed log is read again).",
        ),
    ),
    Spec(
        "lang", "PVE_LANG", "lang", _lang, default="en",
        flag=Flag("--lang", choices=("en", "fr"), help="Language of descriptions and the report."),
    ),
    Spec(
        # bytes of the check's whole output (Nagios Core's limit); 0: none
        "max_output", "PVE_MAX_OUTPUT", "max_output", _int_range(0, 100_000_000), default="8192",
        flag=Flag(
            "--max-output", "BYTES", type=int,
            help="Fit the whole check output (status line, long output, perfdata) into this "
            "many bytes: the guest lists are cut, perfdata stays complete (PVE_MAX_OUTPUT). "
            "Default: {default}, Nagios Core's limit; raise it for Icinga 2, 0 for no limit.",
        ),
    ),
    # the defaults come from CATEGORIES (analysis/thresholds.py), and so do the flags,
    # --warn-<category> and --crit-<category>
    Spec("thresholds", None, "thresholds", _thresholds),
    Spec("ignore", None, "ignore", _ignore),
    # 0: no outdated-verification anomaly
    Spec(
        "pbs_verify_max_age_s", "PBS_VERIFY_MAX_AGE", "pbs_verify_max_age", parse_duration,
        default="40d",
    ),
    # datastore space: Nagios ranges on the used percentage ('': no threshold), folded
    # into Settings.storage_used
    Spec(
        "warn_storage_used", None, "warn_storage_used", _percent_range, default="85",
        flag=Flag(
            "--warn-storage-used", "RANGE",
            "WARNING range for the used percentage of each PBS storage in use (PVE's storage "
            "status). Default: {default}.",
        ),
    ),
    Spec(
        "crit_storage_used", None, "crit_storage_used", _percent_range, default="95",
        flag=Flag(
            "--crit-storage-used", "RANGE",
            "CRITICAL range for the used percentage of each PBS storage. Default: {default}.",
        ),
    ),
)  # fmt: skip
SPEC_BY_NAME = {s.name: s for s in SPECS}
_YAML_KEYS = {s.yaml for s in SPECS} | {"clusters", "pbs"}


def default(name: str) -> Any:
    """Setting ``name``'s default from :data:`SPECS`, checked like a user's value."""
    spec = SPEC_BY_NAME[name]
    return None if spec.default is None else spec.parse(spec.default)


@dataclass(frozen=True)
class Settings:
    """Validated settings for one run (one cluster); the defaults are :data:`SPECS`'."""

    hosts: tuple[str, ...] = ()  # base URLs: scheme://host:port (API_PATH is appended)
    token_id: str | None = None
    token_secret: Secret | None = None
    verify_tls: bool = default("verify_tls")
    ca_bundle: str | None = None
    tls_fingerprint: str | None = None  # normalised "AA:BB:..." (SHA-256)
    request_timeout: float = default("request_timeout")
    check_timeout: int = default("check_timeout")
    backup_jobs_endpoint: str = default("backup_jobs_endpoint")
    task_history_limit: int = default("task_history_limit")
    task_log_limit: int = default("task_log_limit")
    history_days: int = default("history_days")
    max_workers: int = default("max_workers")
    grace_s: int = default("grace_s")
    max_age_s: tuple[int, int] = default("max_age_s")
    timezone: str | None = None
    pbs_content: bool = default("pbs_content")
    cache_file: str | None = None
    use_cache: bool = default("use_cache")
    lang: str = default("lang")
    max_output: int = default("max_output")
    cluster: str | None = None
    # category key -> (warning range, critical range); see analysis/thresholds.py
    thresholds: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    ignore: tuple[Any, ...] = ()
    secret_warnings: tuple[str, ...] = ()  # e.g. secret file readable by others
    # Proxmox Backup Server API (pbs_config.py); empty: PVE's storage content only
    pbs_servers: tuple[Any, ...] = ()
    pbs_verify_max_age_s: int = default("pbs_verify_max_age_s")
    # datastore space: Nagios ranges on the used percentage (None: no threshold)
    storage_used: tuple[str | None, str | None] = (
        default("warn_storage_used"),
        default("crit_storage_used"),
    )
    # Settings field -> where its value came from, e.g. "PVE_VERIFY_TLS (environment)"
    origins: dict[str, str] = field(default_factory=dict)

    def origin(self, name: str, fallback: str) -> str:
        """Where setting ``name`` came from, for messages; ``fallback`` when unknown."""
        return self.origins.get(name, fallback)

    @property
    def api_urls(self) -> tuple[str, ...]:
        return tuple(h + API_PATH for h in self.hosts)


# --------------------------------------------------------------------------- sources


def read_yaml_file(path: str) -> dict[str, Any]:
    try:  # imported here: a run without a config file does without (``cli``)
        import yaml
    except ImportError:
        raise MissingModuleError("yaml") from None
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must be a mapping of settings")
    return data


def _select_profile(data: dict[str, Any], cluster: str | None, path: str) -> dict[str, Any]:
    unknown = sorted(str(k) for k in data if k not in _YAML_KEYS)
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    base = {k: v for k, v in data.items() if k != "clusters"}
    clusters = data.get("clusters") or {}
    if not isinstance(clusters, dict):
        raise ConfigError(f"config file {path}: clusters must be a mapping of name: settings")
    if cluster is None:
        return base
    if cluster not in clusters:
        known = ", ".join(sorted(str(k) for k in clusters)) or "none"
        raise ConfigError(f"config file {path}: no cluster {cluster!r} (known: {known})")
    profile = clusters[cluster] or {}
    if not isinstance(profile, dict):
        raise ConfigError(f"config file {path}: cluster {cluster!r} must be a mapping")
    bad = sorted(str(k) for k in profile if k not in _YAML_KEYS or k == "clusters")
    if bad:
        raise ConfigError(f"config file {path}: cluster {cluster!r}: unknown setting {bad[0]!r}")
    return {**base, **profile}


def read_env_file(path: str) -> dict[str, str]:
    try:  # imported here: a run without an env file does without (``cli``)
        from dotenv import dotenv_values
    except ImportError:
        raise MissingModuleError("dotenv") from None
    try:
        with open(path, encoding="utf-8") as fh:
            values = dotenv_values(stream=fh)
    except OSError as exc:
        raise ConfigError(f"cannot read env file {path}: {exc.strerror}") from None
    return {k: v for k, v in values.items() if v is not None}


def read_secret_file(path: str) -> tuple[Secret, tuple[str, ...]]:
    try:
        st = os.stat(path)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read token secret file {path}: {exc.strerror}") from None
    except ValueError:  # e.g. a NUL byte in the path
        raise ConfigError("token secret file: not a valid path") from None
    warnings: tuple[str, ...] = ()
    if st.st_mode & stat.S_IRWXO:  # group read (0640 root:nagios) is the documented setup
        mode = f"{stat.S_IMODE(st.st_mode):04o}"
        warnings = (Msg("secret_file_open", path=path, mode=mode),)
    secret = text.strip()
    if not secret or not _printable_line(secret):
        raise ConfigError(f"token secret file {path} must hold only the secret, on one line")
    return Secret(secret), warnings


# --------------------------------------------------------------------------- merge


@dataclass(frozen=True)
class Sources:
    """The raw layers, highest precedence first.

    ``cli`` holds the values of the settings' flags by Spec name (a setting without a
    flag has none), the threshold flags' under ``thresholds`` and ``cluster``.
    """

    cli: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    env_file: Mapping[str, str] = field(default_factory=dict)
    env_file_path: str | None = None
    yaml: Mapping[str, Any] = field(default_factory=dict)
    yaml_path: str | None = None


def merge(sources: Sources) -> Settings:
    """Validate and merge the layers into :class:`Settings` (raises ConfigError)."""
    values: dict[str, Any] = {}
    layer: dict[str, int] = {}
    origins: dict[str, str] = {}
    for spec in SPECS:
        raw, where, layer[spec.name] = _pick(spec, sources)
        if raw is None:
            continue
        origins[spec.name] = where
        try:
            values[spec.name] = spec.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}{_hint(spec, raw, layer[spec.name])}") from None

    values["thresholds"] = _merged_thresholds(sources)

    secret_file = values.pop("token_secret_file", None)
    warnings: tuple[str, ...] = ()
    if secret_file and layer["token_secret_file"] < layer["token_secret"]:
        values.pop("token_secret", None)  # the secret file was given at a higher layer
    if "token_secret" not in values and secret_file:
        values["token_secret"], warnings = read_secret_file(secret_file)
    if values.get("ca_bundle"):
        check_ca_bundle(values["ca_bundle"], origins["ca_bundle"])
    cluster = sources.cli.get("cluster")
    _merge_pbs(values, sources)
    return Settings(**values, secret_warnings=warnings, cluster=cluster, origins=origins)


def _merged_thresholds(sources: Sources) -> dict[str, Any]:
    """YAML thresholds overridden key by key by the flags; errors name their source."""
    yaml_part = _thresholds(sources.yaml.get("thresholds") or {})
    cli_part = _thresholds(sources.cli.get("thresholds") or {})
    resolve_thresholds(yaml_part, lambda n: f"thresholds.{n} (config file {sources.yaml_path})")
    resolve_thresholds(cli_part, lambda n: _flag_origin("--" + n.replace("_", "-")))
    return resolve_thresholds({**yaml_part, **cli_part})


def _hint(spec: Spec, raw: object, layer: int) -> str:
    """A hint for a value given to the wrong setting: a CA file as ``verify_tls``."""
    text = str(raw).strip()
    if spec.name == "verify_tls" and ("/" in text or text.lower().endswith((".pem", ".crt"))):
        ca = SPEC_BY_NAME["ca_bundle"]  # named as in the layer the wrong value came from
        name = (ca.flag.name if ca.flag else ca.env, ca.env, ca.env, ca.yaml)[min(layer, 3)]
        return f"; to verify PVE's certificate with a CA file, set {name} to {text!r}"
    return ""


def check_ca_bundle(path: str, where: str) -> None:
    """The CA bundle must exist and hold PEM certificates (a DER file does not)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read CA bundle {path}: {exc.strerror}") from None
    except ValueError:  # e.g. a NUL byte in the path
        raise ConfigError(f"{where}: not a valid path") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise ConfigError(
            f"{where}: {path} is not a PEM CA bundle (no '-----BEGIN CERTIFICATE-----' "
            f"line); convert a DER certificate with: openssl x509 -inform der -in {path} "
            "-out ca.pem"
        )


def _merge_pbs(values: dict[str, Any], sources: Sources) -> None:
    """PBS servers (pbs_config.py) and the datastore-space thresholds, into ``values``."""
    from pve_backup_report.pbs_config import load_pbs_servers

    values["pbs_servers"] = load_pbs_servers(
        sources.environ, sources.env_file, sources.yaml.get("pbs"), sources.yaml_path
    )
    warn = values.pop("warn_storage_used", default("warn_storage_used"))
    crit = values.pop("crit_storage_used", default("crit_storage_used"))
    values["storage_used"] = (warn or None, crit or None)


def _flag_origin(flag: str) -> str:
    """A flag, and the Icinga custom variable the CheckCommand sets it from."""
    return f"{flag} (Icinga: vars.pve_backup_{flag.lstrip('-').replace('-', '_')})"


def _pick(spec: Spec, s: Sources) -> tuple[Any, str, int]:
    """The raw value, where it came from, and its layer (0 = flags, highest)."""
    if spec.flag is not None and s.cli.get(spec.name) is not None:
        return s.cli[spec.name], _flag_origin(spec.flag.name), 0
    if spec.env and s.environ.get(spec.env) not in (None, ""):
        return s.environ[spec.env], f"{spec.env} (environment)", 1
    if spec.env and s.env_file.get(spec.env) not in (None, ""):
        return s.env_file[spec.env], f"{spec.env} (env file {s.env_file_path})", 2
    if s.yaml.get(spec.yaml) is not None:
        return s.yaml[spec.yaml], f"{spec.yaml} (config file {s.yaml_path})", 3
    return None, "", 4


def load_settings(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    config_path: str | None,
    env_file: str | None,
    cluster: str | None = None,
) -> Settings:
    """Read the ``.env`` and YAML files and merge everything (raises ConfigError).

    ``env_file`` None means ``./.env`` when it exists; an explicit path must exist.
    """
    env_values: dict[str, str] = {}
    env_path = env_file
    if env_path is None and Path(".env").is_file():
        env_path = ".env"
    if env_path is not None:
        env_values = read_env_file(env_path)
    yaml_values: dict[str, Any] = {}
    if config_path:
        yaml_values = _select_profile(read_yaml_file(config_path), cluster, config_path)
    elif cluster:
        raise ConfigError("--cluster needs a config file (--config) with a clusters: section")
    return merge(
        Sources(
            cli={**cli, "cluster": cluster},
            environ=environ,
            env_file=env_values,
            env_file_path=env_path,
            yaml=yaml_values,
            yaml_path=config_path,
        )
    )


def require_connection(settings: Settings) -> None:
    """Raise ConfigError unless host, token id and secret are all set."""
    if not settings.hosts:
        raise ConfigError(f"no PVE host: set {_set_by('hosts')} in the config file")
    if not settings.token_id:
        raise ConfigError(
            f"no API token id (user@realm!tokenname): set {_set_by('token_id')} in the config file"
        )
    if not settings.token_secret:
        raise ConfigError(
            f"no API token secret: set {SPEC_BY_NAME['token_secret'].env} or a secret file "
            f"({_set_by('token_secret_file')})"
        )


def _set_by(name: str) -> str:
    """Where setting ``name`` is set, for messages: ``--host, PVE_HOST or host:``."""
    spec = SPEC_BY_NAME[name]
    names = [n for n in (spec.flag.name if spec.flag else None, spec.env) if n]
    return f"{', '.join(names)} or {spec.yaml}:"
