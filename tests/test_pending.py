"""New guests: created after the run they should have been part of, they are pending.

The basic cluster's job ``backup-daily`` runs at 21:00 Paris (20:00 UTC); the check runs on
2026-11-20 at 12:00 UTC, so the latest expected run is 2026-11-19 20:00 UTC and the next
one 2026-11-20 20:00 UTC. The guests added here have no backup result at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from builders import backup_result, basic, guest_task, sim_guest
from pve_backup_report.analysis.freshness import Freshness, judge
from pve_backup_report.analysis.history import GuestBackupResult
from pve_sim import Scenario, Simulator
from test_check_cli import NOW, perfdata, run

FIRST_RUN = "2026-11-20T20:00:00Z"
RUNNING = backup_result(110, started=4000, status="running", took=None, upid="UPID:r")
FAILED = backup_result(110, started=4000, status="failed", upid="UPID:f", message="boom")
NEW_GUESTS = [
    sim_guest(110, name="created"),
    sim_guest(111, type="lxc", name="restored", node="pve2"),
    sim_guest(112, name="cloned", node="pve2", status="stopped"),
    sim_guest(113, name="missed"),
    sim_guest(114, name="migrated", node="pve2"),
    sim_guest(115, name="moved-new", node="pve2"),
    sim_guest(116, type="lxc", name="reused"),
    sim_guest(117, type="lxc", name="ct-clone"),
]


CREATION_TASKS = [
    guest_task("qmcreate", 110, node="pve1", start="2026-11-20T09:00:00Z"),
    guest_task("vzrestore", 111, node="pve2", start="2026-11-20T10:00:00Z"),
    # a clone's task id is the SOURCE (qemu-server clone_vm), on the source's node
    guest_task("qmclone", 100, node="pve1", start="2026-11-20T10:30:00Z",
               log="creating a clone of VM 100 with ID 112\n"
               "create full clone of drive scsi0 (local-lvm:vm-100-disk-0)\nTASK OK"),
    # created before last night's run, which did not back it up: a missed run
    guest_task("qmcreate", 113, node="pve1", start="2026-11-19T10:00:00Z"),
    # migrated in: not new (the migration task is on the source node, id = the guest)
    guest_task("qmigrate", 114, node="pve1", start="2026-11-20T08:00:00Z"),
    # created on pve1 this morning, then migrated to pve2: still new
    guest_task("qmcreate", 115, node="pve1", start="2026-11-20T07:00:00Z"),
    guest_task("qmigrate", 115, node="pve1", start="2026-11-20T07:30:00Z"),
    # VMID 116 was a VM created (and deleted) today; the container 116 is older
    guest_task("qmcreate", 116, node="pve2", start="2026-11-20T06:00:00Z"),
    guest_task("vzclone", 102, node="pve1", start="2026-11-20T11:00:00Z",
               log="creating a clone of container 102 with ID 117\nTASK OK"),
]  # fmt: skip


def scenario() -> dict[str, Any]:
    data = basic()
    data["guests"] = data["guests"] + NEW_GUESTS
    for job in data["jobs"]:
        if job["id"] == "backup-daily":
            job["vmid"] = "100,101,102," + ",".join(str(g["vmid"]) for g in NEW_GUESTS)
    data["tasks"] = data["tasks"] + CREATION_TASKS
    return data


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(Scenario.from_dict(scenario()), tls=False) as s:
        yield s


def _guests(sim: Simulator, now: str = NOW, *extra: str) -> dict[int, dict[str, Any]]:
    proc = run(sim, "--now", now, "--no-cache", "--dump-report-data", "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    return {g["vmid"]: g for g in json.loads(proc.stdout)["guests"]}


def test_created_restored_and_cloned_guests_are_pending(sim: Simulator) -> None:
    """qemu-server ``src/PVE/API2/Qemu.pm`` ``create_vm`` (``qmcreate``, ``qmrestore``, task id =
    the new VMID) and ``clone_vm`` (``qmclone``, task id = the source, the log names the
    new ID); pve-container ``src/PVE/API2/LXC.pm`` ``create_vm`` (``vzcreate``/``vzrestore``)
    and ``clone_vm`` (``vzclone``, ``creating a clone of container N with ID M``)."""
    guests = _guests(sim)
    for vmid, kind, node, source in [
        (110, "qmcreate", "pve1", None),
        (111, "vzrestore", "pve2", None),
        (112, "qmclone", "pve1", 100),
        (115, "qmcreate", "pve1", None),
        (117, "vzclone", "pve1", 102),
    ]:
        g = guests[vmid]
        assert g["freshness"] == "pending", (vmid, g)
        assert g["problems"] == [], (vmid, g)
        assert g["created"]["task_type"] == kind
        assert g["created"]["node"] == node
        assert g["created"]["source"] == source
        assert g["first_run"] == 1795204800  # 2026-11-20T20:00:00Z


def test_missed_run_migrated_guest_and_other_type_are_never(sim: Simulator) -> None:
    """A run that started after the creation task could include the guest (the config is
    created and locked before ``fork_worker``: ``create_and_lock_config`` in qemu-server
    ``create_vm``); a migration (``qmigrate`` on the source node) creates nothing; a
    ``qmcreate`` does not create a container with the same VMID."""
    guests = _guests(sim)
    for vmid in (113, 114, 116):
        g = guests[vmid]
        assert g["freshness"] == "never", (vmid, g)
        assert "never" in g["problems"] and "age_warning" in g["problems"]
        assert g["created"] is None


def test_check_is_not_warned_by_pending_guests_and_shows_them(sim: Simulator) -> None:
    """Pending is OK but visible: long output and the ``guests_pending`` perfdata."""
    proc = run(sim, "--now", NOW, "--no-cache", "-v")
    attention = proc.stdout.split("Guests needing attention", 1)[1].split("Pending guests", 1)[0]
    assert "vm 113 missed (node pve1): never, age_warning;" in attention
    for label in ("vm 110", "ct 111", "vm 112", "vm 115", "ct 117"):
        assert label not in attention
    assert perfdata(proc.stdout)["guests_pending"] == "5;;;0"
    assert perfdata(proc.stdout)["backups_never"].startswith("3;")
    assert (
        "\nvm 110 created (node pve1): pending: created 2026-11-20T09:00:00Z (qmcreate on "
        f"pve1), first backup expected at {FIRST_RUN}" in proc.stdout
    )
    assert (
        "\nvm 112 cloned (node pve2): pending: created 2026-11-20T10:30:00Z (qmclone on pve1 "
        f"from 100), first backup expected at {FIRST_RUN}" in proc.stdout
    )


def test_pending_ends_when_first_run_plus_grace_has_passed(sim: Simulator) -> None:
    """Never hidden for ever: within --grace after the first run still pending, after it
    never backed up (analysis/freshness.py ``expected_run`` at ``now - grace``)."""
    within = _guests(sim, "2026-11-20T22:30:00Z")
    assert within[110]["freshness"] == "pending"
    after = _guests(sim, "2026-11-20T23:30:00Z")
    assert after[110]["freshness"] == "never"
    assert after[110]["created"] is None  # created before the expected run: not asked
    shorter = _guests(sim, "2026-11-20T22:30:00Z", "--grace", "1h")
    assert shorter[110]["freshness"] == "never"


def test_creation_lookup_costs_one_list_per_node_and_clone_logs(sim: Simulator) -> None:
    """One unfiltered ``/nodes/{node}/tasks?since=`` per node (``typefilter`` matches one
    type exactly, ``vmid`` the task id: pve-manager ``PVE/API2/Tasks.pm`` ``node_tasks``),
    plus the log of each clone that may have made a guest without a creation."""
    proc = run(sim, "--now", NOW, "--no-cache", "-vv")
    assert "creation tasks: 10 tasks listed, 2 clone logs read, 5 guest(s)" in proc.stdout
    assert "GET /nodes/{node}/tasks: 4 request(s)" in proc.stdout  # 2 history + 2 creation
    # 3 history logs (pve1's run of the 18th is named by VMID 100 alone: it left out 101,
    # which lacks a success, so it is read to search 101 elsewhere) + 2 clone logs
    assert "GET /nodes/{node}/tasks/{upid}/log: 5 request(s)" in proc.stdout


def test_no_creation_lookup_without_candidates() -> None:
    """The node task lists are asked only when a guest has no result although a run was
    due: the basic cluster has none."""
    with Simulator(Scenario.from_dict(basic()), tls=False) as s:
        proc = run(s, "--now", NOW, "--no-cache", "-vv")
    assert "history: 3 tasks listed" in proc.stdout
    assert "creation tasks" not in proc.stdout
    assert "GET /nodes/{node}/tasks: 2 request(s)" in proc.stdout


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_report_lists_pending_guests(sim: Simulator, tmp_path: Any, lang: str) -> None:
    """The Markdown report has a section for pending guests, in English and French."""
    path = tmp_path / "r.md"
    run(sim, "--now", NOW, "--no-cache", "--report", str(path), "--lang", lang)
    text = path.read_text()
    title = {"en": "## Pending guests", "fr": "## Invités en attente"}[lang]
    assert title in text
    section = text.split(title, 1)[1].split("\n## ", 1)[0]
    on = {"en": "on", "fr": "sur"}[lang]
    assert (
        f"| 112 | cloned | pve2 | backup-daily | 2026-11-20T10:30:00Z | `qmclone` {on} pve1, "
        in section
    )
    assert f"| {FIRST_RUN} |" in section
    assert "| 113 |" not in section


def test_ok_status_line_counts_pending_guests(sim: Simulator) -> None:
    """With the other categories disabled the check is OK and says how many wait; the
    problems below their (disabled) thresholds are listed, so it does not say "all
    backups fresh"."""
    proc = run(
        sim, "--now", NOW, "--no-cache", "--crit-not-covered", "", "--crit-failed", "",
        "--warn-disabled-only", "", "--warn-non-pbs-only", "", "--warn-stale", "",
        "--warn-never", "", "--max-age", "30d,60d",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.startswith(
        "PVE_BACKUP OK - 11 of 14 guests covered by active PBS backup jobs, 5 awaiting "
        "their first backup; within thresholds: "
    )
    assert "all backups fresh" not in proc.stdout


def test_simulator_task_filters_match_upstream_for_creation_tasks(
    sim: Simulator, sim_get: Any
) -> None:
    """pve-manager ``PVE/API2/Tasks.pm`` ``node_tasks``: ``typefilter`` is an exact type
    (``qmcreate`` does not match ``qmclone``), ``vmid`` matches the task id only (a clone is
    listed under its source, qemu-server ``clone_vm`` ``fork_worker('qmclone', $vmid)``),
    ``since`` compares the start time."""

    def listed(**params: Any) -> list[tuple[str, str]]:
        r = sim_get(sim, "/nodes/pve1/tasks", params={"source": "all", **params})
        assert r.status_code == 200
        return [(t["type"], t["id"]) for t in r.json()["data"]]

    assert listed(typefilter="qmcreate") == [
        ("qmcreate", "110"),
        ("qmcreate", "115"),
        ("qmcreate", "113"),
    ]  # newest first
    assert listed(typefilter="qm") == []
    assert listed(vmid=112) == []  # the clone that made 112 has the source's id
    assert ("qmclone", "100") in listed(vmid=100)
    since = listed(since=1795165200)  # 2026-11-20T09:00:00Z
    assert ("qmcreate", "110") in since and ("qmcreate", "115") not in since


@pytest.mark.parametrize(
    ("created", "last", "want"),
    [
        (None, None, Freshness.NEVER),  # creation unknown: a missed run
        (1000, None, Freshness.NEVER),  # created at the run's time: the run could take it
        (1001, None, Freshness.PENDING),  # created after the run started
        (1500, RUNNING, Freshness.PENDING),  # its first backup is running
        (1500, FAILED, Freshness.FAILED),  # its first run failed: a result, not pending
    ],
)
def test_judge_pending_boundaries(
    created: int | None, last: GuestBackupResult | None, want: Freshness
) -> None:
    """A run can include a guest whose config exists when it starts (qemu-server
    ``create_vm``: ``create_and_lock_config`` before ``fork_worker``): created at or before
    the expected run is a missed run, strictly after it pending."""
    r = judge(now=5000, expected=1000, history_readable=True, last_backup=last,
              last_success=None, created=created)  # fmt: skip
    assert r.freshness is want


def _with_faults(*faults: dict[str, Any]) -> tuple[dict[int, dict[str, Any]], list[Any]]:
    data = scenario()
    data["faults"] = list(faults)
    with Simulator(Scenario.from_dict(data), tls=False) as s:
        proc = run(s, "--now", NOW, "--no-cache", "--dump-report-data", "--format", "json")
    out: dict[str, Any] = json.loads(proc.stdout)
    return {g["vmid"]: g for g in out["guests"]}, out["anomalies"]


def test_unreadable_task_list_leaves_the_guest_never() -> None:
    """What cannot be read is not pending: a node whose task list fails (an ``info``
    anomaly names it)."""
    guests, anomalies = _with_faults(
        {"path": "/nodes/pve1/tasks", "status": 500, "message": "broken"}
    )
    assert guests[111]["freshness"] == "pending"  # vzrestore on pve2
    assert guests[115]["freshness"] == "never"  # its qmcreate is on pve1
    assert guests[112]["freshness"] == "never"  # its qmclone is listed on pve1
    messages = [a["message"] for a in anomalies if a["severity"] == "info"]
    assert any(
        m.startswith("task list of node pve1 not readable (") and "never backed up" in m
        for m in messages
    ), messages


def test_unreadable_clone_log_leaves_the_guest_never() -> None:
    """Only the clone's log names the new VMID (pve-container ``clone_vm``)."""
    guests, _ = _with_faults(
        {"path": "/nodes/pve1/tasks/*:vzclone:*/log", "status": 500, "message": "gone"}
    )
    assert guests[117]["freshness"] == "never"
    assert guests[112]["freshness"] == "pending"  # the qmclone log is readable


def _only_new(vmids: set[int]) -> dict[str, Any]:
    """The scenario with only these new guests (and their creation tasks)."""
    data = scenario()
    new = {g["vmid"] for g in NEW_GUESTS} - vmids
    data["guests"] = [g for g in data["guests"] if g["vmid"] not in new]
    data["tasks"] = [t for t in data["tasks"] if t not in CREATION_TASKS or
                     int(t["id"]) in vmids]  # fmt: skip
    return data


def test_creations_after_their_expected_run_come_from_the_task_cache(tmp_path: Any) -> None:
    """A creation found after the run its guest was expected in keeps the guest pending
    whatever newer creation there may be (a re-created VMID is newer still), until a
    later run is expected: the next check takes it from the task cache, and lists no
    node when every candidate is settled so. Once a later run is expected (tonight's,
    plus the grace), PVE is asked again and 110, created before it, is never backed up."""
    cache = ("--cache-file", str(tmp_path / "tasks.json"))
    with Simulator(Scenario.from_dict(_only_new({110, 111})), tls=False) as sim:
        first = run(sim, "--now", NOW, *cache, "-vv")
        assert "creation tasks: 4 tasks listed, 0 clone logs read, 2 guest(s)" in first.stdout
        # one write, after the creations are known (it re-read the file to merge before)
        assert first.stdout.count("task cache written: ") == 1
        assert "task cache written: 3 tasks, 2 creations" in first.stdout
        again = run(sim, "--now", NOW, *cache, "-vv")
        assert "creation tasks: 2 guest(s) created since their expected run (cached)" in (
            again.stdout
        )
        assert "GET /nodes/{node}/tasks: 2 request(s)" in again.stdout  # the history only
        dump = ("--dump-report-data", "--format", "json")
        cached = json.loads(run(sim, "--now", NOW, *cache, *dump).stdout)["guests"]
        fresh = json.loads(run(sim, "--now", NOW, "--no-cache", *dump).stdout)["guests"]
        assert cached == fresh
        later = run(sim, "--now", "2026-11-20T23:30:00Z", *cache, *dump)
        g = {g["vmid"]: g for g in json.loads(later.stdout)["guests"]}[110]
        assert g["freshness"] == "never" and g["created"] is None, g


def test_a_guest_not_found_created_keeps_the_lookup_for_it(sim: Simulator, tmp_path: Any) -> None:
    """Guests not found created after their expected run (113, 114, 116: never) are
    asked about on every run (a creation may yet appear, a re-created VMID); those the
    cache settles are not, and the answers are those of a run without the cache."""
    cache = ("--cache-file", str(tmp_path / "tasks.json"))
    run(sim, "--now", NOW, *cache)
    again = run(sim, "--now", NOW, *cache, "-vv")
    assert "creation tasks: 10 tasks listed, 2 clone logs read, 0 guest(s)" in again.stdout
    dump = ("--dump-report-data", "--format", "json")
    cached = json.loads(run(sim, "--now", NOW, *cache, *dump).stdout)["guests"]
    assert {g["vmid"]: g for g in cached} == _guests(sim)


def test_a_run_stopped_in_the_creation_lookup_still_caches_its_tasks(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task cache is written once, after the creation lookup; a run that the check's
    timeout (nagiosplugin raises ``Timeout`` in the main thread) stops during that lookup
    still keeps the logs it read, so the next run is not cold again."""
    import nagiosplugin

    from pve_backup_report import pipeline
    from pve_backup_report.collect.pve_client import PveClient
    from pve_backup_report.collect.task_cache import TaskCache
    from pve_backup_report.config import Secret, Settings
    from pve_backup_report.pipeline import RunOptions, run_assessment
    from pve_backup_report.timeutil import parse_timestamp

    def stopped(*_args: Any) -> Any:
        raise nagiosplugin.Timeout("10s")

    monkeypatch.setattr(pipeline, "_lookup_creations", stopped)
    path = tmp_path / "tasks.json"
    with Simulator(Scenario.from_dict(_only_new({110, 111})), tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,), token_id=sim.token_id, token_secret=Secret(sim.token_secret),
            cache_file=str(path),
        )  # fmt: skip
        with PveClient(settings) as client, pytest.raises(nagiosplugin.Timeout):
            run_assessment(settings, RunOptions(now=parse_timestamp(NOW)), client)
    assert len(TaskCache.load(str(path)).tasks) == 3  # what the history read


def test_a_cached_creation_older_than_the_history_window_is_asked_again() -> None:
    """The cache drops creations older than the history window when it is saved; one
    still in the file (written by an earlier run) does not settle a guest either, so a
    run asks PVE as it would after the save."""
    from pve_backup_report.analysis.creation import Candidate, GuestCreation
    from pve_backup_report.collect.task_cache import TaskCache

    made = GuestCreation(110, "qemu", "qmcreate", 1000, "pve1", "UPID:x")
    cache = TaskCache("unused", {}, [], creations={110: made})
    wanted = {110: Candidate(110, "qemu", expected=900)}
    assert cache.known_creations(wanted, since=1000) == {110: made}
    assert cache.known_creations(wanted, since=1001) == {}


@pytest.mark.parametrize("cluster", ["pending", "generated-1", "generated-3"])
def test_the_guests_judged_alone_name_the_candidates_of_the_whole_judgment(
    cluster: str, sim: Simulator
) -> None:
    """The creation lookup starts while every guest is judged, for the candidates named
    by judging alone the guests the history gives no success (``pipeline._pending``):
    each guest is judged on its own, and one with a success is neither never backed up
    nor failed by a dead run only. Those are the candidates the whole judgment names,
    here and on generated clusters (new guests, reused VMIDs, dead runs)."""
    from pve_backup_report import pipeline
    from pve_backup_report.analysis.assess import (
        AnalysisOptions,
        assess,
        pending_candidates,
    )
    from pve_backup_report.collect.progress import no_progress
    from pve_backup_report.collect.pve_client import PveClient
    from pve_backup_report.config import Secret, Settings
    from pve_backup_report.pipeline import RunOptions
    from pve_backup_report.timeutil import parse_timestamp
    from pve_sim.generate import generate_scenario

    now = parse_timestamp(NOW)
    served = (
        contextlib.nullcontext(sim)
        if cluster == "pending"
        else Simulator(
            Scenario.from_dict(generate_scenario(4, 200, 12, 14, int(cluster[-1]), now=now)),
            tls=False,
        )
    )
    with served as s:
        settings = Settings(
            hosts=(s.url,), token_id=s.token_id, token_secret=Secret(s.token_secret)
        )
        with PveClient(settings) as client:
            inventory, coverage, got = pipeline._collected(
                settings, RunOptions(now=now), client, None, no_progress
            )
    options = AnalysisOptions()
    inputs = (got.histories, got.readable, got.content, got.anomalies)
    whole = assess(inventory, coverage, *inputs[:3], now, options)
    expected = pending_candidates(whole)
    assert expected  # the case is there
    assert pipeline._pending(inventory, coverage, inputs, now, options) == expected
