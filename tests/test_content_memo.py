"""PVE's view of the PBS storages kept parsed between runs (``collect/content_memo.py``).

The answer of ``GET /nodes/{node}/storage/{storage}/content`` has no change marker:
pve-storage ``PVE/API2/Storage/Content.pm`` ``index`` lists the volumes afresh on every
call (``PVE::Storage::volume_list``, ``PBSPlugin::list_volumes`` asking PBS each time),
so every run asks it and reads it whole. Only its decoding and parsing are skipped, when
its bytes are those parsed before. These tests run the check against the simulator over
HTTPS and compare the verdicts with those of a run that keeps nothing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pve_backup_report.analysis.assess import Assessment
from pve_backup_report.analysis.pbs_content import (
    content_from_json,
    content_to_json,
    parse_content,
)
from pve_backup_report.collect import json_decode, storage_content
from pve_backup_report.collect.content_memo import ContentMemo
from pve_backup_report.collect.pve_client import PveClient
from pve_backup_report.config import Secret, Settings
from pve_backup_report.pipeline import RunOptions, run_assessment
from pve_sim import Scenario, Simulator
from pve_sim.generate import generate_scenario

NOW = "2026-11-20T12:00:00Z"


def _cluster() -> dict[str, Any]:
    """A generated cluster: three PBS storages, snapshots verified, failed, unfinished."""
    return generate_scenario(3, 60, 6, 14, 2, now=NOW)


def _assess(sim: Simulator, cache: Path | None) -> Assessment:
    config = Settings(
        hosts=(sim.url,),
        token_id=sim.token_id,
        token_secret=Secret(sim.token_secret),
        request_timeout=10.0,
        cache_file=str(cache) if cache else None,
        use_cache=cache is not None,
    )
    assert sim.scenario.now is not None
    with PveClient(config) as client:
        return run_assessment(config, RunOptions(now=sim.scenario.now), client)


def _verdicts(a: Assessment) -> list[tuple[Any, ...]]:
    return [(s.guest.vmid, s.snapshot, s.last_backup, s.last_success, s.problems)
            for s in a.guests]  # fmt: skip


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The storages whose answer this test's runs parse (``parse_content``)."""
    seen: list[str] = []

    def counted(storage: str, items: Any) -> Any:
        seen.append(storage)
        return parse_content(storage, items)

    monkeypatch.setattr(storage_content, "parse_content", counted)
    return seen


def _kept(cache: Path) -> list[Path]:
    return sorted(cache.parent.glob(cache.name + ".pbs-*"))


def test_a_warm_run_recalls_each_storage_as_parsed(tmp_path: Path, parsed: list[str]) -> None:
    """The first run parses and keeps each PBS storage's content; the next, with the
    same answers, recalls them and judges every guest as a run that keeps nothing."""
    cache = tmp_path / "tasks.json"
    with Simulator(Scenario.from_dict(_cluster())) as sim:
        first = _assess(sim, cache)
        storages = sorted(parsed)
        assert len(storages) >= 2, "the cluster has several PBS storages"
        assert len(_kept(cache)) == len(storages)
        written = [(f, f.stat().st_ino, f.stat().st_mtime_ns) for f in _kept(cache)]
        parsed.clear()
        warm = _assess(sim, cache)
        assert parsed == []  # nothing parsed again
        assert [(f, f.stat().st_ino, f.stat().st_mtime_ns) for f in _kept(cache)] == written
        plain = _assess(sim, None)
    assert sorted(parsed) == storages  # the run without a cache parsed them all
    assert any(s.snapshot is not None for s in warm.guests)
    assert _verdicts(warm) == _verdicts(first) == _verdicts(plain)
    assert warm.anomalies == plain.anomalies


def test_a_changed_answer_is_parsed_again(tmp_path: Path, parsed: list[str]) -> None:
    """A verification that failed since the content was kept changes the answer's bytes,
    so it is parsed again and the guest's failed verification is seen."""
    data = _cluster()
    cache = tmp_path / "tasks.json"
    with Simulator(Scenario.from_dict(data)) as sim:
        before = _assess(sim, cache)
        ok = next(s for s in before.guests if s.verification == "ok")
        snap = ok.snapshot
        assert snap is not None
        changed = copy.deepcopy(data)
        for b in changed["backups"]:
            if (b["storage"], b["vmid"], b["ctime"]) == (snap.storage, snap.vmid, snap.ctime):
                b["verification"] = {**b["verification"], "state": "failed"}
        sim.set_scenario(Scenario.from_dict(changed))
        parsed.clear()
        after = _assess(sim, cache)
        assert parsed == [snap.storage]  # the other storages' answers are unchanged
        plain = _assess(sim, None)
    seen = next(s for s in after.guests if s.guest.vmid == ok.guest.vmid)
    assert seen.verification == "failed"
    assert _verdicts(after) == _verdicts(plain)


