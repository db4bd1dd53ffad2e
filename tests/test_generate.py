"""The cluster generator (simulator/generate.py), log recipes and the simulator's bench aids."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

import pve_sim.generate as generate_module
from pve_backup_report.analysis.coverage import Coverage
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.pve.upid import parse_upid
from pve_sim import Scenario, ScenarioError, Simulator, load_scenario
from pve_sim.generate import (
    Generated,
    GenerateSpec,
    generate_cluster,
    generate_scenario,
    parse_spec,
    task_guests,
)
from pve_sim.prune import parse_prune, prune_keep
from pve_sim.runs import render_notes
from pve_sim.scenario import TaskSpec
from pve_sim.synth import LOCK_TIMEOUT
from pve_sim.tasklog import UNEXPECTED_STATUS, read_status
from pve_sim.truth import ground_truth

SMALL = {"nodes": 4, "guests": 120, "jobs": 12, "days": 5, "seed": 7}


@pytest.fixture(scope="module")
def generated() -> Generated:
    return generate_cluster(GenerateSpec(**SMALL))


@pytest.fixture(scope="module")
def small(generated: Generated) -> dict[str, Any]:
    return generated.data


@pytest.fixture(scope="module")
def scenario(small: dict[str, Any]) -> Scenario:
    return Scenario.from_dict(small)


def _get(sim: Simulator, path: str, **params: Any) -> Any:
    resp = requests.get(sim.api_url + path, headers=sim.auth_header, params=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


# --------------------------------------------------------------------------- the spec


def test_parse_spec() -> None:
    assert parse_spec("nodes=32,guests=10000,jobs=60,days=14,seed=3") == GenerateSpec(
        32, 10000, 60, 14, 3
    )
    assert parse_spec("guests=5") == GenerateSpec(guests=5)
    for bad in ("nodes=x", "cpus=3", "nodes", "nodes=0", "guests=-1"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_deterministic(small: dict[str, Any]) -> None:
    assert generate_scenario(**SMALL) == small
    assert generate_scenario(**{**SMALL, "seed": 8}) != small


# --------------------------------------------------------------------------- the cluster


def test_sizes_and_mix(small: dict[str, Any], scenario: Scenario) -> None:
    assert len(scenario.nodes) == 4 and len(scenario.guests) == 120
    assert len(scenario.jobs) == 12 + 2  # and two legacy vzdump.cron jobs
    jobs = [j.config for j in scenario.jobs if not j.legacy]
    assert any(j.get("pool") for j in jobs)
    assert any(j.get("vmid") for j in jobs)
    assert any(j.get("all") and j.get("exclude") for j in jobs)
    assert any(j.get("node") for j in jobs)
    assert any(not j.get("enabled") for j in jobs)
    storage_type = {s.id: s.type for s in scenario.storages}
    assert any(storage_type.get(str(j.get("storage"))) != "pbs" for j in jobs)
    schedules = {str(j["schedule"]) for j in jobs}
    assert schedules & {"hourly", "0/6:00", "*/2:15"}
    assert schedules & {"sun 03:00", "sat 22:00", "sun 01:30"}
    # next-run only for enabled jobs; pools; 2-3 PBS storages; containers and templates
    assert all(("next-run" in j) == bool(j["enabled"]) for j in jobs)
    assert scenario.pools and 2 <= sum(t == "pbs" for t in storage_type.values()) <= 3
    kinds = Counter(g.type for g in scenario.guests)
    assert kinds["lxc"] > 10 and kinds["qemu"] > 10
    types = Counter(t.type for t in scenario.tasks)
    assert types["vzdump"] > 100 and types["aptupdate"] == 4 * 5
    assert {"vncproxy", "qmstart", "qmshutdown", "qmigrate", "qmdestroy"} <= set(types)


def test_one_task_per_node_and_run(scenario: Scenario) -> None:
    """Each run of a job is one task per node with guests there, guests in VMID order."""
    per_run: Counter[tuple[str, str, int]] = Counter()
    for task, guests in task_guests(scenario):
        assert task.log_recipe is not None
        per_run[(task.log_recipe.job, task.node, task.starttime // 60)] += 1
        assert list(guests) == sorted(guests)
        assert task.id == (str(next(iter(guests))) if len(guests) == 1 else "")
    assert max(per_run.values()) == 1


_LOCK_LINES = ["INFO: trying to get global lock - waiting...", "INFO: got global lock"]


def _check_lock(scenario: Scenario, lockwait: int = 180 * 60) -> tuple[int, int]:
    """A node's vzdump runs hold its global lock one after the other (waits, and timeouts
    other than behind the run that hangs).

    Each run that got the lock holds it from its start plus ``lock_wait`` to its end; it
    waited exactly as long as the previous holder still ran; the guest phases of two runs
    of a node never overlap. A run that timed out waited ``lockwait`` and held nothing; a
    run that could not activate its storage died before asking for the lock (mgr
    ``PVE/API2/VZDump.pm``: ``PVE::VZDump->new`` comes before ``getlock``).
    """
    renderer = scenario.recipes
    waits = timeouts = timeouts_after_hang = 0
    by_node: dict[str, list[tuple[int, str, TaskSpec]]] = {}
    for task in scenario.tasks:
        if task.log_recipe is not None:
            key = (task.starttime, task.log_recipe.job, task)
            by_node.setdefault(task.node, []).append(key)
    for tasks in by_node.values():
        held_until = 0
        for _, _, task in sorted(tasks, key=lambda k: k[:2]):
            recipe = task.log_recipe
            assert recipe is not None
            lines = list(renderer.run(task.node, task.starttime, recipe).lines)
            if task.running:  # a hanging run holds the lock for good
                assert recipe.stuck is not None and task.endtime is None
                held_until = 2**62
                continue
            assert task.endtime is not None
            if task.status.startswith("could not activate storage"):
                # PVE::VZDump::new dies before getlock: no wait, no lock
                assert lines == [f"TASK ERROR: {task.status}"] and not recipe.lock_wait
                continue
            if task.status == UNEXPECTED_STATUS:
                timeouts += 1
                assert recipe.job_error == LOCK_TIMEOUT and held_until > task.starttime
                assert recipe.lock_wait == lockwait < held_until - task.starttime
                timeouts_after_hang += held_until == 2**62
                assert lines == [_LOCK_LINES[0], f"ERROR: {LOCK_TIMEOUT}"]
                assert read_status(lines) == UNEXPECTED_STATUS
                assert task.endtime == task.starttime + recipe.lock_wait + 1
                continue
            assert recipe.lock_wait == max(0, held_until - task.starttime)
            if recipe.lock_wait:
                waits += 1
                assert lines[:2] == _LOCK_LINES
            assert not any("global lock" in x for x in lines[2 if recipe.lock_wait else 0 :])
            starts = [t for _, t in renderer.run(task.node, task.starttime, recipe).starts]
            assert all(held_until < t < task.endtime for t in starts)
            held_until = task.endtime
    return waits, timeouts - timeouts_after_hang


def test_a_nodes_runs_wait_for_the_global_lock(scenario: Scenario) -> None:
    waits, timeouts = _check_lock(scenario)
    assert waits > 10 and timeouts == 0


def test_jobs_due_together_start_in_job_id_order(scenario: Scenario) -> None:
    """pvescheduler starts the jobs due in one pass in job-id order: on a node, runs of
    one event share their start second and their pstarts follow the job ids."""
    events: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for task in scenario.tasks:
        if task.log_recipe is not None:
            key = (task.node, task.starttime)
            events.setdefault(key, []).append((task.pstart, task.log_recipe.job))
    shared = [runs for runs in events.values() if len(runs) > 1]
    assert len(shared) > 5
    for runs in shared:
        assert [job for _, job in sorted(runs)] == sorted(job for _, job in runs)
        assert len({p for p, _ in runs}) == len(runs)


def test_a_long_lock_wait_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``lockwait`` (here 1 minute) getlock gives up: no TASK line, nothing backed up."""
    monkeypatch.setattr(generate_module, "LOCKWAIT_MINUTES", 1)
    data = generate_scenario(**SMALL)
    monkeypatch.undo()
    waits, timeouts = _check_lock(Scenario.from_dict(data), 60)
    assert waits > 0 and timeouts > 0


