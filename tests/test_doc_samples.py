"""The docs' sample outputs are what the demo really prints.

A fenced block right after a marker comment ``<!-- sample: KIND -->`` must equal the
output of ``check_pve_backup --demo`` (KIND ``status``: the whole output without ``-v``;
``verbose``: with ``-v``; ``perfdata``: the part after ``|`` without ``-v``), or for KIND
``help`` the output of ``check_pve_backup --help`` in an 80-column terminal.
``collect_time`` is compared without its value (it is measured). A sample line ending in
`` ...`` stands for any line that starts with what precedes it.

After a deliberate change of the output, rewrite the samples with
``python tests/test_doc_samples.py --update`` and review the diff.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = (
    "README.md",
    "docs/fr/README.md",
    "docs/states-and-perfdata.md",
    "docs/fr/states-and-perfdata.md",
)
MARKER = re.compile(r"<!-- sample: (status|verbose|perfdata|help) -->\n```text\n(.*?)\n```", re.S)
MEASURED = re.compile(r"collect_time=[0-9.]+s")


@cache
def demo_output(kind: str) -> str:
    args = {"verbose": ["--demo", "-v"], "help": ["--help"]}.get(kind, ["--demo"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PVE_", "PBS_"))}
    env["XDG_CACHE_HOME"] = "/nonexistent-cache"
    env["COLUMNS"] = "80"  # argparse wraps --help to the terminal
    proc = subprocess.run(
        [sys.executable, "-m", "pve_backup_report", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )  # fmt: skip
    # the demo cluster is CRITICAL; --help exits UNKNOWN, as every non-check run
    assert proc.returncode == (3 if kind == "help" else 2), proc.stdout + proc.stderr
    assert proc.stderr == ""
    out = proc.stdout.rstrip("\n")
    return out.split(" | ", 1)[1] if kind == "perfdata" else out


def _same(sample: str, real: str) -> bool:
    lines, actual = sample.splitlines(), MEASURED.sub("collect_time=_", real).splitlines()
    if len(lines) != len(actual):
        return False
    for want, got in zip(lines, actual, strict=True):
        want = MEASURED.sub("collect_time=_", want)
        if want.endswith(" ...") and got.startswith(want[:-4]):
            continue
        if want != got:
            return False
    return True


def _samples(doc: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in MARKER.finditer((ROOT / doc).read_text())]


@pytest.mark.parametrize("doc", DOCS)
def test_samples_are_the_demo_output(doc: str) -> None:
    samples = _samples(doc)
    assert samples, f"{doc}: no <!-- sample: ... --> block"
    for kind, text in samples:
        assert _same(text, demo_output(kind)), (
            f"{doc}: the {kind} sample differs from the demo's output; after a deliberate "
            "change run: python tests/test_doc_samples.py --update"
        )


def update() -> None:
    """Rewrite every marked block with the demo's output (abbreviated lines stay so)."""
    for doc in DOCS:
        path = ROOT / doc

        def fill(m: re.Match[str]) -> str:
            kind, old = m.group(1), m.group(2)
            real = demo_output(kind).splitlines()
            olds = old.splitlines()
            if len(olds) == len(real):
                real = [
                    o if o.endswith(" ...") and r.startswith(o[:-4]) else r
                    for o, r in zip(olds, real, strict=True)
                ]
            return f"<!-- sample: {kind} -->\n```text\n" + "\n".join(real) + "\n```"

        path.write_text(MARKER.sub(fill, path.read_text()))


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_doc_samples.py --update")
    update()
