"""The diagnostic modes: each builds its result from the lower layers and prints it.

Printing happens here and in ``cli.py`` only; the layers below return values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace

import nagiosplugin

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.api_check import connection_failure, render_api_check, run_api_check
from pve_backup_report.collect.pbs_api_check import (
    PbsCheckResult,
    render_pbs_check,
    run_pbs_api_check,
)
from pve_backup_report.collect.progress import clear as clear_progress
from pve_backup_report.collect.progress import terminal_progress
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Settings, redact
from pve_backup_report.errors import ApiError
from pve_backup_report.output.check_text import pbs_tls_notice, tls_notice
from pve_backup_report.pipeline import RunOptions, run_assessment

EXIT_UNKNOWN = 3
UNKNOWN = "PVE_BACKUP UNKNOWN - "


def check_api_mode(settings: Settings, fmt: str) -> int:
    with PveClient(settings) as client:
        result = run_api_check(client, settings.backup_jobs_endpoint)
        notice = tls_notice(client.tls_mode, client.tls_origin)
        pbs = _check_pbs_apis(settings, client) if settings.pbs_servers else []
    if pbs:  # snapshots come from PBS: PVE's write privileges for listing are not needed
        result = replace(result, privileges=tuple(c for c in result.privileges if c.required))
    failure = connection_failure(result)
    if failure is not None and fmt == "text":
        print(f"{UNKNOWN}PVE API not usable: {failure}")
        return EXIT_UNKNOWN
    if fmt == "json" and pbs:
        data = {**result.to_json(), "pbs": [r.to_json() for r, _ in pbs]}
        print(redact(json.dumps(data, indent=2, sort_keys=True)))
    else:
        print(redact(render_api_check(result, fmt)))
    if notice and fmt == "text":
        print(f"warning: {notice}")
    if fmt == "text":
        for r, pbs_notice in pbs:
            print(redact("\n" + render_pbs_check(r)))
            if pbs_notice:
                print(f"warning: {pbs_notice}")
    return max([result.exit_code, *(r.exit_code for r, _ in pbs)], key=_severity)


def _check_pbs_apis(
    settings: Settings, client: PveClient
) -> list[tuple[PbsCheckResult, str | None]]:
    from pve_backup_report.collect.inventory import normalise_storage
    from pve_backup_report.collect.pbs import serves
    from pve_backup_report.collect.pbs_client import PbsClient

    try:
        items = client.get("/storage")
    except ApiError:
        items = []
    storages = [
        normalise_storage(i)
        for i in (items if isinstance(items, list) else [])
        if isinstance(i, dict) and i.get("type") == "pbs" and i.get("storage")
    ]
    out = []
    servers = settings.pbs_servers
    for server in servers:
        wanted = [st.datastore for st in storages if st.datastore and serves(server, st, servers)]
        pbs_client = PbsClient(server, settings)
        try:
            out.append(
                (
                    run_pbs_api_check(pbs_client, wanted),
                    pbs_tls_notice(pbs_client.server.label, pbs_client.tls_mode),
                )
            )
        finally:
            pbs_client.close()
    return out


def _severity(code: int) -> int:
    """Exit codes by badness: UNKNOWN (3) above WARNING (1) above OK (0)."""
    return {0: 0, 1: 1, 2: 3, 3: 2}.get(code, 0)


def explain_schedule_mode(
    expr: str, now: int | None, tz: str, count: int, fmt: str, lang: str
) -> int:
    import time

    from pve_backup_report.pve.schedule_text import ScheduleError, explain

    when = int(time.time()) if now is None else now
    try:
        data = explain(expr, when, tz, max(1, min(count, 1000)), lang)
    except ScheduleError as exc:
        print(f"{UNKNOWN}invalid schedule {expr!r}: {exc}")
        return EXIT_UNKNOWN
    except ValueError as exc:  # unknown time zone
        print(f"{UNKNOWN}{exc}")
        return EXIT_UNKNOWN
    if fmt == "json":
        print(json.dumps(data, sort_keys=True))
        return 0
    from pve_backup_report.timeutil import iso_utc

    lines = [f"{data['expr']}: {data['description']}", f"time zone: {tz}", "next runs:"]
    lines += [f"  {iso_utc(t)}" for t in data["next"]] or ["  never"]
    lines.append(f"previous run: {iso_utc(data['previous']) or 'never'}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _collector(
    settings: Settings, client: PveClient, options: RunOptions
) -> Callable[[], Assessment]:
    """The collection as the check runs it: API problems become a clean UNKNOWN."""

    def collect() -> Assessment:
        try:
            return run_assessment(settings, options, client, terminal_progress())
        except ApiError as exc:
            raise nagiosplugin.CheckError(redact(f"PVE API not usable: {exc}")) from None
        except nagiosplugin.Timeout:
            waiting = ", ".join(client.inflight()) or "the analysis"
            raise nagiosplugin.CheckError(
                f"timeout: no complete answer within {settings.check_timeout}s "
                f"(still waiting for {waiting})"
            ) from None
        finally:
            clear_progress()

    return collect


def check_mode(
    settings: Settings, now: int, verbose: int, report_path: str | None, now_given: bool
) -> int:
    """The monitoring check; exits through nagiosplugin (SystemExit with the state)."""
    from pve_backup_report.output.check import CheckOptions, build_check

    client = PveClient(settings)
    options = RunOptions(now=now, need_notes=report_path is not None)
    check_options = CheckOptions(
        settings.thresholds,
        settings.max_age_s,
        client.tls_mode,
        client.tls_origin,
        settings.max_output,
        settings.storage_used,
    )
    after = None
    if report_path is not None:
        from pve_backup_report.output.report import report_hook

        after = report_hook(report_path, settings.lang, now_given, settings.cluster)
    check = build_check(_collector(settings, client, options), check_options, after)
    check.main(verbose, settings.check_timeout)
    return EXIT_UNKNOWN  # not reached: Check.main exits


def dump_mode(settings: Settings, kind: str, fmt: str, now: int) -> int:
    from pve_backup_report.output import dumps

    with PveClient(settings) as client:
        tls, tls_origin = client.tls_mode, client.tls_origin
        if kind == "inventory":
            from pve_backup_report.collect.inventory import collect_inventory

            inventory = collect_inventory(
                client,
                settings.backup_jobs_endpoint,
                settings.max_workers,
                need_notes=True,
                fallback_timezone=settings.timezone,
                need_defaults=True,  # shown even when every job names its storage
            )
            doc = dumps.inventory_json(inventory)
            text = dumps.inventory_text(inventory)
        else:
            assessment = run_assessment(
                settings, RunOptions(now=now, need_notes=True), client, terminal_progress()
            )
            clear_progress()
            doc = dumps.assessment_json(assessment)
            text = (
                dumps.coverage_text(assessment)
                if kind == "coverage"
                else dumps.report_data_text(assessment)
            )
    if fmt == "json":
        doc["tls"] = tls
        out = dumps.render_json(doc)
    else:
        notice = tls_notice(tls, tls_origin)
        out = text + (f"\n\nwarning: {notice}" if notice else "")
    print(redact(out))  # PVE data (notes, messages) could echo the secret
    return 0