def test_failures_and_job_errors(scenario: Scenario) -> None:
    statuses = Counter(t.status for t in scenario.tasks if t.type == "vzdump")
    assert statuses["OK"] > 0 and statuses["job errors"] > 0
    failed = sum(1 for _, g in task_guests(scenario) for ok, _ in g.values() if not ok)
    assert failed > 0


def test_backups_match_the_history(generated: Generated, scenario: Scenario) -> None:
    """PBS holds the newest three successful backups of each group (keep-last=3), ``vm/N``
    and ``ct/N`` apart, and the unfinished snapshot of the run that hangs."""
    pbs = {s.id for s in scenario.storages if s.type == "pbs"}
    expected: dict[tuple[str, int, str], list[int]] = {}
    for (sid, vmid, kind), snaps in generated.history.snapshots.items():
        if sid in pbs:
            expected[(sid, vmid, kind)] = sorted(c for c, _, _ in snaps)[-3:]
    for sid, vmid, kind, ctime in generated.history.partial:
        expected[(sid, vmid, kind)].append(ctime)
    successes = {(r.storage, r.vmid, r.started) for r in generated.history.results if r.ok}
    served: dict[tuple[str, int, str], list[int]] = {}
    states: Counter[str | None] = Counter()
    for b in scenario.backups:
        if b.storage in pbs:
            served.setdefault((b.storage, b.vmid, b.type), []).append(b.ctime)
            states[(b.verification or {}).get("state")] += 1
            assert ((b.storage, b.vmid, b.ctime) in successes) == (b.size > 1)
    assert served == expected
    assert states["ok"] > 0 and states[None] > 0


