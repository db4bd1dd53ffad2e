"""The diagnostic modes: each builds its result from the lower layers and prints it.

Printing happens here and in ``cli.py`` only; the layers below return values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import nagiosplugin

from pve_backup_report.api_check import connection_failure, render_api_check, run_api_check
from pve_backup_report.assess import Assessment
from pve_backup_report.config import Settings, redact
from pve_backup_report.errors import ApiError
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.progress import clear as clear_progress
from pve_backup_report.progress import terminal_progress
from pve_backup_report.pve_client import PveClient, tls_notice

EXIT_UNKNOWN = 3
UNKNOWN = "PVE_BACKUP UNKNOWN - "


def check_api_mode(settings: Settings, fmt: str) -> int:
    with PveClient(settings) as client:
        result = run_api_check(client, settings.backup_jobs_endpoint)
        notice = tls_notice(client.tls_mode, client.tls_origin)
    failure = connection_failure(result)
    if failure is not None and fmt == "text":
        print(f"{UNKNOWN}PVE API not usable: {failure}")
        return EXIT_UNKNOWN
    print(redact(render_api_check(result, fmt)))
    if notice and fmt == "text":
        print(f"warning: {notice}")
    return result.exit_code


def explain_schedule_mode(
    expr: str, now: int | None, tz: str, count: int, fmt: str, lang: str
) -> int:
    import time

    from pve_backup_report.schedule_text import ScheduleError, explain

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
    from pve_backup_report.check import CheckOptions, build_check

    client = PveClient(settings)
    options = RunOptions(now=now, need_notes=report_path is not None)
    check_options = CheckOptions(
        settings.thresholds,
        settings.max_age_s,
        client.tls_mode,
        client.tls_origin,
        settings.max_output,
    )
    after = None
    if report_path is not None:
        from pve_backup_report.report import report_hook

        after = report_hook(report_path, settings.lang, now_given, settings.cluster)
    check = build_check(_collector(settings, client, options), check_options, after)
    check.main(verbose, settings.check_timeout)
    return EXIT_UNKNOWN  # not reached: Check.main exits


def dump_mode(settings: Settings, kind: str, fmt: str, now: int) -> int:
    from pve_backup_report import dumps

    with PveClient(settings) as client:
        tls, tls_origin = client.tls_mode, client.tls_origin
        if kind == "inventory":
            from pve_backup_report.collect import collect_inventory

            inventory = collect_inventory(
                client,
                settings.backup_jobs_endpoint,
                settings.max_workers,
                need_notes=True,
                fallback_timezone=settings.timezone,
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
