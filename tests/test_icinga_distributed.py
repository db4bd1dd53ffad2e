"""A distributed Icinga 2 setup: the master schedules, an agent near the cluster runs the check.

Two real ``icinga2 daemon`` processes on loopback, each with every path in its own temp
dir (see ``icinga_harness.IcingaSandbox``) and certificates from one throw-away CA:

* the **master** (zone ``master``) holds the README's layout: ``zones.d/global-templates/``
  with the shipped ``pve_backup.conf`` and ``pve_backup-service.conf``, and the Host in
  ``zones.d/master/`` with ``vars.pve_backup_command_endpoint = "agent"``; its
  ``PluginContribDir`` has no plugin at all;
* the **agent** (zone ``agent``, child of ``master``) has ``accept_config`` and
  ``accept_commands``, the global zone, the plugin in its ``PluginContribDir`` and the
  token secret in a 0600 file on its own disk (``pve_backup_token_secret_file``).

The master syncs the global zone to the agent (which reloads), sends it the check, and
records the result with a ``PerfdataWriter``. Asserted: the result on the master is the
plugin's (same state and output as running the logged argv directly), the command ran
on the agent only, the master zone's config was not synced to the agent, and ``daemon -C``
rejects the Host outside ``zones.d/<master zone>/``. Bounded: each daemon run is stopped
after the result arrives or after ``TIMEOUT`` seconds.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from icinga_harness import (
    _RECORD_RE,
    COMMAND_CONF,
    ICINGA_DIR,
    PLUGIN_DIR,
    IcingaResult,
    IcingaSandbox,
    direct_env,
    free_port,
    icinga_literal,
    parse_plugin_output,
    require_plugin,
    split_perfdata,
    write_certs,
)
from pve_sim import Simulator

pytestmark = pytest.mark.icinga

HERE = Path(__file__).parent
BASIC = HERE / "scenarios" / "basic.yaml"
SERVICE_CONF = ICINGA_DIR / "pve_backup-service.conf"
TIMEOUT = 120.0  # the agent connects, gets the config, reloads, runs the check
SERVICE = "pve-prod!pve-backup-prod"


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    sandbox: IcingaSandbox

    @property
    def zones_dir(self) -> Path:
        return self.sandbox.etc / "zones.d"

    @property
    def synced_zones(self) -> Path:
        """Where a node keeps the config it received (DataDir/api/zones)."""
        return self.sandbox.dirs["DataDir"] / "api" / "zones"


def _zones(master: Node, agent: Node) -> str:
    return (
        f'object Endpoint "master" {{ host = "127.0.0.1"; port = "{master.port}" }}\n'
        'object Zone "master" { endpoints = [ "master" ] }\n'
        f'object Endpoint "agent" {{ host = "127.0.0.1"; port = "{agent.port}" }}\n'
        'object Zone "agent" { endpoints = [ "agent" ]; parent = "master" }\n'
        'object Zone "global-templates" { global = true }\n'
    )


def _node_config(node: Node, plugin_dir: Path, zones: str, *, accept: bool) -> str:
    sb = node.sandbox
    plugin = icinga_literal(str(plugin_dir))
    flag = "true" if accept else "false"
    return (
        f"const PluginDir = {plugin}\nconst PluginContribDir = {plugin}\n"
        f"const ManubulonPluginDir = {plugin}\n"
        f'const NodeName = "{node.name}"\nconst ZoneName = "{node.name}"\n'
        'const TicketSalt = ""\ninclude <itl>\n'
        + zones
        + 'object ApiListener "api" {\n\tbind_host = "127.0.0.1"\n'
        f"\tbind_port = {node.port}\n\taccept_config = {flag}\n\taccept_commands = {flag}\n}}\n"
        'object FileLogger "notice-log" {\n'
        f'\tpath = {icinga_literal(str(sb.log_file))}\n\tseverity = "notice"\n}}\n'
    )


def _master_extra(master: Node) -> str:
    sb = master.sandbox
    template = (
        "@@PVEB-BEGIN@@$service.name$@@STATE@@$service.state_id$@@OUTPUT@@$service.output$"
        "@@PERFDATA@@$service.perfdata$@@PVEB-END@@"
    )
    return (
        'object CheckerComponent "checker" { }\n'
        'object PerfdataWriter "perfdata" {\n'
        f"\tservice_perfdata_path = {icinga_literal(str(sb.perf_file))}\n"
        f"\tservice_temp_path = {icinga_literal(str(sb.perf_tmp))}\n"
        f"\thost_perfdata_path = {icinga_literal(str(sb.perf_file) + '-host')}\n"
        f"\thost_temp_path = {icinga_literal(str(sb.perf_tmp) + '-host')}\n"
        f"\tservice_format_template = {icinga_literal(template)}\n"
        "\trotation_interval = 1s\n}\n"
    )


def _host(sim: Simulator, secret_file: Path) -> str:
    """The README's Host: connection in custom variables, the secret in a file on the agent."""
    cluster = {
        "pve_backup_host": sim.url,
        "pve_backup_token_id": sim.token_id,
        "pve_backup_token_secret_file": str(secret_file),
        "pve_backup_no_cache": True,
        "pve_backup_now": str(sim.scenario.now),
    }
    return (
        'object Host "pve-prod" {\n\tcheck_command = "dummy"\n'
        "\tenable_active_checks = false\n"
        '\tvars.pve_backup_command_endpoint = "agent"\n'
        f'\tvars.pve_backup_clusters["prod"] = {icinga_literal(cluster)}\n}}\n'
    )