def test_prune_keeps_what_pve_keeps() -> None:
    """pve-storage ``prune_mark_backup_group``: each option keeps the newest backup of each
    new period, skipping periods an earlier option kept; nothing set keeps everything."""
    day, hour = 86400, 3600
    base = 1_763_596_800  # 2025-11-20 00:00 UTC, a Thursday
    # two backups a day (02:00 and 14:00 UTC) for ten days
    ctimes = [base + d * day + h * hour for d in range(10) for h in (2, 14)]
    assert prune_keep(ctimes, {}, "UTC") == ctimes
    assert prune_keep(ctimes, parse_prune("keep-all=1,keep-last=1"), "UTC") == ctimes
    assert prune_keep(ctimes, parse_prune("keep-last=3"), "UTC") == ctimes[-3:]
    assert prune_keep(ctimes, parse_prune("keep-daily=3"), "UTC") == [
        base + d * day + 14 * hour for d in (7, 8, 9)
    ]
    # keep-last=2 keeps the last day's pair; keep-daily=2 then skips that day
    assert prune_keep(ctimes, parse_prune("keep-last=2,keep-daily=2"), "UTC") == [
        base + 7 * day + 14 * hour, base + 8 * day + 14 * hour, *ctimes[-2:]
    ]  # fmt: skip
    # ISO weeks: Mon 2025-11-24 and Mon 2025-12-01 start new ones
    assert prune_keep(ctimes, parse_prune("keep-weekly=5"), "UTC") == [
        base + 3 * day + 14 * hour, base + 9 * day + 14 * hour
    ]  # fmt: skip


def test_backup_notes_come_from_their_jobs_template(generated: Generated) -> None:
    """mgr ``generate_notes``: escapes first, then the four variables; only backups made by
    a job with a notes template have notes."""
    info = {"cluster": "gen4", "guestname": "web-0001", "node": "pve01", "vmid": "100"}
    assert render_notes("{{guestname}} keep 2 weeks", info) == "web-0001 keep 2 weeks"
    assert render_notes("{{cluster}}/{{node}}: {{vmid}}\\n\\\\", info) == "gen4/pve01: 100\n\\"
    noted = {job["id"] for job in generated.data["jobs"] if job.get("notes-template")}
    assert noted and len(noted) < len(generated.data["jobs"])
    backups = [b for b in generated.data["backups"] if b["size"] > 1]
    assert any("notes" in b for b in backups) and any("notes" not in b for b in backups)
    assert set(generated.history.notes.values()) >= {b["notes"] for b in backups if "notes" in b}


