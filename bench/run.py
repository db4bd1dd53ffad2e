#!/usr/bin/env python3
"""Benchmark check_pve_backup against generated clusters (see docs/performance.md).

    python bench/run.py [--sizes S,M,L] [--days 14] [--latency-ms 20] [--json]
                        [--repeat N] [--plugin-src DIR] [--baseline DIR] [--public-store]
                        [--least] [--carried]

For each size: generate the cluster (``simulator.generate``), serve it over HTTPS from a
separate simulator process (its CPU is not the check's) with the given latency per request,
and run ``check_pve_backup`` as a child process with a fresh task cache, after one
untimed cold run that makes the simulator build (and keep) every answer the check asks
for (``prime``):

* ``cold``: empty cache;
* ``warm``: the same check again (nothing new);
* ``report-first``: the first ``--report`` run, which fills the notes cache (not repeated);
* ``report``: the warm check with ``--report`` after it.

Measured per run: wall time, CPU time (user + sys of the child, from ``os.wait4``), peak
RSS of the child, API requests (the ``api_requests`` perfdata), bytes sent by the
simulator and the simulator's own CPU time while it served the run (``sim_cpu_s``, both
from its ``/_simulator/stats``: on the same machine, the wall time cannot be below the two
processes' CPU over the cores that run them), and ``min_requests``: what the run could not
do without (the inventory, time zones when cold, one task list page per node and the pages
down to the deepest needed task, when cold the logs that hold each covered guest's latest
result and latest success and those of the runs of its jobs since that success (only a log
tells which guests a run failed), one content call and one status call (space) per PBS
storage in use, one task list per node to look up creations when a covered guest has no
result (warm: only when such a guest was not created after its expected run, the others
being settled by the task cache), when warm the logs of those runs still going (the task
cache keeps no running task), and for the report the notes not cached), and
``floor_s``, the latency floor: the dependent round trips times the latency plus the
remaining minimum requests times the latency over ``--max-workers`` (the table shows
``wall / floor``). CPU is also given per guest and, cold, per log the run had to read.
Timings are never asserted anywhere; this script only reports them.

With ``--baseline DIR`` the check from that source tree (the previous release, say) is
measured too, against the same simulator and in the same run, each version with its
own task cache and notes cache, both started alike (``python -m`` with their tree on
``PYTHONPATH``, this checkout's unless ``--plugin-src``). The two take turns, each
first in every other turn (one turn is one run of a mode by each), and each mode but
the first report runs an even number of times (an odd ``--repeat`` is rounded up), so
that neither is favoured by the order; the first report, run once, starts with each
version in turn over the sizes of a run (with one size, this tree's goes first). With
the same code on both sides the wall times of one run came out at 0.98 to 1.02 of each
other on L; two separate runs, one per version, had put a warm check whose code had not
changed at 0.81 to 0.96 of the baseline's CPU. The rows say which version ran
(``plugin``: ``this`` or ``baseline``) and the table gives this / baseline.

``--public-store`` has every check verify TLS against certifi's bundle with the
simulator's CA added, as a check without ``PVE_CA_BUNDLE`` verifies against a public
store, instead of against the simulator's CA alone.

``--least`` replays the GETs of one cold run, one warm run and one first report of this
tree with ``bench/least.py`` (rows labelled ``least``): every answer asked at once,
decoded and kept in the least form the check needs, no analysis. Its CPU is a floor for
a check making those requests in this interpreter with as many workers; the table gives
least / this and least / baseline CPU, measured in the same run.

``--carried`` runs this tree's warm check through ``bench/carried.py`` (rows labelled
``carried``): one untimed run keeps its assessment, then each timed run makes the
requests and does the parsing a warm run needs for its inputs and gives the kept
assessment back (unpickled), without reading the task cache or computing the coverage,
the history and the verdicts, and without proving its inputs unchanged. Its CPU is what
a warm check carrying its whole analysis from one run to the next costs, less the
unpickling a floor for it; the table gives carried / this and carried / baseline CPU,
measured in the same run.

A size is ``S``, ``M``, ``L`` or ``nodes=N,guests=N,jobs=N[,days=N][,seed=N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"
LEAST = Path(__file__).resolve().parent / "least.py"
CARRIED = Path(__file__).resolve().parent / "carried.py"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from pve_backup_report.pve.upid import parse_upid  # noqa: E402
from pve_sim.generate import (  # noqa: E402
    TOKEN_ID,
    TOKEN_SECRET,
    GenerateSpec,
    generate_cluster,
    parse_spec,
    task_guests,
)
from pve_sim.scenario import Scenario  # noqa: E402
from pve_sim.truth import GuestTruth, ground_truth  # noqa: E402

SIZES = {
    "S": GenerateSpec(nodes=3, guests=60, jobs=6),
    "M": GenerateSpec(nodes=8, guests=1000, jobs=20),
    "L": GenerateSpec(nodes=32, guests=10000, jobs=60),
}
PAGE_SIZE = 1000  # the plugin's default task_history_limit
INVENTORY = 9  # /version /nodes /storage /cluster/resources /cluster/backup /pools
# /cluster/backup-info/not-backed-up /cluster/status /access/permissions
KEYS = (
    "size", "mode", "nodes", "guests", "wall_s", "cpu_s", "peak_rss_mb", "requests",
    "min_requests", "bytes", "truth_match", "floor_s", "cpu_per_guest_ms", "cpu_per_log_ms",
    "sim_cpu_s", "plugin",
)  # fmt: skip
MAX_WORKERS = 16  # the plugin's default --max-workers


@dataclass
class Row:
    size: str
    mode: str
    nodes: int
    guests: int
    days: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    requests: int
    min_requests: int
    bytes: int
    exit_code: int
    status: str
    truth_match: float | None = None  # % of guests whose problems are the ground truth
    floor_s: float = 0.0  # the latency floor (see ``floor``)
    cpu_per_guest_ms: float = 0.0  # CPU per guest of the cluster
    cpu_per_log_ms: float | None = None  # cold: CPU per log the run had to read
    sim_cpu_s: float = 0.0  # the simulator's CPU while it served the run (same machine)
    plugin: str = "this"  # the source tree that ran: "this", or "baseline" (``--baseline``)

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*KEYS, "days", "exit_code")}


# --------------------------------------------------------------------------- minimal requests


@dataclass(frozen=True)
class Minimum:
    inventory: int
    timezones: int
    defaults: int
    pages: int
    logs: int
    content: int
    notes: int
    creations: int = 0  # a covered guest without any result: one task list per node
    # ... when warm: only for such a guest not created after its expected run (one that
    # was is settled by the task cache)
    warm_creations: int = 0
    deepest_pages: int = 1  # the most task-list pages one node needs (read one after another)
    # the logs of ``logs`` whose runs are still going: read again on every run (the task
    # cache keeps no running task; only its log tells which guests it has done since)
    running_logs: int = 0

    def cold(self) -> int:
        return (
            self.inventory + self.timezones + self.defaults + self.pages + self.logs
            + self.content + self.creations
        )  # fmt: skip

    def warm(self) -> int:
        return (
            self.inventory + self.defaults + self.pages + self.content + self.warm_creations
            + self.running_logs
        )  # fmt: skip

    def rounds(self, mode: str) -> int:
        """Round trips that depend on each other: the inventory, the node details (time
        zones, defaults), the task-list pages one after another, the logs, the notes."""
        details = 1 if mode == "cold" or self.defaults else 0
        logs = 1 if (self.logs if mode == "cold" else self.running_logs) else 0
        notes = 1 if mode == "report-first" else 0
        return 1 + details + self.deepest_pages + logs + notes


def floor(least: Minimum, mode: str, min_requests: int, latency_ms: int, workers: int) -> float:
    """The latency floor of a run: its dependent round trips one after another, the rest
    of its minimum requests ``workers`` at a time."""
    rounds = least.rounds(mode)
    return latency_ms / 1000 * (rounds + max(0, min_requests - rounds) / max(1, workers))


def minimum(scenario: Scenario, history_days: int, truth: Sequence[GuestTruth]) -> Minimum:
    """The requests a run cannot do without, from the generator's ground truth."""
    assert scenario.now is not None
    since = scenario.now - history_days * 86400
    storages = {s.id: s for s in scenario.storages}
    online = [n.node for n in scenario.nodes if n.online]
    jobs = {j.id: j.config for j in scenario.jobs}
    renderer = scenario.recipes

    def pbs_on(storage_id: str | None, node: str) -> bool:
        st = storages.get(storage_id or "")
        return (
            st is not None
            and st.type == "pbs"
            and not st.disabled
            and st.available_on(node)
            and "backup" in st.content
        )

    in_use: set[str] = set()
    for job_id, job in jobs.items():
        selected = renderer.selection(job_id)
        if any(selected.get(n) for n in selected if n):
            in_use.add(str(job.get("storage") or ""))
    # per PBS storage in use: its content and its status (datastore space)
    content = 2 * sum(1 for s in in_use if pbs_on(s, online[0]) if online)

    # The tasks holding each covered guest's latest result and latest success, on
    # whichever node they ran (the generator knows them).
    covered = {t.vmid for t in truth if t.coverage == "covered"}
    success = {t.vmid: t.latest_success.started for t in truth if t.latest_success is not None}
    needed = {
        (parse_upid(r.upid).starttime, r.upid)
        for t in truth
        for r in (t.latest, t.latest_success)
        if r is not None
    }
    # Only a log tells which guests a run failed (or that it gave up waiting for the
    # lock), so every PBS run of a guest's jobs since its latest success must be read too.
    for task, guests in task_guests(scenario):
        recipe = task.log_recipe
        assert recipe is not None
        if task.starttime < since or not pbs_on(jobs[recipe.job].get("storage"), task.node):
            continue
        local = renderer.selection(recipe.job).get(task.node, [])
        could_hold = (*guests, *local, *(recipe.vmids or ()))
        if any(v in covered and task.starttime > success.get(v, 0) for v in could_hold):
            needed.add((task.starttime, task.upid))
    running = {t.upid for n in online for t in scenario.tasks_on(n) if t.running}
    pages = deepest_pages = 0
    for node in online:
        listed = sorted(
            ((t.starttime, t.upid) for t in scenario.tasks_on(node) if t.type == "vzdump"
             and t.starttime >= since),
            reverse=True,
        )  # fmt: skip
        deepest = max((i for i, key in enumerate(listed) if key in needed), default=0)
        pages += deepest // PAGE_SIZE + 1
        deepest_pages = max(deepest_pages, deepest // PAGE_SIZE + 1)
    return Minimum(
        inventory=INVENTORY,
        timezones=len(online),
        # only a job with neither storage nor dumpdir uses the node's vzdump defaults
        defaults=len(online)
        if any(not j.get("storage") and not j.get("dumpdir") for j in jobs.values())
        else 0,
        pages=pages,
        logs=len(needed),
        content=content,
        notes=len(scenario.guests),
        # when was a guest without any result created? (the generator makes no clones)
        creations=len(online) if covered - {t.vmid for t in truth if t.latest} else 0,
        warm_creations=len(online)
        if covered - {t.vmid for t in truth if t.latest or t.freshness == "pending"}
        else 0,
        deepest_pages=deepest_pages or 1,
        running_logs=sum(1 for _start, upid in needed if upid in running),
    )


# --------------------------------------------------------------------------- processes


@dataclass
class Served:
    url: str
    ca: str | None
    token_id: str
    token_secret: str
    proc: subprocess.Popen[str]


@contextmanager
def serve(spec: GenerateSpec, latency_ms: int, tls: bool, workdir: Path) -> Iterator[Served]:
    cmd = [
        sys.executable, "-m", "pve_sim", "--generate", spec.as_text(),
        "--latency-ms", str(latency_ms), "--cache-answers",
    ]  # fmt: skip
    if tls:
        cmd.append("--tls")
    errlog = workdir / "simulator.err"
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with errlog.open("w") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, start_new_session=True
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"simulator did not start: {line!r} {errlog.read_text()}")
        url = line.split()[-1]
        text = errlog.read_text()
        found = re.search(r"CA certificate written to (\S+)", text)
        yield Served(url, found.group(1) if found else None, TOKEN_ID, TOKEN_SECRET, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def public_ca_store(ca: str, root: Path) -> str:
    """A CA file of certifi's bundle and the simulator's CA: what a check verifying
    against a public store (the default without ``PVE_CA_BUNDLE``: certifi's, or the
    system's) loads, its own CA added as a site adds an internal one."""
    import certifi

    store = root / "public-store.pem"
    store.write_text(Path(certifi.where()).read_text() + Path(ca).read_text())
    return str(store)


def simulator_stats(served: Served, records: int = 0) -> dict[str, Any]:
    """The simulator's statistics, with its last ``records`` requests when asked."""
    context = ssl.create_default_context(cafile=served.ca) if served.ca else None
    query = f"?records={records}" if records else ""
    with urllib.request.urlopen(served.url + "/_simulator/stats" + query, context=context) as resp:
        result: dict[str, Any] = json.load(resp)
        return result


def check_command(plugin_src: Path | None = None) -> list[str]:
    if plugin_src is not None:  # another source tree (PYTHONPATH), e.g. a baseline
        return [sys.executable, "-m", "pve_backup_report"]
    script = Path(sys.executable).with_name("check_pve_backup")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pve_backup_report"]


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    stdout: str
    stderr: str


# Runs the check from a small Python process and writes the check's own wall time (the
# launcher's start-up excluded), CPU time and peak RSS. Measured from this (large)
# process instead, ``ru_maxrss`` would count this process's memory: Linux keeps the
# high-water mark of the memory a child had between fork and exec, a copy of ours.
_LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvpe(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.perf_counter() - t0} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_child(cmd: Sequence[str], env: Mapping[str, str], cwd: Path) -> Measured:
    """Run ``cmd``; wall time, and CPU and peak RSS of the check alone (``os.wait4`` in
    a small launcher process, see ``_LAUNCHER``)."""
    with tempfile.TemporaryFile("w+") as err, tempfile.NamedTemporaryFile("r") as usage:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, usage.name, *cmd],
            stdout=subprocess.PIPE, stderr=err, env=dict(env), cwd=cwd, text=True,
        )  # fmt: skip
        out, _ = proc.communicate()
        err.seek(0)
        stderr = err.read()
        wall, cpu, rss_kb = usage.read().split()  # KiB on Linux
    return Measured(float(wall), float(cpu), int(rss_kb) / 1024, proc.returncode, out, stderr)


