"""Run check_pve_backup inside a real Icinga 2 daemon and read back what Icinga parsed.

The daemon runs entirely inside a temporary directory (config, state, spool, log, cache
and run directories are redirected with ``-D`` constants), uses the shipped
``icinga/pve_backup.conf`` CheckCommand with ``PluginContribDir`` pointing at the bin
directory of the current interpreter (the virtualenv that has ``check_pve_backup``), and
writes each service's check result through a ``PerfdataWriter`` whose template records
the state, output and performance data exactly as Icinga stored them.

Typical use (one daemon start, a few seconds)::

    result = run_check_in_icinga("tests/scenarios/basic.yaml", {"pve_backup_max_age": "2d,4d"})
    assert result.state == 2
    assert result.perf["guests_total"] == "6;;;0"

Several services in one daemon (faster than one start per scenario)::

    results = run_checks_in_icinga({"basic": ("basic.yaml", {}), "other": (data, {...})})

Without ``icinga2`` installed, :func:`require_tool` fails the test when ``CI`` is set
(CI must install it with ``.ci/install-icinga.sh``) and skips it otherwise.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pve_sim import Scenario, Simulator

REPO = Path(__file__).resolve().parents[1]
ICINGA_DIR = REPO / "icinga"
COMMAND_CONF = ICINGA_DIR / "pve_backup.conf"
# The virtualenv (or prefix) running the tests: its bin dir holds check_pve_backup.
PLUGIN_DIR = Path(sys.executable).parent
PLUGIN = PLUGIN_DIR / "check_pve_backup"

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")

# Markers of one record in the PerfdataWriter file; the output may span several lines.
_BEGIN, _NAME, _STATE, _OUTPUT, _PERF, _END = (
    "@@PVEB-BEGIN@@",
    "@@NAME@@",
    "@@STATE@@",
    "@@OUTPUT@@",
    "@@PERFDATA@@",
    "@@PVEB-END@@",
)
_RECORD_RE = re.compile(
    re.escape(_BEGIN)
    + r"(?P<name>.*?)"
    + re.escape(_STATE)
    + r"(?P<state>-?\d+)"
    + re.escape(_OUTPUT)
    + r"(?P<output>.*?)"
    + re.escape(_PERF)
    + r"(?P<perfdata>.*?)"
    + re.escape(_END),
    re.DOTALL,
)
_RUNNING_RE = re.compile(r"Running command (?P<cmd>.*?): PID \d+")


# --------------------------------------------------------------------------- tools


def find_tool(name: str) -> str | None:
    """``name`` on PATH or in an sbin directory (often not on a non-root PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_tool(name: str, package: str | None = None) -> str:
    """The tool's path; FAIL when missing in CI (``CI`` set), skip otherwise."""
    path = find_tool(name)
    if path:
        return path
    msg = (
        f"{name} is not installed (Debian package {package or name}); "
        "run .ci/install-icinga.sh as root"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{msg} -- CI is set, so this test must not be skipped", pytrace=False)
    pytest.skip(msg)


def require_plugin() -> Path:
    if not PLUGIN.is_file():
        pytest.fail(
            f"{PLUGIN} not found: run the tests with the virtualenv's python after "
            "'pip install -e .' so that the console script exists next to sys.executable",
            pytrace=False,
        )
    return PLUGIN


# --------------------------------------------------------------------------- DSL


def icinga_literal(value: Any) -> str:
    """A Python value as an Icinga 2 DSL literal (strings, numbers, bools, lists, dicts)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        out = value.replace("\\", "\\\\").replace('"', '\\"')
        out = out.replace("\n", "\\n").replace("\t", "\\t")
        return f'"{out}"'
    if isinstance(value, (list, tuple)):
        return "[ " + ", ".join(icinga_literal(v) for v in value) + " ]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{icinga_literal(str(k))} = {icinga_literal(v)}" for k, v in value.items()
        )
        return "{ " + items + " }"
    raise TypeError(f"cannot express {type(value).__name__} in the Icinga DSL")


# --------------------------------------------------------------------------- parsing


def parse_plugin_output(stdout: str) -> tuple[str, str]:
    """Split plugin stdout into (text, perfdata) the way Icinga 2.13 does.

    Mirrors ``PluginUtility::ParseCheckOutput``: the output is trimmed and split at every
    CR or LF; on each line everything after the first ``|`` is performance data; the
    perfdata parts are joined with a space.
    """
    text_lines: list[str] = []
    perf_parts: list[str] = []
    for line in re.split(r"[\r\n]", stdout.strip()):
        head, sep, tail = line.partition("|")
        text_lines.append(head)
        if sep:
            perf_parts.append(tail)
    return "\n".join(text_lines), " ".join(perf_parts).strip()


def split_perfdata(perfdata: str) -> dict[str, str]:
    """``label=value;warn;crit;min;max ...`` -> {label: "value;warn;crit;min;max"}."""
    items: dict[str, str] = {}
    for token in shlex.split(perfdata):
        label, sep, rest = token.partition("=")
        if not sep:
            raise ValueError(f"malformed perfdata item {token!r} in {perfdata!r}")
        items[label] = rest
    return items


@dataclass(frozen=True)
class IcingaResult:
    """One check result as Icinga stored it."""

    service: str
    state: int  # 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    text: str  # the whole plugin output Icinga kept (status line + long output)
    perfdata: str  # Icinga's $service.perfdata$
    commands: tuple[tuple[str, ...], ...] = ()  # argv Icinga logged for this run

    @property
    def output(self) -> str:
        """The status line (first line)."""
        return self.text.split("\n", 1)[0]

    @property
    def long_output(self) -> str:
        return self.text.split("\n", 1)[1] if "\n" in self.text else ""

    @property
    def perf(self) -> dict[str, str]:
        return split_perfdata(self.perfdata)


@dataclass
class IcingaRun:
    """Everything a daemon run left behind, for assertions beyond the results."""

    results: dict[str, IcingaResult]
    commands: list[tuple[str, ...]]
    workdir: Path
    log_text: str = field(repr=False)


# --------------------------------------------------------------------------- sandbox


def run_as() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no passwd entry (containers)
        user = str(os.getuid())
    try:
        group = grp.getgrgid(os.getgid()).gr_name
    except KeyError:  # pragma: no cover
        group = str(os.getgid())
    return user, group


def _commands_of(
    name: str, services: Mapping[str, Mapping[str, Any]], commands: list[tuple[str, ...]]
) -> tuple[tuple[str, ...], ...]:
    """The logged argv of one service: all of them when it is alone, else by --host."""
    if len(services) == 1:
        return tuple(commands)
    host = services[name].get("pve_backup_host")
    hosts = [svc.get("pve_backup_host") for svc in services.values()]
    if host is None or hosts.count(host) != 1:
        return ()
    return tuple(c for c in commands if str(host) in c)


class IcingaSandbox:
    """An Icinga 2 instance whose every path lives under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        conf_files: tuple[Path, ...] = (COMMAND_CONF,),
        plugin_dir: Path = PLUGIN_DIR,
    ) -> None:
        self.icinga2 = require_tool("icinga2")
        self.workdir = workdir
        self.conf_files = conf_files
        self.plugin_dir = plugin_dir
        self.etc = workdir / "etc"
        self.dirs = {
            "ConfigDir": self.etc,
            "DataDir": workdir / "lib",
            "LogDir": workdir / "log",
            "CacheDir": workdir / "cache",
            "SpoolDir": workdir / "spool",
            "InitRunDir": workdir / "run",
        }
        self.home = workdir / "home"
        for d in (*self.dirs.values(), self.home, workdir / "spool" / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        self.main_conf = self.etc / "icinga2.conf"
        self.log_file = self.dirs["LogDir"] / "notice.log"
        self.perf_file = self.dirs["SpoolDir"] / "service-perfdata"
        self.perf_tmp = self.dirs["SpoolDir"] / "tmp" / "service-perfdata"

    # -- config ----------------------------------------------------------------------

    def defines(self) -> list[str]:
        user, group = run_as()
        args = []
        for name, path in self.dirs.items():
            args += ["-D", f"{name}={path}"]
        args += ["-D", f"RunAsUser={user}", "-D", f"RunAsGroup={group}"]
        return args

    def base_config(self) -> str:
        plugin_dir = icinga_literal(str(self.plugin_dir))
        includes = "".join(f"include {icinga_literal(str(p))}\n" for p in self.conf_files)
        return (
            f"const PluginDir = {plugin_dir}\n"
            f"const PluginContribDir = {plugin_dir}\n"
            f"const ManubulonPluginDir = {plugin_dir}\n"
            'const NodeName = "pve-backup-test"\n'
            'const ZoneName = "pve-backup-test"\n'
            'const TicketSalt = ""\n'
            "include <itl>\n"
            f"{includes}"
        )

    def write_config(self, body: str) -> Path:
        self.main_conf.write_text(self.base_config() + body, encoding="utf-8")
        return self.main_conf

    def validate(self, body: str = "") -> subprocess.CompletedProcess[str]:
        """``icinga2 daemon -C`` on the shipped files plus ``body``."""
        self.write_config(body)
        return subprocess.run(
            [self.icinga2, "daemon", "-C", "-c", str(self.main_conf), *self.defines()],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.daemon_env(),
            cwd=self.workdir,
        )

    def objects(self) -> list[dict[str, Any]]:
        """The objects the last ``validate()`` compiled (``icinga2.debug``, netstrings)."""
        data = (self.dirs["CacheDir"] / "icinga2.debug").read_bytes()
        objects = []
        pos = 0
        while pos < len(data):
            colon = data.index(b":", pos)
            length = int(data[pos:colon])
            start = colon + 1
            objects.append(json.loads(data[start : start + length]))
            pos = start + length + 1  # skip the trailing comma
        return objects

    def services(self) -> dict[str, dict[str, Any]]:
        """Compiled Service objects by full name (``host!service``) -> properties."""
        return {
            f"{o['properties']['host_name']}!{o['properties']['name']}": o["properties"]
            for o in self.objects()
            if o.get("type") == "Service"
        }

    def daemon_env(self) -> dict[str, str]:
        # A clean environment: nothing from the caller (no PVE_* leaking into the plugin).
        return {
            "PATH": os.pathsep.join([*SBIN_DIRS, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "LANG": "C.UTF-8",
        }

    def services_config(
        self, services: Mapping[str, Mapping[str, Any]], check_interval: int
    ) -> str:
        lines = [
            'object Host "pve-cluster" {\n'
            '\tcheck_command = "dummy"\n'
            "\tenable_active_checks = false\n"
            "}\n",
        ]
        for name, svc_vars in services.items():
            lines.append(f"object Service {icinga_literal(name)} {{\n")
            lines.append('\thost_name = "pve-cluster"\n')
            lines.append('\tcheck_command = "pve_backup"\n')
            lines.append(f"\tcheck_interval = {check_interval}s\n")
            lines.append(f"\tretry_interval = {check_interval}s\n")
            lines.append("\tcheck_timeout = 60s\n")
            for key, value in svc_vars.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                    raise ValueError(f"bad custom variable name {key!r}")
                lines.append(f"\tvars.{key} = {icinga_literal(value)}\n")
            lines.append("}\n")
        template = (
            f"{_BEGIN}$service.name${_STATE}$service.state_id${_OUTPUT}$service.output$"
            f"{_PERF}$service.perfdata${_END}"
        )
        lines.append(
            'object PerfdataWriter "perfdata" {\n'
            f"\tservice_perfdata_path = {icinga_literal(str(self.perf_file))}\n"
            f"\tservice_temp_path = {icinga_literal(str(self.perf_tmp))}\n"
            f"\thost_perfdata_path = {icinga_literal(str(self.perf_file) + '-host')}\n"
            f"\thost_temp_path = {icinga_literal(str(self.perf_tmp) + '-host')}\n"
            f"\tservice_format_template = {icinga_literal(template)}\n"
            "\trotation_interval = 1s\n"
            "}\n"
            'object CheckerComponent "checker" { }\n'
            'object FileLogger "notice-log" {\n'
            f"\tpath = {icinga_literal(str(self.log_file))}\n"
            '\tseverity = "notice"\n'
            "}\n"
        )
        return "".join(lines)

    # -- run -------------------------------------------------------------------------

    def _collect(self) -> dict[str, IcingaResult]:
        texts = []
        for path in sorted(self.perf_file.parent.glob(self.perf_file.name + "*")):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
        if self.perf_tmp.exists():
            texts.append(self.perf_tmp.read_text(encoding="utf-8", errors="replace"))
        results: dict[str, IcingaResult] = {}
        for text in texts:
            for m in _RECORD_RE.finditer(text):
                name = m.group("name")
                results.setdefault(
                    name,
                    IcingaResult(
                        service=name,
                        state=int(m.group("state")),
                        text=m.group("output"),
                        perfdata=m.group("perfdata").strip(),
                    ),
                )
        return results

    def run(
        self,
        services: Mapping[str, Mapping[str, Any]],
        *,
        timeout: float = 60,
        check_interval: int = 2,
    ) -> IcingaRun:
        """Start the daemon, wait for one result per service (bounded), stop it."""
        self.write_config(self.services_config(services, check_interval))
        console = (self.dirs["LogDir"] / "console.log").open("w")
        proc = subprocess.Popen(
            [self.icinga2, "daemon", "-c", str(self.main_conf), *self.defines()],
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.daemon_env(),
            cwd=self.workdir,
            start_new_session=True,  # its own process group, so we can stop all of it
        )
        deadline = time.monotonic() + timeout
        results: dict[str, IcingaResult] = {}
        try:
            while time.monotonic() < deadline:
                results = self._collect()
                if set(services) <= set(results):
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            self._stop(proc)
            console.close()
        log_text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        console_text = (self.dirs["LogDir"] / "console.log").read_text(errors="replace")
        missing = set(services) - set(results)
        if missing:
            raise AssertionError(
                f"Icinga produced no check result for {sorted(missing)} within {timeout}s "
                f"(daemon exit code {proc.returncode}).\n--- console log (tail) ---\n"
                + "\n".join(console_text.splitlines()[-40:])
            )
        commands = [
            tuple(shlex.split(m.group("cmd")))
            for m in _RUNNING_RE.finditer(log_text)
            if "check_pve_backup" in m.group("cmd")
        ]
        results = {
            name: IcingaResult(
                r.service, r.state, r.text, r.perfdata, _commands_of(name, services, commands)
            )
            for name, r in results.items()
            if name in services
        }
        return IcingaRun(
            results=results,
            commands=commands,
            workdir=self.workdir,
            log_text=log_text + "\n" + console_text,
        )

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the daemon's main process only, as Icinga's systemd unit does
        (``KillMode=mixed``): it shuts its worker down itself and writes its state file
        on the way out (a SIGTERM to the whole group could stop the worker first). SIGKILL
        to the group if anything lingers."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            # Icinga writes its state file (which tests read) while shutting down; on a
            # loaded two-core machine that can take a while, and SIGKILL would lose it
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=90)
        # The umbrella process may be gone while a worker of the same group lingers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- cluster


def free_port() -> int:
    """A TCP port free on loopback right now (for an ApiListener)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_certs(nodes: Mapping[str, IcingaSandbox]) -> None:
    """One throw-away CA; each node's certificate (CN = endpoint name) where Icinga 2.13
    looks for it: ``DataDir/certs/<name>.crt``, ``<name>.key`` and ``ca.crt``."""
    import trustme

    ca = trustme.CA(organization_name="check_pve_backup icinga test")
    for name, sandbox in nodes.items():
        certs = sandbox.dirs["DataDir"] / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        leaf = ca.issue_cert(name, common_name=name, key_type=trustme.KeyType.RSA)
        leaf.private_key_pem.write_to_path(str(certs / f"{name}.key"))
        leaf.cert_chain_pems[0].write_to_path(str(certs / f"{name}.crt"))
        ca.cert_pem.write_to_path(str(certs / "ca.crt"))


# --------------------------------------------------------------------------- helpers


ScenarioLike = Scenario | Mapping[str, Any] | str | Path


def simulator_vars(sim: Simulator) -> dict[str, Any]:
    """The custom variables pointing the CheckCommand at a running simulator."""
    values: dict[str, Any] = {
        "pve_backup_host": sim.url,
        "pve_backup_token_id": sim.token_id,
        "pve_backup_token_secret": sim.token_secret,
        "pve_backup_no_cache": True,
    }
    if sim.scenario.now is not None:
        values["pve_backup_now"] = str(sim.scenario.now)
    return values


@contextlib.contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    # Short path: Icinga and the plugin do not care, but error messages stay readable.
    with tempfile.TemporaryDirectory(prefix="pveb-icinga-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def icinga_checks(
    services: Mapping[str, tuple[ScenarioLike, Mapping[str, Any] | None]],
    *,
    workdir: Path | None = None,
    timeout: float = 60,
) -> Iterator[IcingaRun]:
    """One daemon, one service per entry, each against its own simulator.

    Yields the finished run while the simulators still serve, so a test can re-run the
    logged command lines directly (differential tests).
    """
    require_plugin()
    with contextlib.ExitStack() as stack:
        svc_vars: dict[str, dict[str, Any]] = {}
        for name, (scenario, extra) in services.items():
            sim = stack.enter_context(Simulator(scenario, tls=False))
            merged = {**simulator_vars(sim), **(extra or {})}
            # None removes a default (e.g. the env secret, to test --token-secret-file).
            svc_vars[name] = {k: v for k, v in merged.items() if v is not None}
        path = stack.enter_context(_workdir(workdir))
        yield IcingaSandbox(path).run(svc_vars, timeout=timeout)


def run_checks_in_icinga_full(
    services: Mapping[str, tuple[ScenarioLike, Mapping[str, Any] | None]],
    *,
    workdir: Path | None = None,
    timeout: float = 60,
) -> IcingaRun:
    with icinga_checks(services, workdir=workdir, timeout=timeout) as run:
        return run


def run_checks_in_icinga(
    services: Mapping[str, tuple[ScenarioLike, Mapping[str, Any] | None]],
    *,
    workdir: Path | None = None,
    timeout: float = 60,
) -> dict[str, IcingaResult]:
    return run_checks_in_icinga_full(services, workdir=workdir, timeout=timeout).results


def run_check_in_icinga(
    scenario: ScenarioLike,
    extra_vars: Mapping[str, Any] | None = None,
    *,
    workdir: Path | None = None,
    timeout: float = 60,
) -> IcingaResult:
    """Run the shipped CheckCommand once in a real Icinga 2 against ``scenario``.

    ``extra_vars`` are custom variables of the service (``pve_backup_*``); they override
    the simulator defaults (host, token id, token secret via env, ``--now`` = the
    scenario's ``now``, ``--no-cache``); a value of None removes the default.
    """
    run = run_checks_in_icinga_full(
        {"pve-backup": (scenario, extra_vars)}, workdir=workdir, timeout=timeout
    )
    return run.results["pve-backup"]


def direct_env(sim_vars: Mapping[str, Any], home: Path) -> dict[str, str]:
    """The environment Icinga gives the plugin, for running the same argv directly."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
    }
    secret = sim_vars.get("pve_backup_token_secret")
    if secret:
        env["PVE_API_TOKEN_SECRET"] = str(secret)
    return env


__all__ = [
    "COMMAND_CONF",
    "ICINGA_DIR",
    "PLUGIN_DIR",
    "IcingaResult",
    "IcingaRun",
    "IcingaSandbox",
    "direct_env",
    "find_tool",
    "free_port",
    "icinga_checks",
    "icinga_literal",
    "parse_plugin_output",
    "require_tool",
    "run_check_in_icinga",
    "run_checks_in_icinga",
    "run_checks_in_icinga_full",
    "simulator_vars",
    "split_perfdata",
    "write_certs",
]

if __name__ == "__main__":  # pragma: no cover - manual smoke run
    scenario_arg = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "tests/scenarios/basic.yaml")
    res = run_check_in_icinga(scenario_arg)
    print(json.dumps(res.__dict__, indent=2, default=str))