def test_a_drained_nodes_guests_move(generated: Generated, scenario: Scenario) -> None:
    """After a migration the old results stay in the old node's logs; runs on the new node
    before the move name the guest under ``skip external VMs`` (mgr ``PVE/VZDump.pm``
    ``get_included_guests`` at run time, ``exec_backup``). Migration logs as guest-common
    ``AbstractMigrate`` and qemu-server ``QemuMigrate`` print them."""
    moves = generated.life.moves
    assert len(moves) > 10 and {m.source for m in moves.values()} == {"pve04"}
    renderer = scenario.recipes
    before_on_source = external_on_target = 0
    for task in scenario.tasks:
        if task.log_recipe is None or task.running:
            continue
        lines = renderer.run(task.node, task.starttime, task.log_recipe).lines
        named = {int(x.split()[-2]) for x in lines if "Starting Backup of VM" in x}
        skipped = {int(v) for x in lines if "skip external VMs:" in x
                   for v in x.split(": ", 2)[2].split(", ")}  # fmt: skip
        for vmid, move in moves.items():
            if task.starttime < move.time and vmid in named:
                assert task.node == move.source
                before_on_source += 1
            if task.starttime < move.time and task.node == move.target and vmid in skipped:
                external_on_target += 1
            if task.starttime > move.time and vmid in named:
                assert task.node == move.target
    assert before_on_source > 10 and external_on_target > 0
    vmid, move = next(iter(moves.items()))
    migration = next(t for t in scenario.tasks if t.type in ("qmigrate", "vzmigrate")
                     and t.id == str(vmid))  # fmt: skip
    assert migration.node == move.source and "migration finished successfully" in migration.log[1]


def test_a_vmid_reused_by_a_container(generated: Generated, scenario: Scenario) -> None:
    """The deleted VM's ``vm/N`` snapshots stay on PBS next to the container's group ``ct/N``
    (pve-storage ``PBSPlugin::list_volumes``); its runs logged ``(qemu)`` (mgr
    ``exec_backup_task``); the container was created this morning (``vzcreate`` task
    whose id is the VMID)."""
    ((vmid, old),) = generated.life.former.items()
    guest = scenario.guest(vmid)
    assert guest is not None and guest.type == "lxc" and old.type == "qemu"
    kinds = {b.type for b in scenario.backups if b.vmid == vmid}
    assert kinds == {"qemu"}  # no run took the container yet
    logged = [x for t in scenario.tasks if t.log_recipe is not None and not t.running
              for x in scenario.task_log(t) if f"Starting Backup of VM {vmid} " in x]  # fmt: skip
    assert logged and all(x.endswith("(qemu)") for x in logged)
    created = [t for t in scenario.tasks if t.id == str(vmid) and t.type == "vzcreate"]
    assert created and created[0].starttime == generated.life.created[vmid]
    assert any(t.type == "qmdestroy" and t.id == str(vmid) for t in scenario.tasks)
    assert any(t.type == "qmcreate" and int(t.id) in generated.life.created for t in scenario.tasks)


def test_runs_that_die_before_their_guests(scenario: Scenario) -> None:
    """An unreachable PBS ends the task in ``PVE::VZDump::new``: one ``TASK ERROR: could
    not activate storage`` line (mgr ``PVE/VZDump.pm``, pve-storage ``PBSPlugin``); a lock
    timeout logs ``ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout`` and no
    ``TASK`` line (mgr ``PVE/API2/VZDump.pm`` worker ``exit(-1)``; pve-common
    ``RESTEnvironment::fork_worker``): status ``unexpected status``."""
    activation = [t for t in scenario.tasks if t.status.startswith("could not activate storage")]
    timeouts = [t for t in scenario.tasks if t.status == UNEXPECTED_STATUS]
    assert len(activation) >= 3 and len(timeouts) >= 3
    for task in activation:
        assert scenario.task_log(task) == (f"TASK ERROR: {task.status}",)
    for task in timeouts:
        assert scenario.task_log(task)[-1] == f"ERROR: {LOCK_TIMEOUT}"