def perfdata(output: str, label: str) -> int | None:
    found = re.search(rf"\b{label}=(\d+)", output)
    return int(found.group(1)) if found else None


# --------------------------------------------------------------------------- one size


@dataclass
class Version:
    """One source tree under test: its check command, environment and task cache, in a
    directory of its own (its notes cache too), against the size's simulator."""

    label: str  # "this", or "baseline" (``--baseline``)
    command: list[str]  # the check (``check_command``)
    env: dict[str, str]
    work: Path
    cache_file: Path
    options: list[str]  # the options every run of it takes

    @property
    def base(self) -> list[str]:
        """The check with the options every run of it takes."""
        return [*self.command, *self.options]


def version(
    label: str, plugin_src: Path | None, served: Served, scenario: Scenario, days: int,
    workers: int, root: Path,
) -> Version:  # fmt: skip
    work = root / label
    work.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "XDG_CACHE_HOME": str(work / "cache"),
        "PYTHONPATH": str(plugin_src or SRC),
        "PVE_HOST": served.url,
        "PVE_API_TOKEN_ID": served.token_id,
        "PVE_API_TOKEN_SECRET": served.token_secret,
    }
    if served.ca:
        env["PVE_CA_BUNDLE"] = served.ca
    cache_file = work / "tasks.json"
    options = [
        "--now", str(scenario.now),
        "--cache-file", str(cache_file),
        "--history-days", str(days),
        "--max-workers", str(workers),
        "-t", "300",
    ]  # fmt: skip
    return Version(label, check_command(plugin_src), env, work, cache_file, options)


