"""Task-result cache: a warm run reads no log twice; a bad cache never fails a run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from builders import backup_result, basic
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.tasks import CachedTask
from pve_backup_report.config import Secret, Settings
from pve_backup_report.output.dumps import assessment_json
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator

HERE = Path(__file__).parent
NOW = parse_timestamp("2026-11-20T12:00:00Z")


def _scenario() -> Scenario:
    return Scenario.from_dict(basic())


def _run(sim: Simulator, cache_file: Path) -> tuple[dict[str, object], dict[str, object]]:
    settings = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        cache_file=str(cache_file),
    )
    with PveClient(settings) as client:
        a = run_assessment(settings, RunOptions(now=NOW), client)
    doc = assessment_json(a)
    stats = doc.pop("stats")
    assert isinstance(stats, dict)
    return doc, stats


def test_warm_run_reads_no_log_and_agrees(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "tasks.json"
    with Simulator(_scenario(), tls=False) as sim:
        cold, cold_stats = _run(sim, cache)
        warm, warm_stats = _run(sim, cache)
    # 3 logs: pve1's older task is VM 100's single-guest run of the job that holds 100 and
    # 101 there. It cannot hold 101's missing success, but it shows 101 was not on pve1
    # at that run, so it is read to search 101 on the other nodes (a migrated guest).
    assert cold_stats["logs_fetched"] == 3 and cold_stats["logs_cached"] == 0
    assert warm_stats["logs_fetched"] == 0 and warm_stats["logs_cached"] == 3
    # no log is read again, nor the 2 node time zones (cached for a day)
    assert warm_stats["requests"] == cold_stats["requests"] - 3 - 2  # type: ignore[operator]
    assert warm == cold
    assert json.loads(cache.read_text())["version"] == 1
    assert oct(os.stat(cache.parent).st_mode & 0o777) == "0o700"


@pytest.mark.parametrize(
    "damaged",
    [
        "{not json",
        '{"version": 1, "tasks": ' + "[" * 100_000 + "]" * 100_000 + "}",
        # within orjson's 1,024 levels, beyond Python's recursion when made text
        '{"version": 1, "tasks": {}, "timezones": {"pve1": [' + "[" * 1005 + "]" * 1005 + ", 1]}}",
    ],
    ids=["not-json", "nested-too-deep", "nested-orjson-reads"],  # both raised RecursionError
)
def test_corrupt_cache_is_rebuilt_with_info_anomaly(tmp_path: Path, damaged: str) -> None:
    cache = tmp_path / "tasks.json"
    cache.write_text(damaged)
    with Simulator(_scenario(), tls=False) as sim:
        doc, stats = _run(sim, cache)
        assert stats["logs_fetched"] == 3  # see test_warm_run_reads_no_log_and_agrees
        anomalies = doc["anomalies"]
        assert isinstance(anomalies, list)
        cache_notes = [x for x in anomalies if x["component"] == "cache"]
        assert len(cache_notes) == 1 and cache_notes[0]["severity"] == "info"
        _, again = _run(sim, cache)  # rebuilt: the next run is warm
    assert again["logs_cached"] == 3


def test_unwritable_cache_is_an_info_anomaly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with Simulator(_scenario(), tls=False) as sim:
        doc, _ = _run(sim, blocker / "sub" / "tasks.json")
    anomalies = doc["anomalies"]
    assert isinstance(anomalies, list)
    assert any(x["component"] == "cache" and "not writable" in x["message"] for x in anomalies)


def test_overlapping_runs_merge_and_old_tasks_are_dropped(tmp_path: Path) -> None:
    from pve_backup_report.collect.task_cache import TaskCache

    path = str(tmp_path / "tasks.json")

    def task(upid: str, start: int) -> CachedTask:
        r = backup_result(started=start, took=5, upid=upid)
        return CachedTask(upid, "pve1", start, "pbs1", pbs=True, results=(r,))

    a = TaskCache.load(path)
    b = TaskCache.load(path)  # loaded before a saved: must not lose a's task
    a.save([task("UPID:a", 1000)], oldest=0)
    b.save([task("UPID:b", 2000)], oldest=0)
    assert set(TaskCache.load(path).tasks) == {"UPID:a", "UPID:b"}
    c = TaskCache.load(path)
    c.save([], oldest=1500)
    loaded = TaskCache.load(path)
    assert set(loaded.tasks) == {"UPID:b"}
    assert loaded.tasks["UPID:b"].results[0].upid == "UPID:b"


def test_messages_beyond_ascii_and_odd_text_come_back_as_written(
    tmp_path: Path, json_decoder: str
) -> None:
    """The file is written by orjson when installed (``json_decode.dumps``: text beyond
    ASCII as UTF-8), else by ``json``; a message it refuses (a lone surrogate, from a
    log line ``json`` decoded from an escape) sends the whole file to ``json``. Each
    comes back as written, with or without orjson."""
    from pve_backup_report.collect.task_cache import TaskCache

    path = str(tmp_path / "tasks.json")
    texts = ["échec : sauvegarde interrompue", "broken \ud800 pipe", "ok ✓"]

    def task(i: int, text: str) -> CachedTask:
        r = backup_result(started=1000 + i, status="failed", message=text)
        return CachedTask(f"UPID:{i}", "pve1", 1000 + i, "pbs1", pbs=True, results=(r,))

    written = [task(i, text) for i, text in enumerate(texts)]
    for upto in (1, len(texts)):  # without the surrogate, then with it
        assert TaskCache.load(path).save(written[:upto], oldest=0)
        loaded = TaskCache.load(path)
        assert not loaded.anomalies
        assert [loaded.tasks[t.upid].results[0].message for t in written[:upto]] == texts[:upto]