def test_a_run_still_going(generated: Generated, scenario: Scenario) -> None:
    """A run that hangs is listed as running; PBS already lists its guest's snapshot, with
    no size (PVE shows 1) and no verification (proxmox-backup ``list_snapshots_blocking``,
    pve-storage ``PBSPlugin::list_volumes``)."""
    running = [t for t in scenario.tasks if t.running]
    assert len(running) == 1 and running[0].log_recipe is not None
    assert not any(x.startswith("TASK ") for x in scenario.task_log(running[0]))
    assert generated.history.stuck is not None
    node, vmid, start = generated.history.stuck
    assert (running[0].node, running[0].starttime) == (node, start)
    ((sid, partial_vmid, _, ctime),) = generated.history.partial
    assert partial_vmid == vmid
    listed = [b for b in scenario.backups if (b.storage, b.vmid, b.ctime) == (sid, vmid, ctime)]
    assert len(listed) == 1 and listed[0].size == 1 and listed[0].verification is None


def test_shell_quoted_notes_and_raw_job_values(scenario: Scenario) -> None:
    """The logged command line is shell-quoted (guest-common ``VZDump::Common::command_line``,
    pve-common ``shellquote``); a commented-out vzdump.cron job is served with
    ``"enabled": ""`` (guest-common ``parse_vzdump_cron_config``); a ``dumpdir`` job writes
    files into that directory (mgr ``PVE::VZDump::new``); a node whose vzdump.conf sets no
    storage answers ``storage: local`` (mgr ``PVE/API2/VZDump.pm`` ``defaults``)."""
    quoted = next(j.config for j in scenario.jobs if j.config.get("notes-template"))
    task = next(
        t
        for t in scenario.tasks
        if t.log_recipe and t.log_recipe.job == quoted["id"] and t.status in ("OK", "job errors")
    )
    line = next(x for x in scenario.task_log(task) if "starting new backup job" in x)
    words = shlex.split(line.split(": ", 2)[2])
    assert words[words.index("--notes-template") + 1] == quoted["notes-template"]
    dumpdir = next(j.config for j in scenario.jobs if j.config.get("dumpdir"))
    task = next(t for t in scenario.tasks if t.log_recipe and t.log_recipe.job == dumpdir["id"])
    assert any(f"creating vzdump archive '{dumpdir['dumpdir']}/vzdump-" in x
               for x in scenario.task_log(task))  # fmt: skip
    with Simulator(scenario) as sim:
        jobs = _get(sim, "/cluster/backup")["data"]
        defaults = [_get(sim, f"/nodes/{n.node}/vzdump/defaults")["data"] for n in scenario.nodes]
    legacy = [j for j in jobs if "type" not in j]
    assert [j["enabled"] for j in legacy] == [1, ""] and jobs[:2] == legacy
    assert not any("next-run" in j for j in legacy)
    assert {d["storage"] for d in defaults} == {"pbs-a", "local"}


def test_uncovered_guests_exist(scenario: Scenario) -> None:
    selected: set[int] = set()
    for job in scenario.jobs:
        for vmids in scenario.recipes.selection(job.id).values():
            selected.update(vmids)
    assert {g.vmid for g in scenario.guests} - selected


# --------------------------------------------------------------------------- log recipes


def test_recipe_logs_are_served(scenario: Scenario) -> None:
    task, guests = next((t, g) for t, g in task_guests(scenario) if len(g) > 2)
    with Simulator(scenario) as sim:
        page = _get(sim, f"/nodes/{task.node}/tasks/{task.upid}/log", limit=0)
        listed = _get(
            sim, f"/nodes/{task.node}/tasks", typefilter="vzdump", limit=5000, source="all"
        )
    lines = [item["t"] for item in page["data"]]
    assert page["total"] == len(lines) > 10
    assert task.log_recipe is not None
    assert "starting new backup job: vzdump" in lines[2 if task.log_recipe.lock_wait else 0]
    order = [int(x.split()[-2]) for x in lines if "Starting Backup of VM" in x]
    assert order == sorted(guests)
    assert read_status(lines) == task.status
    item = next(i for i in listed["data"] if i["upid"] == task.upid)
    assert (item["status"], item["endtime"]) == (task.status, task.endtime)
    assert parse_upid(task.upid).starttime == task.starttime