def in_turn(versions: Sequence[Version], turn: int) -> Sequence[Version]:
    """The order the versions run in at ``turn`` (a mode's repetition, counted over the
    modes): each goes first every other turn, so that neither is always the one that
    runs right after the other."""
    return versions if turn % 2 == 0 else versions[::-1]


Best = dict[tuple[str, str], tuple[Measured, int, float]]  # (label, mode): the fastest run


def measure(
    served: Served, v: Version, mode: str, cmd: Sequence[str], attempt: int, best: Best
) -> Measured:
    """One run of ``v`` in ``mode``, kept in ``best`` when it is the fastest so far (a
    repeated cold run starts from an empty task cache)."""
    if mode == "cold" and attempt:
        v.cache_file.unlink(missing_ok=True)
    before = simulator_stats(served)
    measured = run_child(cmd, v.env, v.work)
    after = simulator_stats(served)
    sent = int(after["bytes_sent"]) - int(before["bytes_sent"])
    served_cpu = float(after["cpu_s"]) - float(before["cpu_s"])
    found = best.get((v.label, mode))
    if found is None or measured.wall_s < found[0].wall_s:
        best[(v.label, mode)] = (measured, sent, served_cpu)
    return measured


def bench_size(
    name: str,
    spec: GenerateSpec,
    latency_ms: int,
    tls: bool,
    verbose: bool,
    repeat: int = 1,
    plugin_src: Path | None = None,
    workers: int = MAX_WORKERS,
    baseline: Path | None = None,
    first_turn: int = 0,
    public_store: bool = False,
    least_too: bool = False,
    carried_too: bool = False,
) -> list[Row]:
    """The size's rows: this source tree's (``plugin_src``, else this checkout's), and
    with ``baseline`` that tree's too, run in turn against the same simulator
    (``run_modes``, from ``first_turn``: the size's place in the run)."""
    generated = generate_cluster(spec)
    truth = ground_truth(generated)
    scenario = Scenario.from_dict(generated.data)
    assert scenario.now is not None
    least = minimum(scenario, spec.days, truth)
    del generated
    root = Path(tempfile.mkdtemp(prefix="pve-bench-"))
    try:
        with serve(spec, latency_ms, tls, root) as served:
            if public_store and served.ca:
                served.ca = public_ca_store(served.ca, root)
            trees = [("this", plugin_src)]
            if baseline is not None:  # both started alike (see the module docstring)
                trees = [("this", plugin_src or SRC), ("baseline", baseline)]
            versions = [
                version(label, src, served, scenario, spec.days, workers, root)
                for label, src in trees
            ]
            for v in versions:
                prime(v.base, v.env, v.work, v.cache_file)
            plan = [
                ("cold", least.cold()),
                ("warm", least.warm()),
                ("report-first", least.warm() + least.notes),
                ("report", least.warm()),
            ]
            best = run_modes(served, versions, plan, repeat, first_turn, name if verbose else None)
            rows = []
            for v in versions:
                rows += version_rows(name, spec, v, plan, best, least, latency_ms, workers)
                match = truth_match(v.base, v.env, v.work, truth)
                for r in rows[-len(plan) :]:
                    r.truth_match = match
            if least_too:
                rows += least_rows(name, spec, served, versions[0], plan, least, latency_ms,
                                   workers, repeat)  # fmt: skip
            if carried_too:
                warm = next(r for r in rows if r.plugin == "this" and r.mode == "warm")
                printed = best[("this", "warm")][0].stdout
                rows.append(carried_row(name, spec, served, versions[0], (warm, printed),
                                        least, latency_ms, workers,
                                        repeats(repeat, versions)))  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def run_modes(
    served: Served,
    versions: Sequence[Version],
    plan: Sequence[tuple[str, int]],
    repeat: int,
    turn: int = 0,
    verbose: str | None = None,
) -> Best:
    """Every mode in ``plan``'s order, ``repeat`` times (the first report once), each
    version in turn (``in_turn``, from ``turn``); the fastest run of each version and
    mode. With two versions a repeated mode runs an even number of times, so that each
    goes first as often as the other; the first report, once, goes first with the
    version that starts ``turn`` (the sizes of a run alternate it). ``verbose``: the
    size's name, each run then said on stderr."""
    best: Best = {}
    for mode, _min_requests in plan:
        times = 1 if mode == "report-first" else repeats(repeat, versions)
        for attempt in range(times):
            for v in in_turn(versions, turn):
                m = measure(served, v, mode, command(v, mode), attempt, best)
                if verbose is not None:
                    print(f"  {verbose} {v.label} {mode}: {m.wall_s:.2f}s "
                          f"{perfdata(m.stdout, 'api_requests')} requests {status(m)}",
                          file=sys.stderr)  # fmt: skip
            turn += 1
    return best


