"""Command line: parse arguments, load settings, wire the layers together. No logic here."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

EXIT_UNKNOWN = 3
UNKNOWN = "PVE_BACKUP UNKNOWN - "  # every UNKNOWN line starts like the check's own

from pve_backup_report.errors import missing_module_message

try:  # third-party imports: a missing module is UNKNOWN, not WARNING (exit 1)
    import nagiosplugin  # noqa: F401
    import urllib3  # noqa: F401

    # PyYAML and python-dotenv are imported where a config or env file is read (about
    # 6 ms of every run's start, mostly PyYAML's, when imported here): only looked for
    # here; one that is there but broken is named when it is imported (MissingModuleError)
    for _module in ("yaml", "dotenv"):
        if importlib.util.find_spec(_module) is None:
            raise ModuleNotFoundError(f"No module named {_module!r}", name=_module)
except ImportError as _exc:  # pragma: no cover - depends on the installation
    print(f"{UNKNOWN}{missing_module_message(_exc.name or 'unknown')}")
    sys.exit(EXIT_UNKNOWN)

from pve_backup_report import __version__
from pve_backup_report.analysis.thresholds import CATEGORIES
from pve_backup_report.config import (
    SPEC_BY_NAME,
    SPECS,
    Secret,
    Settings,
    env_names,
    load_settings,
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


def _arg_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse's ``type`` for a parser whose ValueError says what is wrong; int and
    float stay as they are (argparse's own message: "invalid int value: 'x'")."""
    if parse in (int, float):
        return parse

    def checked(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return checked


def _setting_options(group: argparse._ActionsContainer, *names: str) -> None:
    """Add these settings' options, in this order (the --help layout is chosen here; each
    option is what its Spec declares: flag, metavar, help with its default, type)."""
    for name in names:
        spec = SPEC_BY_NAME[name]
        flag = spec.flag
        if flag is None:
            raise ValueError(f"setting {name} has no flag")
        option = (flag.short, flag.name) if flag.short else (flag.name,)
        kwargs: dict[str, Any] = {"help": flag.help.format(default=spec.default)}
        if flag.sets is not None:  # a switch
            kwargs["action"] = "store_true"
        else:
            kwargs.update(metavar=flag.metavar, choices=flag.choices)
        if flag.type is not None:
            kwargs["type"] = _arg_type(flag.type)
        group.add_argument(*option, **kwargs)


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
    _setting_options(p, "check_timeout")

    _connection_options(p)
    _mode_options(p)
    _output_options(p)
    _analysis_options(p)
    _threshold_options(p)
    return p


def _connection_options(p: argparse.ArgumentParser) -> None:
    """Options: the PVE connection."""
    g = p.add_argument_group("connection (each also settable in the environment or config file)")
    _setting_options(
        g, "hosts", "token_id", "token_secret_file", "ca_bundle", "tls_fingerprint", "verify_tls",
        "request_timeout",
    )  # fmt: skip
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
    _setting_options(o, "lang", "max_output")
    o.add_argument(
        "--now",
        type=_arg_type(parse_timestamp),
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
    _setting_options(
        a, "history_days", "max_workers", "grace_s", "max_age_s", "use_cache", "cache_file"
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
    _setting_options(t, "warn_storage_used", "crit_storage_used")


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The flags' layer for load_settings: each setting's flag (SPECS) by setting name,
    None when not given, and the threshold flags (CATEGORIES) under ``thresholds``."""
    values = {s.name: s.flag.setting_value(getattr(args, s.flag.dest)) for s in SPECS if s.flag}
    values["thresholds"] = {
        f"{kind}_{c.key}": getattr(args, f"{kind}_{c.key}")
        for c in CATEGORIES
        for kind in ("warn", "crit")
        if getattr(args, f"{kind}_{c.key}") is not None
    } or None
    return values


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


def _tune_malloc() -> bool:
    """At most two glibc malloc arenas, and on 64-bit systems blocks of 1 MiB and more
    always mapped apart (``mallopt``); False where there is no ``mallopt`` (not glibc),
    which changes nothing else.

    * ``M_ARENA_MAX`` 2: glibc gives each thread that allocates at the same time as
      another an arena of its own (up to eight per core), and keeps there what that
      thread freed. The run's 16 worker threads each decode answers (orjson's parse
      tree, answer bodies, TLS buffers are ``malloc``'d), so the freed memory of 16
      arenas stayed in the process: 17 to 28 MB of peak RSS on a warm run of 10,000
      guests (133 against 117 MB with two arenas; the CPU moved within the noise).
    * ``M_MMAP_THRESHOLD`` 1 MiB: by default glibc raises its threshold to the size of
      each mapped block freed (up to 32 MiB on 64-bit systems), so once the first large
      answer (a content list, ``/cluster/resources``, their inflated text) is freed, the
      next ones are carved from the heap and their pages stay in the process after they
      are freed.
      A fixed threshold keeps every large block mapped and returns it when freed: on
      30,000 guests the peak RSS of a ``--report`` run fell from 345-357 to 297-305 MB
      (glibc ``malloc/malloc.c``: ``free`` raises ``mp_.mmap_threshold`` unless
      ``mp_.no_dyn_threshold``, which ``do_set_mmap_threshold`` sets). Not on 32-bit
      systems: their largest threshold is 512 KiB (``DEFAULT_MMAP_THRESHOLD_MAX``), and
      glibc refuses 1 MiB there.

    ``MALLOC_ARENA_MAX`` and ``GLIBC_TUNABLES`` in the environment do the same, but a
    monitoring system starts the check with its own environment.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    arenas = bool(mallopt(_M_ARENA_MAX, 2))
    if sys.maxsize > 2**32:
        return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and arenas
    return arenas


_M_ARENA_MAX = -8  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 20


def main(argv: Sequence[str] | None = None) -> NoReturn:
    if argv is None:
        # One run, then the process ends: no cyclic garbage collection at all. The
        # pipeline pauses it anyway while it builds its data (``pipeline._gc_paused``);
        # re-enabled after it, the collector traversed everything the run had built
        # twice before the output (about 35 ms on 10,000 guests), and found nothing.
        gc.disable()
        _tune_malloc()
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
