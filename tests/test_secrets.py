"""Secret hygiene and TLS: a canary secret through every command, mode and failure.

The token secret must never appear in stdout, stderr, a report file, a dump or the text of
an exception, whatever goes wrong: API errors that echo the request, a crash inside the
collection (in the main thread or a worker), configuration mistakes. A secret file that
others can read is warned about. TLS is verified by default; a wrong certificate or pin
is a clear UNKNOWN naming the host, and disabled verification is visible in every output.

The monitoring check runs as a real process (nagiosplugin exits); the other modes run
in-process through ``cli.run``. Processes run concurrently: they mostly wait.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from builders import scenario_file
from pve_backup_report import cli
from pve_backup_report.config import Secret, Settings, redact
from pve_backup_report.errors import ApiHttpError
from pve_sim import Scenario, Simulator

HERE = Path(__file__).parent
NOW = "2026-11-20T12:00:00Z"
CANARY = "canary-hyg13ne-5ecret-0451"
TOKEN_ID = "monitor@pve!check"
AUTH_ECHO = f"PVEAPIToken={TOKEN_ID}={CANARY}"


def scenario(**changes: Any) -> dict[str, Any]:
    """faults.yaml with the canary as the token secret and a failed backup of VM 101."""
    data = scenario_file("faults")
    data["token"]["secret"] = CANARY
    task = data["tasks"][0]
    task["status"] = "job errors"
    task["log"] = task["log"].replace(
        "INFO: Finished Backup of VM 101 (00:01:50)",
        "ERROR: Backup of VM 101 failed - broken pipe",
    )
    data.update(changes)
    return data


def env_for(
    sim: Simulator | None, cache: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    env["XDG_CACHE_HOME"] = str(cache)
    if sim is not None:
        env.update(PVE_HOST=sim.url, PVE_API_TOKEN_ID=sim.token_id, PVE_API_TOKEN_SECRET=CANARY)
    env.update(extra or {})
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str
    files: dict[str, str]  # files the run wrote (report, cache), by name

    @property
    def everything(self) -> str:
        return self.out + self.err + "".join(self.files.values())


# A monkeypatch applied before main(): ``python -c WRAPPER PATCH args...``.
WRAPPER = """\
import os, sys
patch = sys.argv.pop(1)
exec(patch)
from pve_backup_report.cli import main
sys.argv[0] = "check_pve_backup"
main(sys.argv[1:])
"""


def process(
    args: Sequence[str], env: Mapping[str, str], patch: str | None = None, cwd: Path = HERE
) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "pve_backup_report", *args]
    if patch is not None:
        cmd = [sys.executable, "-c", WRAPPER, patch, *args]
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True, timeout=60, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def run_all(jobs: Mapping[str, Callable[[], Run]], workers: int = 4) -> dict[str, Any]:
    def guarded(fn: Callable[[], Run]) -> Any:
        try:
            return fn()
        except Exception:
            return traceback.format_exc()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {k: pool.submit(guarded, fn) for k, fn in jobs.items()}
        return {k: f.result() for k, f in futures.items()}


def files_in(*dirs: Path) -> dict[str, str]:
    out = {}
    for d in dirs:
        for p in d.rglob("*") if d.exists() else ():
            if p.is_file():
                out[str(p.relative_to(d))] = p.read_text(encoding="utf-8", errors="replace")
    return out


# --------------------------------------------------------------------------- check mode

# name -> (scenario changes, extra arguments, monkeypatch run before main())
CRASH_COLLECTOR = (
    "import pve_backup_report.pipeline as m\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('collector exploded holding ' + os.environ['PVE_API_TOKEN_SECRET'])\n"
    "m.collect_inventory = boom\n"
)
CRASH_WORKER = (
    "import pve_backup_report.collect.tasks as m\n"
    "def boom(*a, **k):\n"
    "    raise KeyError({'Authorization': 'PVEAPIToken=x=' + os.environ['PVE_API_TOKEN_SECRET']})\n"
    "m._fetch_log = boom\n"
)
CRASH_CLIENT = (
    "import pve_backup_report.collect.pve_client as m\n"
    "def boom(self, *a, **k):\n"
    "    raise ValueError(f'session {self._headers!r}')\n"
    "m.PveClient.get_page = boom\n"
)
CHECK_RUNS: dict[str, tuple[dict[str, Any], list[str], str | None]] = {
    "default": ({}, [], None),
    "-v": ({}, ["-v"], None),
    "-vv": ({}, ["-vv"], None),
    "-vvv": ({}, ["-vvv"], None),
    "report": ({}, ["-v", "--report", "{tmp}/report.md"], None),
    "report-fr": ({}, ["--report", "{tmp}/rapport.md", "--lang", "fr"], None),
    "cache": ({}, ["-vvv"], None),  # with the task cache (the other runs use --no-cache)
    # API errors that echo the request's Authorization header back
    "echo-500": (
        {"faults": [{"path": "/cluster/backup", "status": 500, "message": f"proxy: {AUTH_ECHO}"}]},
        ["-vvv"],
        None,
    ),
    "echo-403": (
        {"faults": [{"path": "/nodes/*/tasks", "status": 403, "message": f"denied {AUTH_ECHO}"}]},
        ["-vvv", "--report", "{tmp}/report.md"],
        None,
    ),
    "echo-html": (
        {"faults": [{"path": "/storage", "body": f"{CANARY}<html>{AUTH_ECHO}</html>"}]},
        ["-vvv"],
        None,
    ),
    "echo-401-everywhere": (
        {"faults": [{"path": "/*", "status": 401, "message": f"bad token {AUTH_ECHO}"}]},
        ["-vvv", "--report", "{tmp}/report.md"],
        None,
    ),
    "echo-log-error": (
        {"faults": [{"path": "/nodes/*/tasks/*/log", "status": 500, "message": AUTH_ECHO}]},
        ["-vvv"],
        None,
    ),
    "unreachable": ({}, ["-vvv"], None),  # PVE_HOST points at a closed port
    "timeout": (
        {"faults": [{"path": "/cluster/resources", "delay_ms": 20000}]},
        ["-vvv", "-t", "2"],
        None,
    ),
    "crash-collector": ({}, [], CRASH_COLLECTOR),
    "crash-collector-vvv": ({}, ["-vvv"], CRASH_COLLECTOR),
    "crash-worker": ({}, ["-vvv"], CRASH_WORKER),
    "crash-client": ({}, ["-vvv"], CRASH_CLIENT),
}
# the state each run must end in
CHECK_CODES = {
    "default": 2,
    "-v": 2,
    "-vv": 2,
    "-vvv": 2,
    "report": 2,
    "report-fr": 2,
    "cache": 2,
    "echo-500": 3,
    "echo-403": 1,  # task history unreadable; PBS still shows fresh snapshots
    "echo-html": 3,
    "echo-401-everywhere": 3,
    "echo-log-error": 1,  # the failure of 101 is in the unreadable log
    "unreachable": 3,
    "timeout": 3,
    "crash-collector": 3,
    "crash-collector-vvv": 3,
    "crash-worker": 3,
    "crash-client": 3,
}


@pytest.fixture(scope="module")
def check_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def job(name: str) -> Callable[[], Run]:
        changes, args, patch = CHECK_RUNS[name]
        # mktemp is not thread-safe: make the directories before the parallel runs
        tmp = tmp_path_factory.mktemp(name.strip("-"))
        cache = tmp_path_factory.mktemp("cache")

        def go() -> Run:
            argv = [a.replace("{tmp}", str(tmp)) for a in args]
            argv = ["--now", NOW, *argv] + ([] if name == "cache" else ["--no-cache"])
            with Simulator(Scenario.from_dict(scenario(**changes))) as sim:
                extra = {"PVE_HOST": "http://127.0.0.1:9"} if name == "unreachable" else {}
                code, out, err = process(argv, env_for(sim, cache, extra), patch)
            return Run(code, out, err, files_in(tmp, cache))

        return go

    return run_all({name: job(name) for name in CHECK_RUNS})


@pytest.mark.parametrize("name", list(CHECK_RUNS))
def test_check_never_shows_the_secret(check_runs: dict[str, Any], name: str) -> None:
    run = check_runs[name]
    assert isinstance(run, Run), run
    assert CANARY not in run.everything
    assert run.code == CHECK_CODES[name], run.out + run.err
    if "-vvv" not in CHECK_RUNS[name][1]:
        assert "Traceback" not in run.out + run.err
    if ("echo" in name and name != "echo-log-error") or name == "crash-client":
        assert "********" in run.out  # the echoed text is shown, with the secret masked


def test_reports_and_cache_were_written(check_runs: dict[str, Any]) -> None:
    """The scans above looked at real files."""
    assert "report.md" in check_runs["report"].files
    assert "rapport.md" in check_runs["report-fr"].files
    assert any(n.endswith(".json") for n in check_runs["cache"].files)
    assert "report.md" in check_runs["echo-403"].files


def test_crash_is_one_redacted_line(check_runs: dict[str, Any]) -> None:
    run = check_runs["crash-collector"]
    line = "PVE_BACKUP UNKNOWN - internal error: RuntimeError: collector exploded holding ********"
    assert run.out == line + "\n"
    vvv = check_runs["crash-collector-vvv"]
    assert vvv.out.startswith("PVE_BACKUP UNKNOWN - internal error: RuntimeError: collector")
    assert "Traceback (most recent call last)" in vvv.out  # only at -vvv
    assert "KeyError" in check_runs["crash-worker"].out


# --------------------------------------------------------------------------- other modes


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(Scenario.from_dict(scenario())) as s:
        yield s


def run_in_process(
    argv: Sequence[str],
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> tuple[int, str]:
    """``cli.run`` as main() would call it, with main()'s handling of errors."""
    for k in [k for k in os.environ if k.startswith("PVE_")]:
        monkeypatch.delenv(k)
    for k, v in env_for(sim, tmp_path / "cache").items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.run(["--now", NOW, *argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 3
    captured = capsys.readouterr()
    return code, captured.out + captured.err


MODES = [
    ["--dump-inventory"],
    ["--dump-inventory", "--format", "json"],
    ["--dump-coverage"],
    ["--dump-coverage", "--format", "json"],
    ["--dump-report-data"],
    ["--dump-report-data", "--format", "json"],
    ["--check-api"],
    ["--check-api", "--format", "json"],
    ["--explain-schedule", "mon..fri 21:00", "--tz", "Europe/Paris"],
]


@pytest.mark.parametrize("argv", MODES, ids=[" ".join(m) for m in MODES])
def test_modes_never_show_the_secret(
    sim: Simulator,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out = run_in_process(argv, sim, monkeypatch, capsys, tmp_path)
    assert code in (0, 1), out
    assert out.strip()
    assert CANARY not in out
    if "json" in argv:
        json.loads(out)


@pytest.mark.parametrize("argv", MODES[:-1], ids=[" ".join(m) for m in MODES[:-1]])
def test_modes_mask_a_secret_echoed_by_the_api(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    faults = [
        {"path": "/cluster/backup", "status": 500, "message": f"proxy: {AUTH_ECHO}"},
        {"path": "/pools", "body": f"{AUTH_ECHO} <html>"},
        {"path": "/nodes/*/tasks/*/log", "status": 403, "message": AUTH_ECHO},
    ]
    with Simulator(Scenario.from_dict(scenario(faults=faults))) as s:
        try:
            code, out = run_in_process(argv, s, monkeypatch, capsys, tmp_path)
        except Exception:  # main() would print this one redacted line
            code, out = 3, redact(traceback.format_exc())
    assert CANARY not in out
    assert "********" in out or code == 3, out


def test_exception_text_never_holds_the_secret() -> None:
    secret = Secret(CANARY)
    settings = Settings(hosts=("https://pve:8006",), token_id=TOKEN_ID, token_secret=secret)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr(settings)):
        assert CANARY not in text
    err = ApiHttpError("/x", 500, redact(f"echo {AUTH_ECHO}"))
    assert CANARY not in str(err) and CANARY not in repr(err)
    masked = redact(f"a {CANARY} b {CANARY}")
    assert CANARY not in masked and masked.count("********") >= 2


# --------------------------------------------------------------------------- secret leaks (bugs)


def test_secret_echoed_in_pve_data_is_masked(tmp_path: Path) -> None:
    data = scenario()
    data["guests"][0]["description"] = f"monitoring token: {CANARY}"
    data["guests"][2]["tags"] = f"t-{CANARY}"
    data["tasks"][0]["log"] = data["tasks"][0]["log"].replace(
        "failed - broken pipe", f"failed - hook said {AUTH_ECHO}"
    )
    report = tmp_path / "r.md"
    with Simulator(Scenario.from_dict(data)) as s:
        env = env_for(s, tmp_path / "cache")
        outputs = [process(["--now", NOW, "-v", "--report", str(report)], env)[1]]
        for mode in ("--dump-inventory", "--dump-coverage", "--dump-report-data"):
            outputs.append(process(["--now", NOW, mode], env)[1])
    outputs.append(report.read_text())
    assert "vm 101 mail" in outputs[0]
    for text in outputs:
        assert CANARY not in text


def test_report_render_crash_is_redacted(tmp_path: Path) -> None:
    patch = (
        "import pve_backup_report.output.report as m\n"
        "def boom(*a, **k):\n"
        "    raise RuntimeError('render failed for ' + os.environ['PVE_API_TOKEN_SECRET'])\n"
        "m.render_report = boom\n"
    )
    with Simulator(Scenario.from_dict(scenario())) as s:
        code, out, err = process(
            ["--now", NOW, "--no-cache", "--report", str(tmp_path / "r.md")],
            env_for(s, tmp_path / "cache"),
            patch,
        )
    assert code == 2
    assert "report not written: cannot render it (RuntimeError: render failed for ********)" in out
    assert CANARY not in out + err


# --------------------------------------------------------------------------- configuration


def config_run(args: Sequence[str], extra: Mapping[str, str], tmp_path: Path) -> tuple[int, str]:
    env = env_for(None, tmp_path / "cache", {"PVE_HOST": "http://127.0.0.1:9", **extra})
    code, out, err = process(["--now", NOW, *args], env, cwd=tmp_path)
    return code, out + err


def assert_refused_unechoed(
    cases: list[tuple[list[str], dict[str, str], str]], tmp_path: Path
) -> None:
    """Each case (arguments, environment, expected text) is a configuration error:
    exit 3, the text said, the secret not echoed, no traceback."""
    for args, extra, text in cases:
        code, out = config_run(args, extra, tmp_path)
        assert code == 3, out
        assert text in out
        assert CANARY not in out
        assert "Traceback" not in out


def test_config_errors_do_not_echo_the_secret(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text(f"api_token_secret: {CANARY}\nhost: [unclosed\n")
    typo = tmp_path / "typo.yaml"
    typo.write_text(f"api_token_secreet: {CANARY}\n")
    two_lines = tmp_path / "two-lines.secret"
    two_lines.write_text(f"{CANARY}\n{CANARY}\n")
    two_lines.chmod(0o600)
    dotenv = tmp_path / "bad.env"
    dotenv.write_text(f"PVE_API_TOKEN_SECRET={CANARY}\nPVE_TIMEOUT=soon\n")
    cases: list[tuple[list[str], dict[str, str], str]] = [
        (["--config", str(bad_yaml)], {}, "config file"),
        (["--config", str(typo)], {}, "unknown setting 'api_token_secreet'"),
        (["--token-secret-file", str(two_lines)], {"PVE_API_TOKEN_ID": TOKEN_ID},
         "must hold only the secret, on one line"),
        (["--env-file", str(dotenv)], {"PVE_API_TOKEN_ID": TOKEN_ID}, "PVE_TIMEOUT"),
        ([], {"PVE_API_TOKEN_ID": TOKEN_ID, "PVE_API_TOKEN_SECRET": CANARY, "PVE_TIMEOUT": "-1"},
         "PVE_TIMEOUT"),
    ]  # fmt: skip
    assert_refused_unechoed(cases, tmp_path)


def test_secret_with_a_control_character_is_refused_unechoed(tmp_path: Path) -> None:
    """A secret holding a control character (a value on two lines in the environment or
    YAML) would reach the Authorization header, which urllib3 refuses with an error
    quoting the header whole: the check said "internal error: ValueError: Invalid header
    value b'PVEAPIToken=...=<secret>...'". It is a configuration error now (exit 3, the
    secret not echoed), for PVE's secret and PBS's, from every layer."""
    two_lines = tmp_path / "two-lines.yaml"
    two_lines.write_text(f'api_token_id: "{TOKEN_ID}"\napi_token_secret: "{CANARY}\\nX: y"\n')
    carriage = tmp_path / "cr.secret"
    carriage.write_text(f"{CANARY}\r{CANARY}\n")
    carriage.chmod(0o600)
    pve = {"PVE_API_TOKEN_ID": TOKEN_ID, "PVE_API_TOKEN_SECRET": CANARY}
    pbs = {"PBS_HOST": "pbs.example.org", "PBS_API_TOKEN_ID": "monitor@pbs!check"}
    printable = "must be one line of printable characters"
    cases: list[tuple[list[str], dict[str, str], str]] = [
        ([], {**pve, "PVE_API_TOKEN_SECRET": f"{CANARY}\nX: y"}, printable),
        ([], {**pve, "PVE_API_TOKEN_SECRET": f"{CANARY}\x7f"}, printable),
        (["--config", str(two_lines)], {}, printable),
        (["--token-secret-file", str(carriage)], {"PVE_API_TOKEN_ID": TOKEN_ID},
         "must hold only the secret, on one line"),
        ([], {**pve, **pbs, "PBS_API_TOKEN_SECRET": f"{CANARY}\tx"}, printable),
    ]  # fmt: skip
    assert_refused_unechoed(cases, tmp_path)


def test_token_id_holding_the_secret_is_not_echoed(tmp_path: Path) -> None:
    code, out = config_run(
        [],
        {"PVE_API_TOKEN_ID": f"{TOKEN_ID}={CANARY}", "PVE_API_TOKEN_SECRET": CANARY},
        tmp_path,
    )
    assert code == 3 and "PVE_API_TOKEN_ID" in out
    assert CANARY not in out


def test_secret_given_on_the_command_line_is_not_echoed(tmp_path: Path) -> None:
    code, out = config_run(["--token-secret", CANARY], {"PVE_API_TOKEN_ID": TOKEN_ID}, tmp_path)
    assert code == 3
    assert CANARY not in out


def test_secret_file_permissions(tmp_path: Path) -> None:
    """0640 (root:nagios, as documented) is fine; a secret file other users can read is a
    warning anomaly in the output. Nothing goes to stderr: Icinga 2 merges it into the
    output, where it became the status line."""
    secret_file = tmp_path / "token.secret"
    secret_file.write_text(CANARY + "\n")
    with Simulator(Scenario.from_dict(scenario())) as s:
        for mode, warned in ((0o600, False), (0o400, False), (0o640, False), (0o604, True)):
            secret_file.chmod(mode)
            env = env_for(s, tmp_path / "cache", {"PVE_API_TOKEN_SECRET_FILE": str(secret_file)})
            del env["PVE_API_TOKEN_SECRET"]
            code, out, err = process(["--now", NOW, "--no-cache", "-v"], env)
            assert code == 2, out  # the check ran: 101 failed
            assert out.startswith("PVE_BACKUP CRITICAL - 1 failed backup (vm 101 mail)")
            assert err == "", (oct(mode), err)
            line = f"[warning] config: token secret file {secret_file} is accessible to every"
            assert (line in out) is warned, (oct(mode), out)
            assert CANARY not in out + err
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o604  # the check never changes it


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Certs:
    ca: Path
    other_ca: Path
    wrong_name: tuple[Path, Path]  # cert, key for pve.example.invalid
    expired: tuple[Path, Path]  # cert, key for 127.0.0.1, expired yesterday
    future: tuple[Path, Path]  # cert, key for 127.0.0.1, valid from tomorrow


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(d / "other-ca.pem"))

    def leaf(name: str, *identities: str, **kw: Any) -> tuple[Path, Path]:
        cert = ca.issue_cert(*identities, **kw)
        cert.cert_chain_pems[0].write_to_path(str(d / f"{name}.pem"))
        cert.private_key_pem.write_to_path(str(d / f"{name}.key"))
        return d / f"{name}.pem", d / f"{name}.key"

    now = dt.datetime.now(dt.timezone.utc)
    return Certs(
        ca=d / "ca.pem",
        other_ca=d / "other-ca.pem",
        wrong_name=leaf("wrong", "pve.example.invalid"),
        expired=leaf(
            "expired",
            "127.0.0.1",
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        ),
        future=leaf(
            "future",
            "127.0.0.1",
            not_before=now + dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=30),
        ),
    )


def tls_run(s: Simulator, tmp_path: Path, *args: str, **extra: str) -> tuple[int, str]:
    env = env_for(s, tmp_path / "cache", extra)
    code, out, err = process(["--now", NOW, "--no-cache", *args], env)
    assert CANARY not in out + err
    assert "Traceback" not in out + err
    return code, out


def test_certificate_for_another_name_is_unknown_naming_the_host(
    certs: Certs, tmp_path: Path
) -> None:
    cert, key = certs.wrong_name
    with Simulator(Scenario.from_dict(scenario()), tls=True, cert=cert, key=key) as s:
        for host in ("127.0.0.1", "localhost"):
            code, out = tls_run(
                s, tmp_path, PVE_HOST=f"https://{host}:{s.port}", PVE_CA_BUNDLE=str(certs.ca)
            )
            assert code == 3
            assert out.startswith(f"PVE_BACKUP UNKNOWN - PVE API not usable: /version: TLS "
                                  f"verification of {host}:{s.port} failed")  # fmt: skip
            assert out.count("\n") == 1
        # pinning trusts exactly this certificate, whatever its name and issuer
        code, out = tls_run(s, tmp_path, PVE_TLS_FINGERPRINT=str(s.fingerprint))
        assert code == 2, out
        assert "[TLS NOT VERIFIED]" not in out


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_certificate_for_another_name_says_so(certs: Certs, tmp_path: Path, host: str) -> None:
    cert, key = certs.wrong_name
    with Simulator(Scenario.from_dict(scenario()), tls=True, cert=cert, key=key) as s:
        code, out = tls_run(
            s, tmp_path, PVE_HOST=f"https://{host}:{s.port}", PVE_CA_BUNDLE=str(certs.ca)
        )
    assert code == 3
    assert "certificate name does not match the host" in out


def test_expired_certificate_and_unknown_ca(certs: Certs, tmp_path: Path) -> None:
    cert, key = certs.expired
    with Simulator(Scenario.from_dict(scenario()), tls=True, cert=cert, key=key) as s:
        where = f"127.0.0.1:{s.port}"
        code, out = tls_run(s, tmp_path, PVE_CA_BUNDLE=str(certs.ca))
        assert code == 3 and out.count("\n") == 1
        assert f"TLS verification of {where} failed: certificate has expired (renew it on " \
               "the server, or check this machine's clock)" in out  # fmt: skip
        code, out = tls_run(s, tmp_path, PVE_CA_BUNDLE=str(certs.other_ca))
        assert code == 3 and f"TLS verification of {where} failed" in out
        assert "unknown certificate authority" in out  # the chain fails first
        # a pinned certificate is trusted whatever its dates (troubleshooting.md)
        code, out = tls_run(s, tmp_path, PVE_TLS_FINGERPRINT=str(s.fingerprint))
        assert code == 2 and "TLS verification" not in out, out
        # --check-api says the same
        code, out = tls_run(s, tmp_path, "--check-api", PVE_CA_BUNDLE=str(certs.ca))
        assert code == 3
        assert out.startswith(
            f"PVE_BACKUP UNKNOWN - PVE API not usable: TLS verification of {where}"
        )


def test_certificate_not_yet_valid_says_so(certs: Certs, tmp_path: Path) -> None:
    """A certificate valid from tomorrow (a clock behind, or a certificate made on a
    machine whose clock is ahead): one line naming the clocks."""
    cert, key = certs.future
    with Simulator(Scenario.from_dict(scenario()), tls=True, cert=cert, key=key) as s:
        code, out = tls_run(s, tmp_path, PVE_CA_BUNDLE=str(certs.ca))
    assert code == 3 and out.count("\n") == 1
    assert "failed: certificate is not yet valid (check the clocks of this machine and of " \
           "the server)" in out  # fmt: skip


def test_https_to_a_plain_http_port_is_unknown(tmp_path: Path) -> None:
    with Simulator(Scenario.from_dict(scenario()), tls=False) as s:
        code, out = tls_run(s, tmp_path, PVE_HOST=s.url.replace("http://", "https://"))
        port = s.port
    assert code == 3
    assert f"TLS handshake with 127.0.0.1:{port} failed (is it plain HTTP?)" in out


def test_verification_is_on_by_default_and_off_is_visible(tmp_path: Path) -> None:
    report = tmp_path / "r.md"
    with Simulator(Scenario.from_dict(scenario()), tls=True) as s:
        code, out = tls_run(s, tmp_path)  # the simulator's CA is not trusted by default
        assert code == 3 and "TLS verification of 127.0.0.1" in out
        code, out = tls_run(s, tmp_path, "-v", "--report", str(report), PVE_VERIFY_TLS="false")
        assert code == 2
        first, *long = out.splitlines()
        assert first.endswith("[TLS NOT VERIFIED]")
        # the notice names the setting that turned verification off
        assert "TLS certificate verification is DISABLED by PVE_VERIFY_TLS (environment)" in long
        assert "not verified" in report.read_text()
        code, out = tls_run(s, tmp_path, "--insecure", "--check-api")
        assert "TLS not verified" in out.splitlines()[0]
        assert "warning: TLS certificate verification is DISABLED" in out
        code, out = tls_run(s, tmp_path, "--insecure", "--check-api", "--format", "json")
        assert json.loads(out)["tls"] == "not verified"


@pytest.mark.parametrize(
    "argv",
    [
        ["--dump-inventory"],
        ["--dump-inventory", "--format", "json"],
        ["--dump-coverage"],
        ["--dump-report-data"],
    ],
    ids=["inventory", "inventory-json", "coverage", "report-data"],
)
def test_dumps_show_disabled_verification(tmp_path: Path, argv: list[str]) -> None:
    with Simulator(Scenario.from_dict(scenario()), tls=True) as s:
        code, out = tls_run(s, tmp_path, "--insecure", *argv)
    assert code == 0
    assert "not verified" in out.lower() or "disabled" in out.lower()
