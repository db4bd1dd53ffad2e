"""Anomalies that differ only by task are merged."""

from __future__ import annotations

from pve_backup_report.analysis.anomalies import condense
from pve_backup_report.model import Anomaly, Severity


def _unreadable(upid: str) -> Anomaly:
    return Anomaly(
        Severity.WARNING,
        "tasks",
        f"task log of {upid} unavailable (unable to open file); cannot tell",
        {"upid": upid, "node": "pve1"},
    )


def test_same_message_for_many_tasks_becomes_one() -> None:
    upids = [f"UPID:pve1:0000{i:04X}:00000001:6B000C10:vzdump::root@pam:" for i in range(7)]
    other = Anomaly(Severity.INFO, "tasks", "something else")
    out = condense([_unreadable(u) for u in upids] + [other])
    assert len(out) == 2
    merged = out[0]
    assert merged.message == (
        "task log of <task> unavailable (unable to open file); cannot tell (7 tasks like this)"
    )
    assert merged.details["count"] == 7
    assert merged.details["upids"] == upids[:5]
    assert "upid" not in merged.details and merged.details["node"] == "pve1"
    assert out[1] is other


def test_single_anomaly_is_unchanged() -> None:
    a = _unreadable("UPID:pve1:00000001:00000001:6B000C10:vzdump::root@pam:")
    assert condense([a]) == [a]