def _global_templates(target: Path) -> None:
    """The shipped files, as the README copies them (``mkdir -p`` first).

    Only the service template's 15 min interval is shortened, so that the first check
    (scheduled somewhere within one interval) comes within the test's time bound.
    """
    target.mkdir(parents=True, exist_ok=True)
    (target / COMMAND_CONF.name).write_text(COMMAND_CONF.read_text())
    text = SERVICE_CONF.read_text()
    assert "check_interval = 15m" in text
    text = text.replace("check_interval = 15m", "check_interval = 2s")
    text = text.replace("retry_interval = 5m", "retry_interval = 2s")
    (target / SERVICE_CONF.name).write_text(text)


def _defines(node: Node) -> list[str]:
    # ZonesDir is derived from the built-in ConfigDir, not from the -D ConfigDir=...
    return [*node.sandbox.defines(), "-D", f"ZonesDir={node.zones_dir}"]


@contextlib.contextmanager
def _daemon(node: Node) -> Iterator[subprocess.Popen[bytes]]:
    sb = node.sandbox
    console = (sb.dirs["LogDir"] / "console.log").open("w")
    proc = subprocess.Popen(
        [sb.icinga2, "daemon", "-c", str(sb.main_conf), *_defines(node)],
        stdout=console,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=sb.daemon_env(),
        cwd=sb.workdir,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        IcingaSandbox._stop(proc)
        console.close()


def _plugin_results(master: Node) -> list[IcingaResult]:
    """Every record the master's PerfdataWriter wrote that came from the plugin itself.

    Before the agent is connected and has the CheckCommand, Icinga records its own
    UNKNOWN results ("... not connected", "... does not exist"); those are skipped.
    """
    sb = master.sandbox
    paths = [*sorted(sb.perf_file.parent.glob(sb.perf_file.name + "*")), sb.perf_tmp]
    found = []
    for path in paths:
        if not path.exists():
            continue
        for m in _RECORD_RE.finditer(path.read_text(errors="replace")):
            if m.group("name") == "pve-backup-prod" and "PVE_BACKUP " in m.group("output"):
                found.append(
                    IcingaResult(
                        "pve-backup-prod",
                        int(m.group("state")),
                        m.group("output"),
                        m.group("perfdata").strip(),
                    )
                )
    return found


def _tail(node: Node) -> str:
    lines = []
    for name in ("console.log", "notice.log"):
        path = node.sandbox.dirs["LogDir"] / name
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-25:]
            lines += [f"--- {node.name} {name}", *tail]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, Simulator]]:
    require_plugin()
    base = tmp_path_factory.mktemp("icinga-cluster")
    master = Node("master", free_port(), IcingaSandbox(base / "master"))
    agent = Node("agent", free_port(), IcingaSandbox(base / "agent"))
    write_certs({n.name: n.sandbox for n in (master, agent)})
    with Simulator(BASIC, tls=False) as sim:
        secret = agent.sandbox.workdir / "pve-prod.secret"
        secret.write_text(sim.token_secret + "\n")
        secret.chmod(0o600)
        zones = _zones(master, agent)
        no_plugins = master.sandbox.workdir / "no-plugins-here"
        master.sandbox.main_conf.write_text(
            _node_config(master, no_plugins, zones, accept=False) + _master_extra(master)
        )
        agent.sandbox.main_conf.write_text(_node_config(agent, PLUGIN_DIR, zones, accept=True))
        _global_templates(master.zones_dir / "global-templates")
        (master.zones_dir / "master").mkdir(parents=True)
        (master.zones_dir / "master" / "pve-prod.conf").write_text(_host(sim, secret))
        yield master, agent, sim


