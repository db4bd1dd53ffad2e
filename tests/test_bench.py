"""bench/run.py end to end on a tiny cluster (no timing is asserted), and the plugin's
schedule-based log selection against plain newest-first reading on generated clusters."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import pve_sim.generate as generate_module
from history_runs import assess_with, newest_first
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.collect.tasks import collect_history
from pve_backup_report.config import Secret, Settings
from pve_sim import Scenario, Simulator
from pve_sim.generate import generate_scenario

BENCH = Path(__file__).resolve().parent.parent / "bench"
SRC = BENCH.parent / "src"


def test_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--sizes", "nodes=2,guests=12,jobs=4,days=2",
         "--latency-ms", "0", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["mode"] for r in rows] == ["cold", "warm", "report-first", "report"]
    keys = {"size", "mode", "nodes", "guests", "wall_s", "cpu_s", "peak_rss_mb", "requests",
            "min_requests", "bytes", "floor_s", "cpu_per_guest_ms", "cpu_per_log_ms",
            "sim_cpu_s"}  # fmt: skip
    for row in rows:
        assert keys <= set(row)
        assert (row["nodes"], row["guests"]) == (2, 12)
        assert row["exit_code"] in (0, 1, 2), row
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_rss_mb"] > 0
        assert row["bytes"] > 0 and row["sim_cpu_s"] > 0  # serving costs the simulator CPU
        assert row["requests"] >= row["min_requests"] > 0
    cold, warm, first, report = rows
    assert first["requests"] >= warm["requests"]  # the notes, once
    assert all(r["floor_s"] == 0 for r in rows)  # no latency, no floor
    assert cold["cpu_per_log_ms"] is not None and warm["cpu_per_log_ms"] is None
    assert warm["requests"] == warm["min_requests"] < cold["requests"]
    assert report["requests"] == warm["requests"]  # the notes come from the cache


def _bench_module() -> Any:
    """bench/run.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_bench_baseline_rows_for_both_trees_from_one_simulator() -> None:
    """``--baseline``: the same size measured for both source trees (here the same tree,
    so every count is equal), rows labelled, and the ratio table printed."""
    src = Path(__file__).resolve().parent.parent / "src"
    args = [sys.executable, str(BENCH / "run.py"), "--sizes", "nodes=2,guests=12,jobs=4,days=2",
            "--latency-ms", "0", "--baseline", str(src)]  # fmt: skip
    proc = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    modes = ["cold", "warm", "report-first", "report"]
    assert [(r["plugin"], r["mode"]) for r in rows] == [
        *(("this", m) for m in modes),
        *(("baseline", m) for m in modes),
    ]
    this, base = rows[:4], rows[4:]
    for a, b in zip(this, base, strict=True):
        assert (a["requests"], a["min_requests"], a["truth_match"]) == (
            b["requests"], b["min_requests"], b["truth_match"],
        )  # fmt: skip
        assert a["bytes"] == b["bytes"] > 0  # the same answers from the same simulator
    assert base[2]["requests"] > base[1]["requests"]  # its own notes cache: filled once
    assert base[3]["requests"] == base[1]["requests"]
    text = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "| wall this / baseline |" in text.stdout and "| baseline |" in text.stdout


def _turns(versions: list[Any], repeat: int, turn: int = 0) -> list[tuple[str, int, Any]]:
    """The runs ``run_modes`` makes, in order: (mode, attempt, version)."""
    bench = _bench_module()
    order: list[tuple[str, int, Any]] = []
    bench.measure = lambda served, v, mode, cmd, attempt, best: order.append((mode, attempt, v))
    plan = [("cold", 1), ("warm", 1), ("report-first", 1), ("report", 1)]
    bench.run_modes(None, versions, plan, repeat, turn)
    return order