def repeats(repeat: int, versions: Sequence[Version]) -> int:
    """The runs of a repeated mode: with two versions an even number, so that each goes
    first as often as the other (``run_modes``; ``--carried`` runs as often)."""
    return repeat + (repeat % 2 if len(versions) > 1 else 0)


def version_rows(
    name: str, spec: GenerateSpec, v: Version, plan: Sequence[tuple[str, int]], best: Best,
    least: Minimum, latency_ms: int, workers: int,
) -> list[Row]:  # fmt: skip
    return [
        row(name, spec, v, mode, best[(v.label, mode)], min_requests, least, latency_ms, workers)
        for mode, min_requests in plan
    ]


def command(v: Version, mode: str) -> list[str]:
    """``v``'s check as ``mode`` runs it: the report modes write a report too."""
    if mode in ("report-first", "report"):
        return [*v.base, "--report", str(v.work / "report.md")]
    return v.base


def row(
    name: str, spec: GenerateSpec, v: Version, mode: str,
    found: tuple[Measured, int, float], min_requests: int, least: Minimum,
    latency_ms: int, workers: int,
) -> Row:  # fmt: skip
    m, sent, served_cpu = found
    requests = perfdata(m.stdout, "api_requests")
    if requests is None:
        raise RuntimeError(f"{name} {v.label} {mode}: no api_requests perfdata: {m.stdout!r}")
    return Row(
        size=name,
        mode=mode,
        nodes=spec.nodes,
        guests=spec.guests,
        days=spec.days,
        wall_s=round(m.wall_s, 3),
        cpu_s=round(m.cpu_s, 3),
        peak_rss_mb=round(m.peak_rss_mb, 1),
        requests=requests,
        min_requests=min_requests,
        bytes=sent,
        exit_code=m.exit_code,
        status=status(m),
        floor_s=round(floor(least, mode, min_requests, latency_ms, workers), 3),
        cpu_per_guest_ms=round(1000 * m.cpu_s / max(1, spec.guests), 4),
        cpu_per_log_ms=(
            round(1000 * m.cpu_s / least.logs, 3) if mode == "cold" and least.logs else None
        ),
        sim_cpu_s=round(served_cpu, 3),
        plugin=v.label,
    )


