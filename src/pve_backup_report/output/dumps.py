"""``--dump-inventory``, ``--dump-coverage`` and ``--dump-report-data`` (presentation).

JSON documents are the contract described in ``docs/json-output.md``; the text forms are
for people. Both are built from the same domain objects as the check and the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pve_backup_report import __version__
from pve_backup_report.analysis.assess import Assessment, GuestStatus
from pve_backup_report.model import NOT_SPECIFIED, BackupJob, Guest, Inventory, Node, Pool, Storage
from pve_backup_report.timeutil import human_duration, iso_utc

SCHEMA_VERSION = 1


def _spec(value: Any) -> Any:
    return NOT_SPECIFIED if value is None or value == "" else value


def storage_json(s: Storage) -> dict[str, Any]:
    return {
        "id": s.id,
        "type": s.type,
        "enabled": s.enabled,
        "nodes": list(s.nodes) if s.nodes is not None else None,
        "content": list(s.content),
        "backup_content": s.has_backup_content,
        "server": s.server,
        "datastore": s.datastore,
        "namespace": s.namespace,
        "username": s.username,
    }


def node_json(n: Node) -> dict[str, Any]:
    return {"name": n.name, "status": n.status, "timezone": n.timezone}


def pool_json(p: Pool) -> dict[str, Any]:
    members = None if p.members is None else list(p.members)
    return {"id": p.id, "comment": p.comment, "members": members}


def inventory_json(inv: Inventory) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "version": inv.version,
        "nodes": [node_json(n) for n in inv.nodes],
        "storages": [storage_json(s) for s in inv.storages],
        "jobs": [{**asdict(j), "selection": j.selection.value} for j in inv.jobs],
        "guests": [{**asdict(g), "tags": list(g.tags)} for g in inv.guests],
        "pools": [pool_json(p) for p in inv.pools],
        "node_default_storage": dict(inv.node_default_storage),
        "node_default_dumpdir": dict(inv.node_default_dumpdir),
        "storage_audit": dict(inv.storage_audit),
        "anomalies": [a.to_json() for a in inv.anomalies],
    }


def assessment_json(a: Assessment) -> dict[str, Any]:
    """The full model: what ``--dump-report-data --format json`` prints and the report shows."""
    cov = a.coverage.to_json()
    return {
        "schema_version": SCHEMA_VERSION,
        "plugin_version": __version__,
        "now": a.now,
        "pve_version": a.inventory.version,
        "options": {
            "grace_s": a.options.grace_s,
            "max_age_s": list(a.options.max_age_s),
            "history_days": a.options.history_days,
        },
        "guests": [g.to_json() for g in a.guests],
        "jobs": cov["jobs"],
        "storages": [storage_json(s) for s in a.inventory.storages if s.is_pbs],
        "other_storages": [storage_json(s) for s in a.inventory.storages if not s.is_pbs],
        "pools": [pool_json(p) for p in a.inventory.pools],
        "nodes": [node_json(n) for n in a.inventory.nodes],
        "anomalies": [x.to_json() for x in a.anomalies],
        "stats": {
            "requests": a.stats.requests,
            "bytes": a.stats.bytes,
            "collect_time_s": round(a.stats.collect_time_s, 3),
            "tasks_listed": a.stats.tasks_listed,
            "logs_fetched": a.stats.logs_fetched,
            "logs_cached": a.stats.logs_cached,
            "tls": a.stats.tls_mode,
        },
    }


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- text


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers).rstrip(), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row).rstrip() for row in rows]
    return out


def _oneline(text: str | None, limit: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _node_default(inv: Inventory, node: str) -> str:
    if node in inv.node_default_dumpdir:
        return f"dumpdir {inv.node_default_dumpdir[node] or '(path hidden)'}"
    return inv.node_default_storage.get(node, "-")


def inventory_text(inv: Inventory) -> str:
    lines = [f"PVE {inv.version or NOT_SPECIFIED}"]
    for title, headers, rows in (
        ("Nodes", ["node", "status", "timezone", "vzdump default storage"], _node_rows(inv)),
        ("PBS storages", ["id", "server", "datastore", "namespace", "username", "enabled",
                          "nodes", "backup"], _pbs_rows(inv)),
        ("Other storages", ["id", "type", "enabled", "nodes"], _other_storage_rows(inv)),
        ("Backup jobs", ["id", "enabled", "storage", "schedule", "selection", "exclude", "node",
                         "mode"], [_job_row(j) for j in inv.jobs]),
        ("Guests", ["vmid", "type", "name", "node", "status", "template", "pool", "tags"],
         [_guest_row(g) for g in inv.guests]),
        ("Pools", ["pool", "comment", "members"], _pool_rows(inv)),
    ):  # fmt: skip
        lines += ["", f"{title}:", *_table(headers, rows)]
    lines += _anomaly_lines(inv.anomalies)
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _node_rows(inv: Inventory) -> list[list[str]]:
    return [[n.name, n.status, _spec(n.timezone), _node_default(inv, n.name)] for n in inv.nodes]


def _pbs_rows(inv: Inventory) -> list[list[str]]:
    return [
        [
            s.id, _spec(s.server), _spec(s.datastore), _spec(s.namespace), _spec(s.username),
            _yes(s.enabled), ",".join(s.nodes) if s.nodes else "all", _yes(s.has_backup_content),
        ]
        for s in inv.storages
        if s.is_pbs
    ]  # fmt: skip


def _other_storage_rows(inv: Inventory) -> list[list[str]]:
    return [
        [s.id, s.type, _yes(s.enabled), ",".join(s.nodes) if s.nodes else "all"]
        for s in inv.storages
        if not s.is_pbs
    ]


def _job_row(j: BackupJob) -> list[str]:
    selection = j.selection.value + (
        f" {j.pool}" if j.pool else f" {j.vmid_raw}" if j.vmid_raw else ""
    )
    return [
        j.id + (" (legacy)" if j.legacy else ""),
        _yes(j.enabled),
        j.storage or (f"dumpdir {j.dumpdir}" if j.dumpdir else "(node default)"),
        _spec(j.schedule),
        selection,
        j.exclude_raw or "-",
        j.node or "any",
        j.mode or "snapshot",
    ]


def _guest_row(g: Guest) -> list[str]:
    return [
        str(g.vmid), g.type, _oneline(g.name, 30), g.node, g.status, _yes(g.template),
        g.pool or "-", ";".join(g.tags) or "-",
    ]  # fmt: skip


def _pool_rows(inv: Inventory) -> list[list[str]]:
    return [
        [
            p.id,
            _oneline(p.comment, 40) or "-",
            "unreadable" if p.members is None else ",".join(map(str, p.members)) or "-",
        ]
        for p in inv.pools
    ]


def _anomaly_lines(anomalies: Any) -> list[str]:
    lines = ["", f"Anomalies ({len(anomalies)}):"]
    for a in sorted(anomalies, key=lambda x: -x.severity.rank):
        lines.append(f"  [{a.severity.value}] {a.component}: {_oneline(a.message, 300)}")
    if not anomalies:
        lines.append("  none")
    return lines


def _backup_cell(g: GuestStatus) -> str:
    lb = g.last_backup
    if lb is None:
        return "none in history"
    return f"{lb.status} {iso_utc(lb.started) or '?'}"


def coverage_text(a: Assessment) -> str:
    lines = ["Per-guest coverage:"]
    lines += _table(
        ["vmid", "name", "node", "coverage", "jobs", "pbs jobs", "latest backup", "latest success",
         "freshness", "age", "verify", "ignored"],
        [
            [
                str(g.guest.vmid),
                _oneline(g.guest.name, 24),
                g.guest.node,
                g.coverage.value,
                ",".join(g.jobs) or "-",
                ",".join(g.pbs_jobs) or "-",
                _backup_cell(g),
                iso_utc(g.last_success.started) or "-" if g.last_success else "-",
                g.freshness.value if g.freshness else "-",
                human_duration(g.age_s),
                g.verification or "-",
                _oneline(g.ignored.reason, 30) if g.ignored else "-",
            ]
            for g in a.guests
        ],
    )  # fmt: skip
    reasons = [(g, r) for g in a.guests for r in g.reasons]
    if reasons:
        lines += ["", "Reasons:"]
        lines += [f"  {_oneline(g.guest.label, 80)}: {_oneline(r, 300)}" for g, r in reasons]
    failures = [g for g in a.guests if g.last_backup and g.last_backup.status == "failed"]
    if failures:
        lines += ["", "Failed backups:"]
        for g in failures:
            assert g.last_backup is not None
            lines.append(f"  {_oneline(g.guest.label, 80)}: {_oneline(g.last_backup.message, 200)}")
    lines += _anomaly_lines(a.anomalies)
    return "\n".join(lines)


def report_data_text(a: Assessment) -> str:
    """The whole model for people: the inventory, then coverage and history."""
    return inventory_text(a.inventory) + "\n\n" + coverage_text(a)
