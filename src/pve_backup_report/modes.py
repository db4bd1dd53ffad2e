"""The diagnostic modes: each builds its result from the lower layers and prints it.

Printing happens here and in ``cli.py`` only; the layers below return values.
"""

from __future__ import annotations

import json
import sys

from pve_backup_report.api_check import connection_failure, render_api_check, run_api_check
from pve_backup_report.config import Settings
from pve_backup_report.pve_client import PveClient

EXIT_UNKNOWN = 3


def _tls_notice(client: PveClient) -> str | None:
    if client.tls_mode == "not verified":
        return "TLS certificate verification is DISABLED (PVE_VERIFY_TLS=false)"
    return None


def check_api_mode(settings: Settings, fmt: str) -> int:
    with PveClient(settings) as client:
        result = run_api_check(client, settings.backup_jobs_endpoint)
        notice = _tls_notice(client)
    failure = connection_failure(result)
    if failure is not None and fmt == "text":
        print(f"UNKNOWN - PVE API not usable: {failure}")
        return EXIT_UNKNOWN
    print(render_api_check(result, fmt))
    if notice and fmt == "text":
        print(f"warning: {notice}")
    return result.exit_code


def explain_schedule_mode(
    expr: str, now: int | None, tz: str, count: int, fmt: str, lang: str
) -> int:
    import time

    from pve_backup_report.schedule import ScheduleError, explain

    when = int(time.time()) if now is None else now
    try:
        data = explain(expr, when, tz, max(1, min(count, 1000)), lang)
    except ScheduleError as exc:
        print(f"UNKNOWN - invalid schedule {expr!r}: {exc}")
        return EXIT_UNKNOWN
    except ValueError as exc:  # unknown time zone
        print(f"UNKNOWN - {exc}")
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
