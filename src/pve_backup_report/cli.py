"""Command line: parse arguments, load settings, wire the layers together. No logic here."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

EXIT_UNKNOWN = 3
UNKNOWN = "PVE_BACKUP UNKNOWN - "  # every UNKNOWN line starts like the check's own

try:  # third-party imports: a missing module is UNKNOWN, not WARNING (exit 1)
    import nagiosplugin  # noqa: F401
    import requests  # noqa: F401
    import yaml  # noqa: F401
    from dotenv import dotenv_values  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the installation
    print(
        f"{UNKNOWN}missing Python module {_exc.name}: install check_pve_backup with its "
        f"dependencies (pip install <wheel or checkout>) for {sys.executable}"
    )
    sys.exit(EXIT_UNKNOWN)

from pve_backup_report import __version__
from pve_backup_report.analysis.thresholds import CATEGORIES
from pve_backup_report.config import (
    Secret,
    Settings,
    env_names,
    load_settings,
    parse_duration,
    parse_max_age,
    redact,
    require_connection,
)
from pve_backup_report.errors import ConfigError, PveBackupError
from pve_backup_report.timeutil import parse_timestamp

PROG = "check_pve_backup"
DESCRIPTION = (
    "Checks that every Proxmox VE guest is protected by an active backup job to Proxmox "
    "Backup Server and that its latest backup succeeded recently enough. Reads the PVE API "
    "read-only with an API token; the secret comes from the environment, a .env file, a "
    "0600 secret file or the YAML config, never from the command line."
)
EPILOG = (
    "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for bad arguments, bad "
    "configuration, an unreachable API, --help and --version). "
    f"Environment: {', '.join(env_names())}. "
    "Docs: README.md and docs/."
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 (CRITICAL) on errors and 0 on --help; plugins must exit 3."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):  # never echo values: one could be a pasted secret
            words = message[len(prefix) :].split()
            message = prefix + " ".join(w if w.startswith("-") else "..." for w in words)
        print(f"{UNKNOWN}{self.prog}: {message}")  # the status line comes first
        self.print_usage(sys.stdout)
        sys.exit(EXIT_UNKNOWN)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message.rstrip())
        sys.exit(EXIT_UNKNOWN)


def _time_arg(text: str) -> int:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration_arg(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _max_age_arg(text: str) -> tuple[int, int]:
    try:
        return parse_max_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, allow_abbrev=False)
    p.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="More output: -v lists every problem guest, -vv adds collection details "
        "(endpoints, timings), -vvv debug. The secret is never shown.",
    )
    p.add_argument(
        "-t",
        "--timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="Bound the whole run; UNKNOWN when exceeded. Default: 50 (Icinga's default "
        "check timeout is 60).",
    )

    _connection_options(p)
    _mode_options(p)
    _output_options(p)
    _analysis_options(p)
    _threshold_options(p)
    return p


def _connection_options(p: argparse.ArgumentParser) -> None:
    """Options: the PVE connection."""
    g = p.add_argument_group("connection (each also settable in the environment or config file)")
    g.add_argument(
        "-H",
        "--host",
        metavar="HOSTS",
        help="PVE host(s) or URL(s), comma-separated; the next one is used when "
        "one is down (PVE_HOST). Default port 8006.",
    )
    g.add_argument("--token-id", metavar="USER@REALM!NAME", help="API token id (PVE_API_TOKEN_ID).")
    g.add_argument(
        "--token-secret-file",
        metavar="FILE",
        help="File holding only the token secret (PVE_API_TOKEN_SECRET_FILE). "
        "There is deliberately no option for the secret itself.",
    )
    g.add_argument(
        "--ca-bundle", metavar="PEM", help="CA bundle to verify PVE's certificate (PVE_CA_BUNDLE)."
    )
    g.add_argument(
        "--tls-fingerprint",
        metavar="AA:BB:...",
        help="Pin PVE's certificate by its SHA-256 fingerprint (PVE_TLS_FINGERPRINT).",
    )
    g.add_argument(
        "--insecure",
        action="store_true",
        help="Do not verify TLS certificates (PVE_VERIFY_TLS=false). Shown in the output.",
    )
    g.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="Timeout of each API request (PVE_TIMEOUT). Default: 10, kept below --timeout.",
    )
    g.add_argument("--config", metavar="FILE", help="YAML config file (see config.example.yaml).")
    g.add_argument(
        "--env-file", metavar="FILE", help="A .env file to read. Default: ./.env when present."
    )
    g.add_argument(
        "--cluster", metavar="NAME", help="Use the clusters: NAME profile of the config file."
    )
    g.add_argument(
        "--demo",
        action="store_true",
        help="Run against the bundled simulated 3-node cluster (HTTPS on loopback), "
        "to see what the plugin shows. Needs the 'demo' extra (trustme).",
    )


def _mode_options(p: argparse.ArgumentParser) -> None:
    """Options: the diagnostic modes, one at a time."""
    m = p.add_argument_group("modes (default: the monitoring check)")
    mx = m.add_mutually_exclusive_group()
    mx.add_argument(
        "--check-api",
        action="store_true",
        help="Test each API endpoint and the token's effective privileges.",
    )
    mx.add_argument(
        "--dump-inventory",
        action="store_true",
        help="Print the normalised PBS storages, jobs, guests and pools.",
    )
    mx.add_argument(
        "--dump-coverage",
        action="store_true",
        help="Print per-guest coverage with reasons, latest backups and anomalies.",
    )
    mx.add_argument(
        "--dump-report-data",
        action="store_true",
        help="Print the full data the report renders (--format json for the contract).",
    )
    mx.add_argument(
        "--explain-schedule",
        metavar="EXPR",
        help="Describe a Proxmox calendar event and list its next and previous runs.",
    )


def _output_options(p: argparse.ArgumentParser) -> None:
    """Options: what is printed and written."""
    o = p.add_argument_group("output")
    o.add_argument(
        "--report",
        metavar="PATH",
        help="Also write the full Markdown report to PATH (atomically). The check "
        "runs as usual; a report that cannot be written makes the result at least "
        "WARNING.",
    )
    o.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="Output format of the diagnostic commands. Default: text.",
    )
    o.add_argument("--lang", choices=("en", "fr"), help="Language of descriptions and the report.")
    o.add_argument(
        "--max-output",
        type=int,
        metavar="BYTES",
        help="Fit the whole check output (status line, long output, perfdata) into this "
        "many bytes: the guest lists are cut, perfdata stays complete (PVE_MAX_OUTPUT). "
        "Default: 8192, Nagios Core's limit; raise it for Icinga 2, 0 for no limit.",
    )
    o.add_argument(
        "--now",
        type=_time_arg,
        metavar="TIME",
        help="Evaluate as of this time (epoch or ISO 8601), for reproducible runs.",
    )
    o.add_argument(
        "--tz",
        metavar="ZONE",
        default="UTC",
        help="Time zone for --explain-schedule. Default: UTC.",
    )
    o.add_argument(
        "--count",
        type=int,
        default=5,
        metavar="N",
        help="How many next runs --explain-schedule lists. Default: 5.",
    )


def _analysis_options(p: argparse.ArgumentParser) -> None:
    """Options: how the cluster is judged."""
    a = p.add_argument_group("analysis")
    a.add_argument(
        "--history-days",
        type=int,
        metavar="DAYS",
        help="How far back to read vzdump tasks. Default: 15.",
    )
    a.add_argument(
        "--max-workers", type=int, metavar="N", help="Parallel API requests. Default: 16."
    )
    a.add_argument(
        "--grace",
        type=_duration_arg,
        metavar="DURATION",
        help="How long after a scheduled run its backup may still be missing "
        "(big jobs reach their last guest late). Default: 3h.",
    )
    a.add_argument(
        "--max-age",
        type=_max_age_arg,
        metavar="WARN,CRIT",
        help="Latest success older than this is WARNING/CRITICAL whatever the "
        "schedules say, e.g. 26h,50h. Default: 8d,15d.",
    )
    a.add_argument(
        "--no-cache",
        action="store_true",
        help="Do not use the task-result cache (every needed log is read again).",
    )
    a.add_argument(
        "--cache-file",
        metavar="FILE",
        help="Task-result cache file. Default: ~/.cache/check_pve_backup/"
        "tasks-<hash of hosts and token id>.json of the user running the check.",
    )


def _threshold_options(p: argparse.ArgumentParser) -> None:
    """Options: one WARNING and CRITICAL range per category, and for storage space."""
    t = p.add_argument_group(
        "thresholds (Nagios ranges on guest counts; a count outside the range alerts; '' disables)"
    )
    for c in CATEGORIES:
        flag = c.key.replace("_", "-")
        t.add_argument(
            f"--warn-{flag}",
            metavar="RANGE",
            dest=f"warn_{c.key}",
            help=f"WARNING range for {c.plural}. Default: {c.warning or 'none'}.",
        )
        t.add_argument(
            f"--crit-{flag}",
            metavar="RANGE",
            dest=f"crit_{c.key}",
            help=f"CRITICAL range for {c.plural}. Default: {c.critical or 'none'}.",
        )
    t.add_argument(
        "--warn-storage-used",
        metavar="RANGE",
        help="WARNING range for the used percentage of each PBS storage in use "
        "(PVE's storage status). Default: 85.",
    )
    t.add_argument(
        "--crit-storage-used",
        metavar="RANGE",
        help="CRITICAL range for the used percentage of each PBS storage. Default: 95.",
    )


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "hosts": args.host,
        "token_id": args.token_id,
        "token_secret_file": args.token_secret_file,
        "ca_bundle": args.ca_bundle,
        "tls_fingerprint": args.tls_fingerprint,
        "verify_tls": False if args.insecure else None,
        "request_timeout": args.request_timeout,
        "check_timeout": args.timeout,
        "lang": args.lang,
        "max_output": args.max_output,
        "history_days": args.history_days,
        "max_workers": args.max_workers,
        "grace_s": args.grace,
        "max_age_s": args.max_age,
        "use_cache": False if args.no_cache else None,
        "cache_file": args.cache_file,
        "warn_storage_used": args.warn_storage_used,
        "crit_storage_used": args.crit_storage_used,
        "thresholds": {
            f"{kind}_{c.key}": getattr(args, f"{kind}_{c.key}")
            for c in CATEGORIES
            for kind in ("warn", "crit")
            if getattr(args, f"{kind}_{c.key}") is not None
        }
        or None,
    }


@contextmanager
def _demo_settings(settings: Settings) -> Iterator[tuple[Settings, int | None]]:
    """Start the bundled simulator over HTTPS and point the settings at it.

    Also gives the scenario's clock, the default ``--now`` of a demo run; the task cache
    is off (the simulator's port, hence the cluster key, changes every run).
    """
    from dataclasses import replace
    from importlib.util import find_spec

    if find_spec("trustme") is None:  # the simulator's HTTPS certificates need it
        raise PveBackupError(
            f"--demo needs the Python package trustme: {sys.executable} -m pip install trustme"
        )
    from pve_sim import Simulator, load_scenario

    scenario = load_scenario("demo")
    with Simulator(scenario, tls=True) as sim:
        demo = replace(
            settings,
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            verify_tls=True,
            ca_bundle=str(sim.ca_path) if sim.ca_path else None,
            tls_fingerprint=None,
            use_cache=False,
            pbs_servers=_demo_pbs(sim),
        )
        yield demo, scenario.now


def _demo_pbs(sim: Any) -> tuple[Any, ...]:
    """The demo's simulated PBS, with its read-only token (DatastoreAudit)."""
    from pve_backup_report.pbs_config import PbsServer

    if sim.pbs_url is None:
        return ()
    ca = str(sim.ca_path) if sim.ca_path else None
    return (PbsServer(sim.pbs_url, sim.pbs_token_id, Secret(sim.pbs_token_secret), True, ca),)


def _effective_request_timeout(settings: Settings) -> Settings:
    from dataclasses import replace

    cap = max(1.0, settings.check_timeout - 2)
    if settings.request_timeout > cap:
        return replace(settings, request_timeout=cap)
    return settings


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.explain_schedule is not None:
        from pve_backup_report.commands import explain_schedule_mode

        return explain_schedule_mode(
            args.explain_schedule, args.now, args.tz, args.count, args.format, args.lang or "en"
        )

    settings = load_settings(
        _cli_settings(args), os.environ, args.config, args.env_file, args.cluster
    )
    if args.check_api or args.dump_inventory:  # by hand; the other modes show an anomaly
        for warning in settings.secret_warnings:
            print(f"warning: {warning}", file=sys.stderr)

    with _demo_settings(settings) if args.demo else _nullcontext(settings) as (effective, clock):
        effective = _effective_request_timeout(effective)
        require_connection(effective)
        from pve_backup_report import commands

        if args.check_api:
            return commands.check_api_mode(effective, args.format)
        now = args.now if args.now is not None else clock if clock is not None else int(time.time())
        if args.dump_inventory or args.dump_coverage or args.dump_report_data:
            kind = (
                "inventory"
                if args.dump_inventory
                else "coverage"
                if args.dump_coverage
                else "report"
            )
            return commands.dump_mode(effective, kind, args.format, now)
        return commands.check_mode(effective, now, args.verbose, args.report, args.now is not None)


@contextmanager
def _nullcontext(settings: Settings) -> Iterator[tuple[Settings, int | None]]:
    yield settings, None


def main(argv: Sequence[str] | None = None) -> NoReturn:
    try:
        code = run(argv)
    except SystemExit as exc:  # nagiosplugin and argparse exit this way
        code = exc.code if isinstance(exc.code, int) else EXIT_UNKNOWN
    except ConfigError as exc:
        print(redact(f"{UNKNOWN}configuration error: {exc}"))
        code = EXIT_UNKNOWN
    except PveBackupError as exc:
        print(redact(f"{UNKNOWN}{exc}"))
        code = EXIT_UNKNOWN
    except KeyboardInterrupt:
        print(f"{UNKNOWN}interrupted")
        code = EXIT_UNKNOWN
    except BrokenPipeError:  # output piped into head & co.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can be written
        code = EXIT_UNKNOWN
    except Exception as exc:  # last resort: one line, never a secret, traceback only at -vvv
        print(redact(f"{UNKNOWN}internal error: {type(exc).__name__}: {exc}"))
        if "-vvv" in (argv if argv is not None else sys.argv):
            import traceback

            print(redact(traceback.format_exc()))
        code = EXIT_UNKNOWN
    sys.stdout.flush()
    sys.stderr.flush()
    if argv is None:
        # The program ends here: spare the interpreter's final garbage collections the
        # traversal of everything the run built (about 0.1 s CPU on 10,000 guests).
        gc.freeze()
    if threading.active_count() > 1:
        # Requests still running after a timeout must not hold the answer back: their
        # worker threads would be joined at interpreter exit.
        os._exit(code)
    sys.exit(code)
