#!/usr/bin/env python3
"""EXPERIMENT: ``check_pve_backup`` with the schedule-based log selection of
``bench/schedule_selection.py`` instead of the plugin's newest-first reading.

Same arguments and output as ``check_pve_backup``; used by ``bench/run.py --selection
schedule``. Not part of the plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from schedule_selection import collect_history_by_schedule  # noqa: E402

from pve_backup_report import pipeline  # noqa: E402

pipeline.collect_history = collect_history_by_schedule  # type: ignore[attr-defined]

from pve_backup_report.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