def least_rows(
    name: str, spec: GenerateSpec, served: Served, v: Version, plan: Sequence[tuple[str, int]],
    least: Minimum, latency_ms: int, workers: int, repeat: int,
) -> list[Row]:  # fmt: skip
    """``--least``: the GETs of one cold run of ``v``, one warm run and one first report
    (untimed, in that order from an empty task cache, which keeps the notes too), each
    replayed ``repeat`` times by ``bench/least.py``, the fastest kept: rows labelled
    ``least``, with ``v``'s minimum requests and latency floor."""
    v.cache_file.unlink(missing_ok=True)
    asked = {mode: requests_of(served, v, mode) for mode in ("cold", "warm", "report-first")}
    replay = replace(v, label="least")
    best: Best = {}
    for mode, requests in asked.items():
        listed = v.work / f"least-{mode}.json"
        listed.write_text(json.dumps(requests))
        cmd = [sys.executable, str(LEAST), str(listed), "--max-workers", str(workers)]
        for attempt in range(repeat):
            m = measure(served, replay, mode, cmd, attempt, best)
            if m.exit_code != 0:
                raise RuntimeError(f"{name} least {mode}: {m.stdout.strip()} {m.stderr[-300:]}")
    minimum_of = dict(plan)
    return [
        row(name, spec, replay, mode, best[("least", mode)], minimum_of[mode], least,
            latency_ms, workers)
        for mode in asked
    ]  # fmt: skip