@pytest.fixture(scope="module")
def distributed_run(
    cluster: tuple[Node, Node, Simulator],
) -> tuple[Node, Node, Simulator, IcingaResult]:
    master, agent, sim = cluster
    with _daemon(agent) as agent_proc, _daemon(master) as master_proc:
        deadline = time.monotonic() + TIMEOUT
        results: list[IcingaResult] = []
        while time.monotonic() < deadline and not results:
            if master_proc.poll() is not None or agent_proc.poll() is not None:
                break
            time.sleep(0.5)
            results = _plugin_results(master)
    if not results:
        pytest.fail(
            f"no check result from the agent on the master within {TIMEOUT:.0f}s\n"
            + _tail(master)
            + "\n"
            + _tail(agent),
            pytrace=False,
        )
    return master, agent, sim, results[0]


def _commands(node: Node) -> list[tuple[str, ...]]:
    log = (
        node.sandbox.log_file.read_text(errors="replace") if node.sandbox.log_file.exists() else ""
    )
    return [
        tuple(shlex.split(m.group(1)))
        for m in re.finditer(r"Running command (.*?): PID \d+", log)
        if "check_pve_backup" in m.group(1)
    ]


def test_the_agent_runs_the_check_and_the_master_shows_its_result(
    distributed_run: tuple[Node, Node, Simulator, IcingaResult], tmp_path: Path
) -> None:
    master, agent, _sim, result = distributed_run
    assert _commands(master) == [], "the master must not run the plugin itself"
    commands = _commands(agent)
    assert commands, "the agent logged no check_pve_backup run"
    argv = commands[0]
    assert argv[0] == str(PLUGIN_DIR / "check_pve_backup")  # the agent's PluginContribDir
    assert "--token-secret-file" in argv  # the secret stayed in a file on the agent

    # Differential: what the master recorded is what the plugin prints for that argv.
    direct = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=60, env=direct_env({}, tmp_path)
    )
    text, perfdata = parse_plugin_output(direct.stdout)
    assert result.state == direct.returncode
    assert result.text == text
    direct_perf = split_perfdata(perfdata)
    assert result.perf.keys() == direct_perf.keys()
    for label, value in direct_perf.items():
        if label != "collect_time":  # the one value that differs between two runs
            assert result.perf[label] == value, label
    assert result.output.startswith("PVE_BACKUP ")
    assert int(result.perf["guests_total"].split(";")[0]) > 0


def test_only_the_global_zone_is_synced_to_the_agent(
    distributed_run: tuple[Node, Node, Simulator, IcingaResult],
) -> None:
    _master, agent, sim, _result = distributed_run
    synced = {p.name for p in agent.synced_zones.iterdir()}
    assert "global-templates" in synced
    assert "master" not in synced  # the Host (and its variables) stays on the master
    texts = "".join(p.read_text() for p in agent.synced_zones.rglob("*.conf"))
    assert 'CheckCommand "pve_backup"' in texts
    assert sim.url not in texts and sim.token_id not in texts  # the Host's variables


def test_a_host_outside_the_master_zone_directory_is_rejected(tmp_path: Path) -> None:
    """The README's warning: a Host in conf.d with command_endpoint fails ``daemon -C``."""
    node = Node("master", free_port(), IcingaSandbox(tmp_path))
    agent = Node("agent", free_port(), node.sandbox)
    write_certs({node.name: node.sandbox})  # the ApiListener needs them even for -C
    with Simulator(BASIC, tls=False) as sim:
        host = _host(sim, tmp_path / "secret")
    _global_templates(node.zones_dir / "global-templates")
    body = _node_config(node, PLUGIN_DIR, _zones(node, agent), accept=False) + host
    node.sandbox.main_conf.write_text(body)
    sb = node.sandbox
    proc = subprocess.run(
        [sb.icinga2, "daemon", "-C", "-c", str(sb.main_conf), *_defines(node)],
        capture_output=True,
        text=True,
        timeout=120,
        env=sb.daemon_env(),
        cwd=sb.workdir,
    )
    assert proc.returncode != 0
    assert "Checkable with command endpoint requires a zone" in proc.stdout + proc.stderr
