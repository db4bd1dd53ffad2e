"""End to end: the shipped CheckCommand in a real Icinga 2 daemon against the simulator.

One daemon run (module fixture, a few seconds) carries several services, each against
its own simulator. For each one we assert what Icinga itself parsed (state, output, long
output, perfdata via a PerfdataWriter), and compare it with running the very argv Icinga
logged directly (a differential test: Icinga must show exactly what the plugin printed).
The token secret is a canary that must reach the plugin (the API accepts it) while never
appearing on the command line, in Icinga's logs, its state file or the check output.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builders import basic
from icinga_harness import (
    IcingaResult,
    IcingaRun,
    direct_env,
    icinga_checks,
    parse_plugin_output,
    require_tool,
    run_check_in_icinga,
    split_perfdata,
)

pytestmark = pytest.mark.icinga

HERE = Path(__file__).parent
BASIC = HERE / "scenarios" / "basic.yaml"
CANARY = "canary-b4sic-5ecret"  # the token secret of basic.yaml
WRONG = "wr0ng-canary-secret"
# Perfdata that legitimately differs between two runs of the same check.
VOLATILE = {"collect_time"}
CATEGORIES = (
    "not-covered",
    "failed",
    "verify-failed",
    "indeterminate",
    "disabled-only",
    "non-pbs-only",
    "stale",
    "never",
)


def _no_thresholds() -> dict[str, str]:
    names = [f"{kind}_{cat.replace('-', '_')}" for cat in CATEGORIES for kind in ("warn", "crit")]
    return {f"pve_backup_{name}": "" for name in names}


def _basic() -> dict[str, Any]:
    data = basic()
    assert data["token"]["secret"] == CANARY
    return data


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "token.secret"
    path.write_text(CANARY + "\n")
    # the mode the docs recommend: 0640, readable by the monitoring user's group
    path.chmod(0o640)
    return path


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report") / "pve-backup.md"


@pytest.fixture(scope="module")
def services(secret_file: Path, report_path: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    return {
        # CheckCommand defaults: -v, the secret in the environment.
        "critical": (BASIC, {}),
        "quiet": (BASIC, {"pve_backup_verbose": 0}),
        # '' disables a threshold: Icinga must pass the empty argument through.
        "warning": (BASIC, {"pve_backup_crit_failed": "", "pve_backup_crit_not_covered": ""}),
        "ok": (BASIC, _no_thresholds()),
        "wrong-secret": (BASIC, {"pve_backup_token_secret": WRONG}),
        # Value options as Icinga passes them (numbers become strings on argv).
        "options": (
            BASIC,
            {
                "pve_backup_grace": "1h",
                "pve_backup_max_age": "26h,50h",
                "pve_backup_history_days": 10,
                "pve_backup_timeout": 30,
                "pve_backup_request_timeout": 5,
                "pve_backup_max_workers": 2,
                "pve_backup_lang": "fr",
                "pve_backup_report": str(report_path),
            },
        ),
        # No env secret at all: the plugin reads --token-secret-file instead.
        "secret-file": (
            _basic(),
            {"pve_backup_token_secret": None, "pve_backup_token_secret_file": str(secret_file)},
        ),
    }


@pytest.fixture(scope="module")
def icinga_run(
    tmp_path_factory: pytest.TempPathFactory, services: dict[str, tuple[Any, dict[str, Any]]]
) -> Iterator[IcingaRun]:
    require_tool("icinga2")
    workdir = tmp_path_factory.mktemp("icinga")
    with icinga_checks(services, workdir=workdir, timeout=60) as run:
        yield run  # the simulators keep serving for the differential runs


def _direct(result: IcingaResult, secret: str | None, home: Path) -> tuple[int, str, str]:
    assert result.commands, f"{result.service}: Icinga logged no check_pve_backup command"
    argv = list(result.commands[0])
    env = direct_env({"pve_backup_token_secret": secret}, home)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, cwd=home)
    text, perfdata = parse_plugin_output(proc.stdout)
    return proc.returncode, text, perfdata


def _stable(perfdata: str) -> dict[str, str]:
    return {k: v for k, v in split_perfdata(perfdata).items() if k not in VOLATILE}


# --------------------------------------------------------------------------- states


def test_states_as_icinga_sees_them(icinga_run: IcingaRun) -> None:
    states = {name: r.state for name, r in icinga_run.results.items()}
    assert states == {
        "critical": 2,
        "quiet": 2,
        "warning": 1,
        "ok": 0,
        "wrong-secret": 3,
        "options": 2,
        "secret-file": 2,
    }
    for name in ("critical", "quiet", "secret-file"):
        assert icinga_run.results[name].output.startswith("PVE_BACKUP CRITICAL - ")
    assert icinga_run.results["warning"].output.startswith("PVE_BACKUP WARNING - ")
    assert icinga_run.results["ok"].output.startswith("PVE_BACKUP OK - ")
    assert icinga_run.results["wrong-secret"].output.startswith("PVE_BACKUP UNKNOWN - ")
    assert "401" in icinga_run.results["wrong-secret"].output


def test_perfdata_parsed_by_icinga(icinga_run: IcingaRun) -> None:
    perf = icinga_run.results["critical"].perf
    assert perf["guests_total"] == "6;;;0"
    assert perf["guests_not_covered"] == "1;;0;0"
    assert perf["backups_failed"] == "1;;0;0"
    # Disabled thresholds leave the ranges empty; the values are unchanged.
    ok = icinga_run.results["ok"].perf
    assert ok["guests_not_covered"] == "1;;;0"
    assert ok["backups_failed"] == "1;;;0"
    for name, result in icinga_run.results.items():
        assert "|" not in result.text, name
        if name != "wrong-secret":
            assert "guests_total" in result.perf, name


def test_long_output_needs_v_which_the_command_passes_by_default(icinga_run: IcingaRun) -> None:
    loud = icinga_run.results["critical"]
    assert "-v" in loud.commands[0]
    assert loud.long_output.startswith("Guests needing attention (5):")
    assert "vm 105 db2 (node pve2): not_covered" in loud.long_output
    quiet = icinga_run.results["quiet"]
    assert not any(arg.startswith("-v") for arg in quiet.commands[0])
    assert quiet.long_output.strip() == ""
    assert quiet.output.rstrip() == loud.output.rstrip()
    assert _stable(quiet.perfdata) == _stable(loud.perfdata)


def test_value_options_reach_the_plugin(icinga_run: IcingaRun, report_path: Path) -> None:
    argv = icinga_run.results["options"].commands[0]
    pairs = dict(itertools.pairwise(argv))
    assert pairs["--grace"] == "1h"
    assert pairs["--history-days"] == "10"
    assert pairs["--timeout"] == "30"
    assert pairs["--request-timeout"] == "5"
    assert pairs["--max-workers"] == "2"
    assert pairs["--lang"] == "fr"
    assert pairs["--report"] == str(report_path)
    # the plugin, run by Icinga, wrote the Markdown report
    assert report_path.is_file() and report_path.stat().st_size > 0
    assert CANARY not in report_path.read_text()


# --------------------------------------------------------------------------- differential


@pytest.mark.parametrize(
    "name", ["critical", "quiet", "warning", "ok", "wrong-secret", "options", "secret-file"]
)
def test_icinga_shows_exactly_what_the_plugin_prints(
    icinga_run: IcingaRun, name: str, tmp_path: Path
) -> None:
    result = icinga_run.results[name]
    secret = {"wrong-secret": WRONG, "secret-file": None}.get(name, CANARY)
    code, text, perfdata = _direct(result, secret, tmp_path)
    assert result.state == code
    assert result.text == text
    assert _stable(result.perfdata) == _stable(perfdata)


# --------------------------------------------------------------------------- the secret


def test_secret_travels_in_the_environment_only(icinga_run: IcingaRun) -> None:
    assert len(icinga_run.commands) >= len(icinga_run.results)
    for argv in icinga_run.commands:
        assert argv[0].endswith("/check_pve_backup")
        assert not any(CANARY in arg or WRONG in arg for arg in argv), argv
        assert "--token-id" in argv and "--host" in argv
    # The plugin got it nevertheless: the API accepted the token (no UNKNOWN/401).
    assert icinga_run.results["critical"].state == 2
    # Nowhere in what Icinga logged or kept at runtime (its state file holds the command
    # line of the last check result), nor in any output.
    state_file = icinga_run.workdir / "lib" / "icinga2.state"
    assert "check_pve_backup" in state_file.read_text(errors="replace")
    runtime = "\n".join(
        p.read_text(errors="replace")
        for p in sorted(icinga_run.workdir.rglob("*"))
        if p.is_file()
        and not p.is_relative_to(icinga_run.workdir / "etc")
        # the compiled-object cache holds the config (custom vars) by design
        and p.name != "icinga2.debug"
    )
    assert "Running command" in icinga_run.log_text
    for secret in (CANARY, WRONG):
        assert secret not in runtime
        assert secret not in icinga_run.log_text
        for result in icinga_run.results.values():
            assert secret not in result.text + result.perfdata


def test_secret_file_mode_needs_no_env(icinga_run: IcingaRun, secret_file: Path) -> None:
    """A 0640 secret file (``root:nagios``, as the docs recommend) through the real
    daemon: Icinga 2 merges stderr into the output, so a warning about the mode would
    become the status line. The status line and the whole output are those of the same
    check with the secret in the environment."""
    assert secret_file.stat().st_mode & 0o777 == 0o640
    argv = icinga_run.results["secret-file"].commands[0]
    assert "--token-secret-file" in argv
    result = icinga_run.results["secret-file"]
    assert result.output == icinga_run.results["critical"].output
    assert result.output.splitlines()[0].startswith("PVE_BACKUP CRITICAL - ")
    assert "chmod" not in result.output and "mode" not in result.output.splitlines()[0]


# --------------------------------------------------------------------------- helper API


def test_single_check_helper(tmp_path: Path) -> None:
    """The one-call helper other tests use: ``run_check_in_icinga(scenario, vars)``."""
    require_tool("icinga2")
    result = run_check_in_icinga(
        _basic(), {"pve_backup_crit_failed": "", "pve_backup_lang": "fr"}, workdir=tmp_path
    )
    assert result.state == 2  # still the guest without any job
    assert "--lang" in result.commands[0]
    assert result.perf["backups_failed"] == "1;;;0"