def test_without_a_task_cache_the_content_is_read_afresh(tmp_path: Path, parsed: list[str]) -> None:
    """Deleting the task cache starts afresh: the kept contents are not recalled (they
    are written again)."""
    cache = tmp_path / "tasks.json"
    with Simulator(Scenario.from_dict(_cluster())) as sim:
        _assess(sim, cache)
        storages = sorted(parsed)
        cache.unlink()
        parsed.clear()
        _assess(sim, cache)
    assert sorted(parsed) == storages
    assert len(_kept(cache)) == len(storages)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: "0" * 64 + text[64:],  # another answer's digest
        lambda text: text.replace('"newest":[[', '"newest":[["x",', 1),  # a row broken
        lambda text: text.replace('"qemu"', '"vm"', 1),  # a guest type PVE never says
        lambda text: "",
    ],
)
def test_a_damaged_kept_content_is_parsed_again(
    tmp_path: Path, parsed: list[str], damage: Any
) -> None:
    """A kept content that cannot be read as written is parsed again from the answer,
    with the same verdicts and no anomaly, and written again whole."""
    cache = tmp_path / "tasks.json"
    with Simulator(Scenario.from_dict(_cluster())) as sim:
        first = _assess(sim, cache)
        files = _kept(cache)
        for f in files:
            f.write_text(damage(f.read_text(encoding="utf-8")), encoding="utf-8")
        parsed.clear()
        again = _assess(sim, cache)
        assert len(parsed) == len(files)
        parsed.clear()
        _assess(sim, cache)
        assert parsed == []  # written again whole
    assert _verdicts(again) == _verdicts(first)
    assert again.anomalies == first.anomalies


def test_the_content_of_a_storage_no_longer_used_is_removed(tmp_path: Path) -> None:
    cache = tmp_path / "tasks.json"
    memo = ContentMemo(str(cache))
    for sid in ("pbs-a", "pbs-b"):
        Path(memo.path(sid)).write_text("x", encoding="utf-8")
    (tmp_path / "tasks.json.lock").write_text("", encoding="utf-8")
    memo.prune(["pbs-b"])
    assert _kept(cache) == [Path(memo.path("pbs-b"))]
    assert (tmp_path / "tasks.json.lock").exists()
    assert "pbs-b" not in memo.path("pbs-b")  # no storage id in a path


_items = st.lists(
    st.fixed_dictionaries(
        {
            "vmid": st.integers(100, 104),
            "ctime": st.integers(1_790_000_000, 1_790_000_100),
            "volid": st.sampled_from(["", "s:backup/vm/100/x", "s:backup/ct/101/y", "s:z"]),
        },
        optional={
            "subtype": st.sampled_from(["qemu", "lxc", "other"]),
            "size": st.one_of(st.integers(-1, 5), st.booleans(), st.none()),
            "verification": st.one_of(
                st.none(), st.fixed_dictionaries({"state": st.sampled_from(["ok", "failed", ""])})
            ),
            "encrypted": st.one_of(st.booleans(), st.sampled_from(["", "aa:bb"]), st.none()),
            "protected": st.one_of(st.booleans(), st.integers(0, 1)),
        },
    ),
    max_size=12,
)


@settings(max_examples=300)
@given(_items)
def test_a_kept_content_reads_back_equal(items: list[dict[str, Any]]) -> None:
    """What ``parse_content`` made, written and read back (by orjson or ``json``)."""
    content = parse_content("s", items)
    text = json_decode.dumps(content_to_json(content))
    assert content_from_json(json_decode.loads(text.encode())) == content
    assert content_from_json(json.loads(text)) == content


@pytest.mark.parametrize(
    "change",
    [
        {"storage": 3},
        {"archives": "vm/100/x"},
        {"archives": [1]},
        {"count": "1"},
        {"count": True},
        {"newest": [[100, "qemu", 1, None, None, False, False]]},  # a field short
        {"newest": [[100, "qemu", 1, None, None, 0, False, "vm/100/x"]]},  # 0 for false
        {"newest": [[100, "lxc", 1, 2.5, None, False, False, "ct/100/x"]]},
    ],
)
def test_a_kept_content_not_as_written_is_refused(change: dict[str, Any]) -> None:
    raw = {"storage": "s", "count": 1, "unfinished": 0, "archives": [],
           "newest": [[100, "qemu", 1, 5, "ok", False, True, "vm/100/x"]], **change}  # fmt: skip
    with pytest.raises((ValueError, KeyError, TypeError, IndexError)):
        content_from_json(raw)
