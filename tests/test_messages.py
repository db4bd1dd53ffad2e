"""Coded messages (messages.py): English for the check, any language for the report."""

from __future__ import annotations

import copy
import json
import pickle
from string import Formatter

import pytest

from pve_backup_report.collect.task_cache import _decode_message, _encode_message
from pve_backup_report.messages import Msg, pieces, render
from pve_backup_report.output.report_i18n import MESSAGES
from pve_backup_report.timeutil import human_duration


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in Formatter().parse(template) if f is not None}


def test_every_code_has_both_languages_with_the_same_arguments() -> None:
    assert MESSAGES["en"].keys() == MESSAGES["fr"].keys()
    for code, en in MESSAGES["en"].items():
        assert _fields(en) == _fields(MESSAGES["fr"][code]), code


def test_a_message_is_its_english_text_and_keeps_code_and_arguments() -> None:
    m = Msg("job_disabled", job="nightly")
    assert m == "job nightly is disabled"
    assert json.dumps({"m": m}) == '{"m": "job nightly is disabled"}'
    assert (m.code, m.params) == ("job_disabled", {"job": "nightly"})
    assert render(m, "fr") == "la tâche nightly est désactivée"
    assert render("data from PVE", "fr") == "data from PVE"
    with pytest.raises(AttributeError):
        m.code = "other"


def test_copies_and_pickles_keep_the_code() -> None:
    m = Msg("job_missing_vmids", job="j", vmids=[1, 2])
    for other in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(other, Msg) and other == m and other.params == m.params


def test_arguments_are_formatted_by_language() -> None:
    many = Msg("job_missing_vmids", job="j", vmids=list(range(100, 125)))
    assert ", … (25 in total)" in many
    assert ", … (25 au total)" in render(many, "fr")
    old = Msg("pbs_not_verified", count=2, storage="s", max_s=5 * 86400 + 15 * 3600,
              never=1, oldest="vm/100/x")  # fmt: skip
    assert "more than 5d 15h" in old
    assert "plus de 5 j 15 h" in render(old, "fr")


def test_words_written_by_pve_are_set_apart() -> None:
    """An ``error`` argument is PVE's or PBS's text: the report shows it as code; one of our
    own messages in its place is translated like the rest."""
    m = Msg("task_history_unreadable", node="pve1", error="HTTP 500: Internal error")
    assert pieces(m, "fr")[-1] == ("HTTP 500: Internal error", True)
    ours = Msg("space_unreadable", storage="pbs", error=Msg("space_no_fields"))
    assert render(ours, "fr").endswith("réponse sans total/used/avail")
    assert all(not foreign for _, foreign in pieces(ours, "fr"))


def test_the_task_cache_keeps_a_result_message_translatable() -> None:
    m = Msg("did_not_finish", error="unexpected status")
    back = _decode_message(json.loads(json.dumps(_encode_message(m))))
    assert isinstance(back, Msg) and back == m
    assert _decode_message(json.loads(json.dumps(_encode_message("VM 100 qmp timeout")))) == (
        "VM 100 qmp timeout"
    )
    unknown = {"text": "old words", "code": "no_such_code", "args": {}}
    assert _decode_message(unknown) == "old words"


@pytest.mark.parametrize(
    ("seconds", "en", "fr"),
    [
        (17, "17s", "17 s"),
        (42 * 60, "42m", "42 min"),
        (5 * 3600 + 12 * 60, "5h 12m", "5 h 12 min"),
        (5 * 86400 + 15 * 3600, "5d 15h", "5 j 15 h"),
        (8 * 86400, "8d", "8 j"),
    ],
)
def test_durations(seconds: int, en: str, fr: str) -> None:
    assert human_duration(seconds) == en
    assert human_duration(seconds, "fr") == fr


def test_a_message_made_again_is_shared_but_never_confused() -> None:
    """10,000 guests share a few reasons: the same message is made once. An argument that
    is data and one that is a message with the same English text stay apart."""
    a = Msg("job_node_restricted", job="j", job_node="pve1", node="pve2")
    assert Msg("job_node_restricted", job="j", job_node="pve1", node="pve2") is a
    data = Msg("job_might_include", job="j", why="no log")
    ours = Msg("job_might_include", job="j", why=Msg("no_log"))
    assert data == ours and data is not ours
    assert render(data, "fr").endswith(": no log")
    assert render(ours, "fr").endswith(": pas de journal")