def carried_row(
    name: str, spec: GenerateSpec, served: Served, v: Version, warm_run: tuple[Row, str],
    least: Minimum, latency_ms: int, workers: int, times: int,
) -> Row:  # fmt: skip
    """``--carried``: ``v``'s warm check through ``bench/carried.py``: one untimed run of
    the check (its task cache warm again whatever ran before: a repeated ``--least``
    empties it), one that keeps its assessment, then ``times`` runs that give it back,
    the fastest kept (a row labelled ``carried``). The run that keeps must make the
    requests of ``v``'s ``warm`` row (a run from an empty cache would keep its creation
    lookup), and those that give back print what its fastest run printed (but for the
    time taken)."""
    warm, printed = warm_run
    kept = v.work / "carried.pickle"
    kept.unlink(missing_ok=True)
    cmd = [sys.executable, str(CARRIED), str(kept), *v.options]
    run_child(v.base, v.env, v.work)
    first = run_child(cmd, v.env, v.work)
    if not kept.exists():
        raise RuntimeError(f"{name} carried: nothing kept: {first.stdout.strip()[:300]!r} "
                           f"{first.stderr[-300:]!r}")  # fmt: skip
    made = perfdata(first.stdout, "api_requests")
    if made != warm.requests:
        raise RuntimeError(f"{name} carried: the kept run made {made} requests, a warm "
                           f"run {warm.requests}")  # fmt: skip
    carried = replace(v, label="carried")
    best: Best = {}
    for attempt in range(times):
        m = measure(served, carried, "warm", cmd, attempt, best)
        if (m.exit_code, steady(m.stdout)) != (warm.exit_code, steady(printed)):
            raise RuntimeError(f"{name} carried: printed {m.stdout[:300]!r} ({m.exit_code}), "
                               f"the warm check {printed[:300]!r} ({warm.exit_code})")  # fmt: skip
    return row(name, spec, carried, "warm", best[("carried", "warm")], warm.min_requests,
               least, latency_ms, workers)  # fmt: skip