def test_the_versions_take_turns_going_first() -> None:
    """Each version runs first in every other turn, over the modes and their
    repetitions, and a repeated mode runs an even number of times: neither is always
    the second of two runs back to back. The first report runs once: the sizes of a
    run (their place, ``turn``) alternate which version it starts with."""
    a, b = (SimpleNamespace(base=[], work=Path(n)) for n in "ab")
    order = _turns([a, b], 2)
    firsts = [v for mode, attempt, v in order[::2]]
    assert firsts == [a, b, a, b, a, b, a]  # cold x2, warm x2, report-first x1, report x2
    assert [(m, n) for m, n, _v in order[::2]] == [
        ("cold", 0), ("cold", 1), ("warm", 0), ("warm", 1), ("report-first", 0),
        ("report", 0), ("report", 1),
    ]  # fmt: skip
    warm = [v for m, _n, v in _turns([a, b], 1) if m == "warm"]
    assert warm == [a, b, b, a]  # one repetition asked: two, each version first once
    assert [m for m, _n, _v in _turns([a], 1)] == ["cold", "warm", "report-first", "report"]
    first_reports = [v for m, _n, v in _turns([a, b], 1, turn=1) if m == "report-first"]
    assert first_reports == [b, a]  # the second size of a run: the baseline first


def _histories(sim: Simulator, now: int, collect: Any) -> tuple[dict[int, Any], int]:
    a = assess_with(sim, now, collect, history_days=6)
    out = {g.guest.vmid: (g.last_backup, g.last_success, g.freshness, g.problems) for g in a.guests}
    return out, a.stats.logs_fetched