def test_recipe_validation() -> None:
    base = generate_scenario(1, 3, 1, 1, seed=1)
    task = next(t for t in base["tasks"] if "log_recipe" in t)
    for change, message in (
        ({"job": "nope"}, "tasks[0].log_recipe.job: unknown job 'nope'"),
        ({"vmids": [5]}, "log_recipe.vmids[0]: not a scenario guest"),
        ({"failures": [{"vmid": 100}]}, "log_recipe.failures[0].error"),
        ({"colour": 1}, "unknown key 'colour'"),
        ({"lock_wait": -5}, "log_recipe.lock_wait: must be >= 0"),
        ({"lock_wait": "soon"}, "log_recipe.lock_wait: expected an integer"),
    ):
        bad = dict(base, tasks=[dict(task, log_recipe={**task["log_recipe"], **change})])
        with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
            Scenario.from_dict(bad)
    both = dict(base, tasks=[dict(task, log="TASK OK")])
    with pytest.raises(ScenarioError, match="one of log, log_file and log_recipe"):
        Scenario.from_dict(both)


def test_recipe_without_status_gets_the_rendered_one() -> None:
    base = generate_scenario(1, 3, 1, 1, seed=1)
    task = next(t for t in base["tasks"] if "log_recipe" in t)
    bare = {k: v for k, v in task.items() if k not in ("status", "endtime")}
    parsed = Scenario.from_dict(dict(base, tasks=[bare])).tasks[0]
    assert (parsed.status, parsed.endtime) == (task["status"], task["endtime"])


# --------------------------------------------------------------------------- consistency


_EVENTFUL = {
    "migrated", "reused_vmid", "created", "stuck_run", "unreached_by_stuck_run",
    "died_on_lock", "died_on_storage",
}  # fmt: skip


def test_the_plugin_reads_what_the_generator_wrote(
    generated: Generated, scenario: Scenario, tmp_path: Path
) -> None:
    """Latest result and success of the covered guests are the generator's truth.

    Only the guests nothing special happened to: the others (moved, VMID reused, created
    today, in a run that died or hangs) are judged by the ground-truth test."""
    truth = {t.vmid: t for t in ground_truth(generated)}
    assert scenario.now is not None
    with Simulator(scenario) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            history_days=SMALL["days"],
            cache_file=str(tmp_path / "cache.json"),
        )
        with PveClient(settings) as client:
            a = run_assessment(settings, RunOptions(now=scenario.now), client)
    covered = [g for g in a.guests if g.coverage is Coverage.COVERED]
    assert len(covered) > 80
    assert any(g.coverage is Coverage.NOT_COVERED for g in a.guests)
    assert any(g.coverage is Coverage.DISABLED_ONLY for g in a.guests)
    assert any(g.coverage is Coverage.NON_PBS_ONLY for g in a.guests)
    plain = 0
    for g in covered:
        t = truth[g.guest.vmid]
        if set(t.traits) & _EVENTFUL or t.coverage != "covered" or t.latest is None:
            continue
        plain += 1
        assert g.last_backup is not None
        assert (g.last_backup.started, g.last_backup.status != "failed") == (
            t.latest.started,
            t.latest.ok,
        )
        if t.latest_success is not None:
            assert g.last_success is not None
            assert g.last_success.started == t.latest_success.started
    assert plain > 30
    assert any(g.last_backup and g.last_backup.status == "failed" for g in covered)
    assert any(g.snapshot is not None and g.snapshot.verification == "ok" for g in covered)


# --------------------------------------------------------------------------- CLI and server