def requests_of(served: Served, v: Version, mode: str) -> list[tuple[str, str]]:
    """The GETs (path, query) of one run of ``v``'s check in ``mode`` answered with a
    200, in the order the simulator answered them; all of them (it keeps the last
    40,000)."""
    before = int(simulator_stats(served)["requests"])
    run_child(command(v, mode), v.env, v.work)
    count = int(simulator_stats(served)["requests"]) - before
    records = simulator_stats(served, count)["records"] if count else []
    if len(records) != count:
        raise RuntimeError(f"{count} requests, the simulator kept {len(records)}")
    return [(path, query) for method, path, query, status in records
            if method == "GET" and status == 200]  # fmt: skip


def prime(base: Sequence[str], env: Mapping[str, str], work: Path, cache_file: Path) -> None:
    """One untimed cold check before the measured ones, its task cache then removed: the
    simulator (``--cache-answers``) builds every answer it gives, a rendered task log
    included, once, and a measured run is not slowed by that building on the cores it
    shares with it. PVE reads a log from its file; the simulator renders it in Python,
    about 2 ms of CPU each. The priming run is the check under test, so each version
    primes the logs it reads."""
    run_child(base, env, work)
    cache_file.unlink(missing_ok=True)


def truth_match(
    base: Sequence[str], env: Mapping[str, str], work: Path, truth: Sequence[GuestTruth]
) -> float:
    """% of guests whose problems in ``--dump-coverage`` are exactly the ground truth's."""
    m = run_child([*base, "--dump-coverage", "--format", "json"], env, work)
    if m.exit_code != 0:
        raise RuntimeError(f"--dump-coverage failed: {m.stdout[:300]!r} {m.stderr[-300:]!r}")
    seen = {int(g["vmid"]): sorted(g["problems"]) for g in json.loads(m.stdout)["guests"]}
    same = sum(1 for t in truth if seen.get(t.vmid) == sorted(t.problems))
    return round(100 * same / max(1, len(truth)), 2)


def table(rows: Sequence[Row]) -> str:
    head = (
        "| plugin | size | days | mode | nodes | guests | wall s | floor s | wall / floor "
        "| CPU s | CPU ms / guest | CPU ms / log | simulator CPU s | peak RSS MB | requests "
        "| min requests | bytes | truth match % |"
    )
    lines = [head, "|" + " --- |" * 18]
    for r in rows:
        per_log = f"{r.cpu_per_log_ms:.2f}" if r.cpu_per_log_ms is not None else "-"
        lines.append(
            f"| {r.plugin} | {r.size} | {r.days} | {r.mode} | {r.nodes} | {r.guests:,} "
            f"| {r.wall_s:.2f} | {r.floor_s:.2f} | {per_floor(r, 1)} "
            f"| {r.cpu_s:.2f} | {r.cpu_per_guest_ms:.3f} | {per_log} | {r.sim_cpu_s:.2f} "
            f"| {r.peak_rss_mb:.0f} | {r.requests:,} | {r.min_requests:,} "
            f"| {r.bytes:,} | {r.truth_match if r.truth_match is not None else '-'} |"
        )
    return "\n".join(lines)


def steady(output: str) -> str:
    """A check's output without the time it took (``collect_time``)."""
    return re.sub(r"\bcollect_time=[0-9.]+s", "", output)


def status(m: Measured) -> str:
    """The check's status line, without its perfdata."""
    return m.stdout.split("|", 1)[0].strip()[:90]


def per_floor(r: Row, digits: int) -> str:
    """``wall / floor``; "-" without a floor (no latency)."""
    return f"{r.wall_s / r.floor_s:.{digits}f}" if r.floor_s > 0 else "-"


def ratio_table(rows: Sequence[Row]) -> str:
    """This tree against the baseline, per size and mode (``--baseline``)."""
    # each size gives this tree's rows, then the baseline's, in the same order of modes
    this = [r for r in rows if r.plugin == "this"]
    base = [r for r in rows if r.plugin == "baseline"]
    lines = [
        "| size | mode | wall this / baseline | CPU this / baseline | wall / floor "
        "(baseline) | peak RSS MB (baseline) | requests (baseline) |",
        "|" + " --- |" * 7,
    ]
    for r, b in zip(this, base, strict=True):
        lines.append(
            f"| {r.size} | {r.mode} | {r.wall_s / max(b.wall_s, 1e-9):.2f} "
            f"| {r.cpu_s / max(b.cpu_s, 1e-9):.2f} "
            f"| {per_floor(r, 2)} ({per_floor(b, 2)}) "
            f"| {r.peak_rss_mb:.0f} ({b.peak_rss_mb:.0f}) | {r.requests:,} ({b.requests:,}) |"
        )
    return "\n".join(lines)