@pytest.mark.parametrize(
    ("seed", "lockwait"),
    [(1, 180), (2, 180), (6, 180), (2, 1), (3, 1)],
)
def test_schedule_selection_gives_the_same_results_with_fewer_logs(
    seed: int, lockwait: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same latest results as reading every node newest first, also when runs give up
    waiting for the lock (``lockwait`` 1 minute): then jobs sharing an event can no longer
    be told apart and single-guest runs of non-PBS jobs fail without a command line."""
    monkeypatch.setattr(generate_module, "LOCKWAIT_MINUTES", lockwait)
    scenario = Scenario.from_dict(generate_scenario(5, 150, 14, 6, seed))
    monkeypatch.undo()
    assert scenario.now is not None
    with Simulator(scenario) as sim:
        newest, newest_logs = _histories(sim, scenario.now, newest_first)
        by_schedule, schedule_logs = _histories(sim, scenario.now, collect_history)
    assert by_schedule == newest
    assert schedule_logs < newest_logs


def test_public_store_verifies_the_simulator(tmp_path: Path) -> None:
    """``--public-store``: certifi's bundle with the simulator's CA added; a check given
    it verifies the simulator, loading the whole store (``http.shared_tls``)."""
    bench = _bench_module()
    scenario = Scenario.from_dict(generate_scenario(nodes=1, guests=2, jobs=1, days=1))
    with Simulator(scenario, tls=True) as sim:
        assert sim.ca_path is not None
        store = bench.public_ca_store(str(sim.ca_path), tmp_path)
        settings = Settings(hosts=(sim.url,), token_id=sim.token_id,
                            token_secret=Secret(sim.token_secret), ca_bundle=store)  # fmt: skip
        with PveClient(settings) as client:
            assert client.get("/version")["version"]
            context = client._transport._pool.connection_pool_kw["ssl_context"]
            assert context.cert_store_stats()["x509_ca"] > 100


def test_least_replays_the_requests_of_a_cold_and_a_warm_run_and_a_first_report() -> None:
    """``--least``: the GETs of one cold run, one warm run and one first report of this
    tree (its notes included), replayed by ``bench/least.py`` over HTTPS (the simulator's
    ``?records=N``): the same requests and the same bytes as the check's, rows labelled
    ``least``, and the table of ratios."""
    args = [sys.executable, str(BENCH / "run.py"), "--sizes", "nodes=2,guests=12,jobs=4,days=2",
            "--latency-ms", "0", "--least"]  # fmt: skip
    proc = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {(r["plugin"], r["mode"]): r for r in json.loads(proc.stdout)}
    modes = ("cold", "warm", "report-first")
    assert [k for k in rows if k[0] == "least"] == [("least", mode) for mode in modes]
    assert rows["least", "report-first"]["requests"] == rows["least", "warm"]["requests"] + 12
    for mode in modes:
        least, this = rows["least", mode], rows["this", mode]
        assert least["exit_code"] == 0 and least["cpu_s"] > 0
        assert (least["requests"], least["bytes"]) == (this["requests"], this["bytes"])
        assert least["min_requests"] == this["min_requests"]
    text = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    assert "| least / this CPU |" in text and "| least | nodes=2" in text


def test_carried_gives_back_the_kept_assessment_after_a_warm_runs_requests() -> None:
    """``--carried`` after a repeated ``--least`` (which empties the task cache): the
    assessment kept is a warm run's (the bench refuses another), the runs that give it
    back make the warm check's requests (a run still going included: its log is read),
    the minimum, and end as it did; the table of ratios."""
    args = [sys.executable, str(BENCH / "run.py"), "--sizes", "nodes=3,guests=20,jobs=6,days=2",
            "--latency-ms", "0", "--repeat", "2", "--least", "--carried"]  # fmt: skip
    proc = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {(r["plugin"], r["mode"]): r for r in json.loads(proc.stdout)}
    carried, this = rows["carried", "warm"], rows["this", "warm"]
    assert [k for k in rows if k[0] == "carried"] == [("carried", "warm")]
    assert carried["exit_code"] == this["exit_code"]
    # the minimum counts the log of the run still going, read on every warm run
    assert carried["requests"] == this["requests"] == this["min_requests"]
    assert carried["cpu_s"] > 0 and carried["truth_match"] is None
    text = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    assert "| carried / this CPU |" in text and "| carried | nodes=3" in text


def _check_runs(
    sim: Simulator, now: int | None, tmp_path: Path, **extra: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs of a command (the check, ``bench/carried.py``) against ``sim`` at ``now``,
    with this tree's code and a task cache in ``tmp_path``."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(SRC),
           "PVE_HOST": sim.url, "PVE_API_TOKEN_ID": sim.token_id,
           "PVE_API_TOKEN_SECRET": sim.token_secret, "PVE_CA_BUNDLE": str(sim.ca_path),
           **extra}  # fmt: skip
    args = ["--now", str(now), "--cache-file", str(tmp_path / "tasks.json"),
            "--history-days", "2"]  # fmt: skip

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *cmd, *args], capture_output=True, text=True,
                              timeout=120, env=env)  # fmt: skip

    return run


def test_carried_prints_what_the_warm_check_prints(tmp_path: Path) -> None:
    """``bench/carried.py``: a run with no kept file is the check itself (warm here) and
    keeps its assessment; the next gives it back without its task cache (not written
    again: the analysis did not run) after the warm check's requests, a run still going
    and older task-list pages (three tasks a page) included: the warm check's output,
    but for the time taken (perfdata)."""
    scenario = Scenario.from_dict(generate_scenario(nodes=3, guests=20, jobs=6, days=2))
    kept, cache = tmp_path / "kept.pickle", tmp_path / "tasks.json"
    with Simulator(scenario, tls=True) as sim:
        run = _check_runs(sim, scenario.now, tmp_path, PVE_TASK_HISTORY_LIMIT="3")
        run("-m", "pve_backup_report")  # cold: the task cache filled
        first = run(str(BENCH / "carried.py"), str(kept))
        warm = run("-m", "pve_backup_report")
        cache.unlink()
        before = sim.stats.requests
        given = run(str(BENCH / "carried.py"), str(kept))
        after = sim.stats
    assert kept.exists() and not cache.exists()
    assert first.returncode == warm.returncode == given.returncode and given.stderr == ""
    asked = after.records[before - after.requests :]
    assert any(r.path.endswith("/log") and r.status == 200 for r in asked)
    assert any(r.path.endswith("/tasks") and "start=3&" in f"{r.query}&" for r in asked)
    steady = _bench_module().steady  # the output but for collect_time, as the bench compares
    assert "api_requests=" in warm.stdout
    assert steady(given.stdout) == steady(warm.stdout) == steady(first.stdout)


@pytest.mark.parametrize(
    ("files", "said"),
    [
        (("pipeline.py", "collect/__init__.py", "collect/tasks.py"),
         "carried: the tree on PYTHONPATH lacks pipeline._run_assessment"),
        (("pipeline.py",), "carried: cannot import pve_backup_report.collect"),
    ],
)  # fmt: skip
def test_carried_says_in_one_line_what_the_tree_lacks(
    tmp_path: Path, files: tuple[str, ...], said: str
) -> None:
    """A tree without the internals ``bench/carried.py`` uses, or another layout (an
    older tree): one line, exit 2."""
    package = tmp_path / "pve_backup_report"
    (package / "collect").mkdir(parents=True)
    for name in ("__init__.py", *files):
        (package / name).write_text("")
    if "collect/__init__.py" not in files:
        (package / "collect").rmdir()
    (package / "cli.py").write_text("def main() -> None: ...\n")
    proc = subprocess.run([sys.executable, str(BENCH / "carried.py"), str(tmp_path / "kept")],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 2 and proc.stderr == "" and proc.stdout.count("\n") == 1
    assert proc.stdout.startswith(said)


def test_carried_gives_this_runs_storage_space(tmp_path: Path) -> None:
    """The space is this run's, as the pipeline's: none when it cannot be read now,
    though the kept run read it (the anomalies stay the kept run's)."""
    data = generate_scenario(nodes=3, guests=20, jobs=6, days=2)
    scenario, kept = Scenario.from_dict(data), tmp_path / "kept"
    with Simulator(scenario, tls=True) as sim:
        run = _check_runs(sim, scenario.now, tmp_path)
        run("-m", "pve_backup_report")
        read = run(str(BENCH / "carried.py"), str(kept)).stdout
        faults = [{"path": "/nodes/*/storage/*/status", "status": 500, "message": "x"}]
        sim.set_scenario(Scenario.from_dict({**data, "faults": faults}))
        unread = run("-m", "pve_backup_report").stdout
        given = run(str(BENCH / "carried.py"), str(kept)).stdout
    assert "_used'=" in read
    assert "_used'=" not in unread and "_used'=" not in given


def test_least_says_in_one_line_what_failed(tmp_path: Path) -> None:
    """A request the simulator refuses: one line naming it, exit 1, no secret."""
    scenario = Scenario.from_dict(generate_scenario(nodes=1, guests=2, jobs=1, days=1))
    listed = tmp_path / "requests.json"
    listed.write_text(json.dumps([["/version", ""], ["/nodes/nowhere/tasks", ""]]))
    with Simulator(scenario, tls=True) as sim:
        env = {
            "PATH": "/usr/bin:/bin",
            "PVE_HOST": sim.url,
            "PVE_API_TOKEN_ID": sim.token_id,
            "PVE_API_TOKEN_SECRET": sim.token_secret,
            "PVE_CA_BUNDLE": str(sim.ca_path),
        }
        proc = subprocess.run([sys.executable, str(BENCH / "least.py"), str(listed)],
                              capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert proc.returncode == 1 and proc.stderr == ""
    assert proc.stdout.startswith("least: ") and "/nodes/nowhere/tasks: HTTP " in proc.stdout
    assert proc.stdout.count("\n") == 1 and sim.token_secret not in proc.stdout


def test_least_never_prints_the_secret(tmp_path: Path) -> None:
    """A secret that makes an invalid header: the error quotes the header as bytes, and
    the line printed says ``<secret>`` instead."""
    listed = tmp_path / "requests.json"
    listed.write_text(json.dumps([["/version", ""]]))
    scenario = Scenario.from_dict(generate_scenario(nodes=1, guests=2, jobs=1, days=1))
    with Simulator(scenario) as sim:
        env = {"PATH": "/usr/bin:/bin", "PVE_HOST": sim.url, "PVE_API_TOKEN_ID": "a@pve!t",
               "PVE_API_TOKEN_SECRET": "S3CRET-VALUE\n"}  # fmt: skip
        proc = subprocess.run([sys.executable, str(BENCH / "least.py"), str(listed)],
                              capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert proc.returncode == 1 and proc.stderr == ""
    assert "S3CRET" not in proc.stdout and "<secret>" in proc.stdout


@pytest.mark.parametrize("content", ["[1]", "null", '[["/version"]]', "{"])
def test_least_says_a_bad_requests_file_in_one_line(tmp_path: Path, content: str) -> None:
    listed = tmp_path / "requests.json"
    listed.write_text(content)
    env = {"PATH": "/usr/bin:/bin", "PVE_HOST": "https://127.0.0.1:9",
           "PVE_API_TOKEN_ID": "a@pve!t", "PVE_API_TOKEN_SECRET": "s"}  # fmt: skip
    proc = subprocess.run([sys.executable, str(BENCH / "least.py"), str(listed)],
                          capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert proc.returncode == 1 and proc.stderr == ""
    assert proc.stdout.startswith("least: ") and proc.stdout.count("\n") == 1


def _walks_line(stdout: str) -> dict[str, float]:
    """The counts and CPU of ``bench/walks.py``'s last line."""
    *_out, last = stdout.splitlines()
    assert last.startswith("walks: ")
    return {k: float(v) for k, v in (item.split("=") for item in last.split()[1:])}


def test_walks_counts_a_cold_checks_plans_after_its_output(tmp_path: Path) -> None:
    """``bench/walks.py``: the check's own output and exit code, then one line. Cold,
    every node of the cluster is walked once first, and walked again after the logs its
    first walk took were read. Warm, the one log read is that of a run still going on one
    node (the task cache keeps no running task); every node is walked again once after
    it (``_Reader.settle``), and only that node's later walk meets a task whose log became
    known since its first."""
    scenario = Scenario.from_dict(generate_scenario(nodes=3, guests=20, jobs=6, days=2))
    with Simulator(scenario, tls=True) as sim:
        run = _check_runs(sim, scenario.now, tmp_path)
        counted = run(str(BENCH / "walks.py"))
        (tmp_path / "tasks.json").unlink()
        plain = run("-m", "pve_backup_report")
        warm = run(str(BENCH / "walks.py"))
    steady = _bench_module().steady
    assert counted.returncode == plain.returncode == warm.returncode and counted.stderr == ""
    assert steady(counted.stdout.rsplit("walks: ", 1)[0]) == steady(plain.stdout)
    cold = _walks_line(counted.stdout)
    assert cold["first_walks"] == 3 and cold["later_walks"] >= 3
    assert 0 <= cold["before_change"] <= cold["later_visits"]
    assert cold["first_visits"] > 0 and min(cold.values()) >= 0
    again = _walks_line(warm.stdout)
    assert again["first_walks"] == again["later_walks"] == 3
    assert 0 < again["before_change"] < again["later_visits"]


def test_walks_says_in_one_line_what_the_tree_lacks(tmp_path: Path) -> None:
    """A tree whose reader lacks the methods ``bench/walks.py`` counts: one line, exit 2."""
    package = tmp_path / "pve_backup_report"
    (package / "collect").mkdir(parents=True)
    for name in ("__init__.py", "collect/__init__.py"):
        (package / name).write_text("")
    (package / "collect" / "tasks.py").write_text("class _Reader:\n    def plan(self): ...\n")
    (package / "cli.py").write_text("def main() -> None: ...\n")
    proc = subprocess.run([sys.executable, str(BENCH / "walks.py")], capture_output=True,
                          text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 2 and proc.stderr == "" and proc.stdout.count("\n") == 1
    assert proc.stdout.startswith("walks: the tree on PYTHONPATH lacks _Reader._walk, ")