def test_cli_writes_yaml(tmp_path: Path) -> None:
    out = tmp_path / "gen.yaml"
    spec = "nodes=2,guests=10,jobs=3,days=2,seed=5"
    proc = subprocess.run(
        [sys.executable, "-m", "pve_sim", "--generate", spec,
         "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("# GENERATED by: python -m pve_sim")
    loaded = load_scenario(out)
    direct = Scenario.from_dict(generate_scenario(2, 10, 3, 2, 5))
    assert loaded.tasks == direct.tasks and loaded.backups == direct.backups
    bad = subprocess.run(
        [sys.executable, "-m", "pve_sim", "--generate", "nodes=x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error: nodes")


def test_cached_answers_render_a_log_once(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``cache_answers`` a task log is rendered once and its bytes sent again (the
    benchmark's priming run leaves the measured runs nothing to render); a log asked
    for with another page is another answer."""
    from pve_sim.scenario import RecipeRenderer

    rendered: list[int] = []
    real = RecipeRenderer.run

    def counted(self: RecipeRenderer, *args: Any, **kwargs: Any) -> Any:
        rendered.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RecipeRenderer, "run", counted)
    task = next(t for t in scenario.tasks if t.log_recipe is not None)
    path = f"/nodes/{task.node}/tasks/{task.upid}/log"
    with Simulator(scenario, cache_answers=True) as cached:
        first = _get(cached, path, limit=0)
        assert _get(cached, path, limit=0) == first and len(rendered) == 1
        assert _get(cached, path, limit=1)["data"] == first["data"][:1] and len(rendered) == 2
    with Simulator(scenario) as plain:
        _get(plain, path, limit=0), _get(plain, path, limit=0)
    assert len(rendered) == 4  # without cache_answers, rendered on every request


def test_stats_endpoint_is_not_counted(scenario: Scenario) -> None:
    with Simulator(scenario) as sim:
        _get(sim, "/version")
        stats = requests.get(sim.url + "/_simulator/stats", timeout=10).json()
        again = requests.get(sim.url + "/_simulator/stats", timeout=10).json()
    assert stats["requests"] == again["requests"] == 1
    assert stats["per_path"] == {"/version": 1} and stats["bytes_sent"] > 0
    assert 0 < stats["cpu_s"] <= again["cpu_s"]  # the process's CPU, never decreasing
    assert "records" not in stats  # only when asked


def test_stats_give_the_last_requests_when_asked(scenario: Scenario) -> None:
    """``?records=N``: the last N requests in the order they ended, for
    ``bench/least.py`` to replay a run's; anything but ASCII digits refused."""
    with Simulator(scenario) as sim:
        _get(sim, "/version")
        _get(sim, "/cluster/resources", type="vm")
        _get(sim, "/nodes")
        url = sim.url + "/_simulator/stats"
        two = requests.get(url, params={"records": 2}, timeout=10).json()["records"]
        every = requests.get(url, params={"records": 10}, timeout=10).json()["records"]
        refused = [requests.get(url, params={"records": n}, timeout=10) for n in ("-1", "²", "x")]
    assert two == [["GET", "/cluster/resources", "type=vm", 200], ["GET", "/nodes", "", 200]]
    assert [r[1] for r in every] == ["/version", "/cluster/resources", "/nodes"]
    assert [r.status_code for r in refused] == [400, 400, 400]


def test_cached_answers_are_the_same(scenario: Scenario) -> None:
    task = next(t for t in scenario.tasks if t.log_recipe is not None)
    paths: list[tuple[str, dict[str, Any]]] = [
        ("/cluster/resources", {"type": "vm"}),
        (f"/nodes/{task.node}/tasks", {"typefilter": "vzdump", "limit": 50}),
        (f"/nodes/{task.node}/tasks/{task.upid}/log", {"limit": 0}),
        ("/nodes/pve01/storage/pbs-a/content", {"content": "backup"}),
    ]
    with Simulator(scenario) as plain, Simulator(scenario, cache_answers=True) as cached:
        for path, params in paths:
            first = json.dumps(_get(cached, path, **params), sort_keys=True)
            assert json.dumps(_get(cached, path, **params), sort_keys=True) == first
            assert json.dumps(_get(plain, path, **params), sort_keys=True) == first
        assert cached.stats.requests == 2 * len(paths)