def floor_table(rows: Sequence[Row], label: str) -> str:
    """The CPU of each mode the rows labelled ``label`` ran (``--least``, ``--carried``)
    against the trees measured."""
    by = {(r.size, r.mode, r.plugin): r for r in rows}
    lines = [
        f"| size | mode | {label} CPU s | {label} / this CPU | {label} / baseline CPU "
        f"| {label} wall / floor |",
        "|" + " --- |" * 6,
    ]
    for r in (r for r in rows if r.plugin == label):
        this, base = by.get((r.size, r.mode, "this")), by.get((r.size, r.mode, "baseline"))
        lines.append(
            f"| {r.size} | {r.mode} | {r.cpu_s:.3f} | {_cpu_ratio(r, this)} "
            f"| {_cpu_ratio(r, base)} | {per_floor(r, 2)} |"
        )
    return "\n".join(lines)


def _cpu_ratio(r: Row, other: Row | None) -> str:
    return f"{r.cpu_s / max(other.cpu_s, 1e-9):.2f}" if other is not None else "-"


def parse_sizes(text: str, days: int | None) -> list[tuple[str, GenerateSpec]]:
    out = []
    for item in (p.strip() for p in text.split(";" if "=" in text else ",")):
        if not item:
            continue
        spec = SIZES[item] if item in SIZES else parse_spec(item)
        if days is not None:
            spec = GenerateSpec(spec.nodes, spec.guests, spec.jobs, days, spec.seed)
        out.append((item if item in SIZES else spec.as_text(), spec))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="S,M,L",
        help="S,M,L or 'nodes=N,guests=N,jobs=N[,days=N]' (several separated by ';')",
    )
    parser.add_argument("--days", type=int, default=None, help="history days (default 14)")
    parser.add_argument("--latency-ms", type=int, default=20, help="per request (default 20)")
    parser.add_argument("--no-tls", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each mode N times (cold with a fresh cache each time), keep the fastest; "
        "with --baseline an odd N is rounded up (each version goes first as often)",
    )
    parser.add_argument(
        "--plugin-src",
        type=Path,
        default=None,
        metavar="DIR",
        help="run the check from this source tree (the directory holding "
        "pve_backup_report), e.g. an older version for a before/after comparison",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the check from this source tree (e.g. the previous release), "
        "against the same simulator, each run in turn with this one; rows say which "
        '("plugin": "this" or "baseline"), and the table gives the ratios',
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        default=MAX_WORKERS,
        help=f"the check's --max-workers, also used for the latency floor (default {MAX_WORKERS})",
    )
    parser.add_argument(
        "--public-store",
        action="store_true",
        help="verify TLS against certifi's bundle with the simulator's CA added (a check "
        "without PVE_CA_BUNDLE verifies against such a store) instead of that CA alone",
    )
    parser.add_argument(
        "--least",
        action="store_true",
        help="also replay the GETs of one cold run, one warm run and one first report of "
        "this tree with bench/least.py (rows labelled least): the CPU a check making those "
        "requests with as many workers costs in this interpreter, and the table gives the "
        "ratios",
    )
    parser.add_argument(
        "--carried",
        action="store_true",
        help="also run this tree's warm check through bench/carried.py (rows labelled "
        "carried): the kept assessment given back (unpickled) after a warm run's requests "
        "and parsing, no analysis; what a check carrying its analysis across runs costs "
        "(less the unpickling, a floor), and the table gives the ratios",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for i, (name, spec) in enumerate(parse_sizes(args.sizes, args.days)):
        rows += bench_size(
            name,
            spec,
            args.latency_ms,
            not args.no_tls,
            args.verbose,
            max(1, args.repeat),
            args.plugin_src.resolve() if args.plugin_src else None,
            max(1, args.max_workers),
            args.baseline.resolve() if args.baseline else None,
            i,  # the sizes alternate which version goes first (the first report's)
            args.public_store,
            args.least,
            args.carried,
        )
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=1))
    else:
        print(f"latency {args.latency_ms} ms per request, {os.cpu_count()} CPUs")
        print(table(rows))
        if args.baseline:
            print()
            print(ratio_table(rows))
        if args.least:
            print()
            print(floor_table(rows, "least"))
        if args.carried:
            print()
            print(floor_table(rows, "carried"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
