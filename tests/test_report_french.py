"""The French report is French throughout (issue 14: "a French report free of English
sentences").

The real pipeline runs against the simulator (demo cluster, the odd and faulty test
scenarios, and a generated cluster in trouble); the French report must not contain an
English word from our own messages. What is data stays as it is and is cut before the
scan: code spans (schedules, PVE's error texts, codes), quoted identifiers, and the names,
notes, comments, tags and IDs that come from the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.messages import Msg
from pve_backup_report.output.report import NOTE_LIMIT, md, render_report
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_backup_report.timeutil import parse_timestamp
from pve_sim import Scenario, Simulator, load_scenario
from pve_sim.generate import generate_scenario

HERE = Path(__file__).parent

# Common English words of our messages that are not French words as well (so not "on",
# "a", "or", "pour", "visible", "message", "pool", "type"...).
ENGLISH = frozenset(
    """
    the of and not than older never backed backup backups failed fail fails job jobs
    storage storages guest guests covered cover covers included include includes
    including is are was were be been has have had with without from into to by its it
    this that which what when where there their they does do did cannot could can would
    will should may might only every none no yes any all some other others more less
    run runs running ran read reads readable unreadable write writes written node nodes
    task tasks log logs unknown disabled enabled missing exist exists shows show listed
    lists found because so but also after before since latest last first newest oldest
    age fresh stale pending ignored reason reasons until expected limit success
    successful warning critical error errors verified verification snapshot snapshots
    restricted default directory files plain skips skip skipped named names probably
    deleted hidden empty token tokens privilege lacks grant check
    fix see like nothing needs attention what do how why
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_QUOTED_ID = re.compile(r"'[^'\s]+'")
_TOKEN = re.compile(r"[^\s;,:()\[\]«»—|*!?]+")
_LETTERS = re.compile(r"[A-Za-zÀ-ÿœŒ]+(?:'[A-Za-zÀ-ÿœŒ]+)?")


def _data_strings(a: Assessment) -> list[str]:
    """Everything the cluster named or wrote, as the report may show it."""
    values: list[str] = []
    for g in a.guests:
        guest = g.guest
        values += [guest.name, guest.node, guest.pool or "", *guest.tags]
        values += [line.strip() for line in (guest.notes or "").splitlines()]
    for job in a.inventory.jobs:
        values += [job.id, job.comment or "", job.pool or ""]
    for s in a.inventory.storages:
        values += [s.id, s.server or "", s.datastore or "", s.username or ""]
    out: set[str] = set()
    for v in values:
        if v.strip():
            out |= {md(v), md(v, NOTE_LIMIT), md(v, 200)}
    return sorted(out, key=len, reverse=True)


def english_words(text: str, a: Assessment) -> list[tuple[str, str]]:
    """(word, line) for every English word left in the report outside data and code."""
    found: list[tuple[str, str]] = []
    data = _data_strings(a)
    for line in text.splitlines():
        if line.startswith(("```", '    "')):
            continue
        rest = _CODE_SPAN.sub(" ", line)
        for value in data:
            rest = rest.replace(value, " ")
        rest = _QUOTED_ID.sub(" ", rest)
        for token in _TOKEN.findall(rest):
            word = token.strip(".'\"")
            if not _LETTERS.fullmatch(word):
                continue  # identifiers: digits, dashes, paths, key=value
            if word.lower() in ENGLISH:
                found.append((word, line))
    return found


def _assess(scenario: Scenario, now: int | None = None) -> Assessment:
    with Simulator(scenario, tls=False) as sim:
        settings = Settings(
            hosts=(sim.url,),
            token_id=sim.token_id,
            token_secret=Secret(sim.token_secret),
            use_cache=False,
        )
        with PveClient(settings) as client:
            when = now if now is not None else scenario.now
            assert when is not None
            return run_assessment(
                settings, RunOptions(now=when, need_notes=True, use_cache=False), client
            )


def troubled_cluster() -> dict[str, Any]:
    """A generated cluster with every kind of trouble the analysis explains in words:
    failed guests, a job shrunk to one guest (the others: not covered), a disabled job, a
    job to a directory storage, a job naming VMIDs that do not exist, an unknown storage,
    a pool that does not exist, exclude without all, a node that is not in the cluster."""
    data = generate_scenario(4, 160, 12, 3)
    node = data["guests"][0]["node"]
    for t in data["tasks"]:
        if t["node"] == node and t.get("log_recipe"):
            t["status"] = "job errors"
            t["log_recipe"]["failures"] = [
                {"vmid": g["vmid"], "error": "job failed with err -5 - Input/output error",
                 "stage": "transfer"}
                for g in data["guests"] if g["node"] == node
            ]  # fmt: skip
    lists = [j for j in data["jobs"] if j.get("vmid") and j.get("enabled", 1)]
    assert len(lists) >= 4, "the generator made too few VMID-list jobs"
    lists[0]["vmid"] = lists[0]["vmid"].split(",")[0] + ",999999"
    lists[1]["enabled"] = 0
    lists[2]["storage"] = "local"
    lists[3]["node"] = "gone-node"
    extra = dict(lists[3], id="backup-extra-0001", storage="nowhere", vmid=None)
    extra.pop("vmid")
    extra.update(pool="no-such-pool", node=None)
    extra.pop("node")
    other = dict(extra, id="backup-extra-0002", exclude="100")
    other.pop("pool")
    other.update(storage=lists[0].get("storage"))
    data["jobs"] += [extra, other]
    return data


def _scenarios() -> Iterator[Any]:
    yield pytest.param(lambda: (load_scenario("demo"), None), id="demo")
    for name in ("odd", "faults", "pbs"):
        yield pytest.param(
            lambda name=name: (load_scenario(HERE / "scenarios" / f"{name}.yaml"), None),
            id=name,
        )

    def troubled() -> tuple[Scenario, int]:
        data = troubled_cluster()
        return Scenario.from_dict(data), parse_timestamp(data["now"]) + 2 * 86400

    yield pytest.param(troubled, id="generated-troubled")


@pytest.mark.parametrize("make", list(_scenarios()))
def test_french_report_has_no_english_word(make: Any) -> None:
    scenario, now = make()
    a = _assess(scenario, now)
    # everything the plugin wrote is a coded message the report can translate
    assert all(isinstance(x.message, Msg) for x in a.anomalies)
    assert all(isinstance(r, Msg) for g in a.guests for r in g.reasons)
    text = render_report(a, "CRITICAL", "fr", now_given=True)
    left = english_words(text, a)
    lines: dict[str, list[str]] = {}
    for word, line in left:
        lines.setdefault(line, []).append(word)
    shown = "\n".join(f"{words}: {line[:400]}" for line, words in list(lines.items())[:12])
    assert not left, f"{len(left)} English word(s) in the French report:\n{shown}"


def test_the_word_scan_finds_english() -> None:
    """The scan itself: English words count, code spans, quoted IDs and data do not."""
    a = _assess(load_scenario("demo"))
    sample = (
        "- la tâche `never backed up` 'storage' Throw-away container, in no backup job\n"
        "- job nightly is disabled\n"
    )
    words = [w for w, _ in english_words(sample, a)]
    assert words == ["job", "is", "disabled"]
