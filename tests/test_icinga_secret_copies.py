"""Where Icinga 2 copies a custom variable, and that a secret file stays out of all of it.

Pins the table in icinga/README.md ("Why not a custom variable"): one real daemon with
the ``statusdata`` feature (StatusDataWriter) and the REST API, a service whose token
secret is a custom variable and one whose secret is in a file. The custom variable's
value shows up in ``objects.cache`` (mode 0644 under umask 022), ``icinga2.debug`` (0600)
and ``GET /v1/objects/services``; the file's secret shows up nowhere Icinga writes.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from icinga_harness import IcingaSandbox, free_port, icinga_literal, write_certs

pytestmark = pytest.mark.icinga

IN_VARIABLE = "canary-cust0m-var-secret"
IN_FILE = "canary-f1le-only-secret"


def _config(sb: IcingaSandbox, port: int, secret_file: Path) -> str:
    return sb.base_config() + (
        'object Endpoint "pve-backup-test" { }\n'
        'object Zone "pve-backup-test" { endpoints = [ "pve-backup-test" ] }\n'
        f'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = {port} }}\n'
        'object ApiUser "reader" { password = "reader-pw"; permissions = [ "objects/query/*" ] }\n'
        'object StatusDataWriter "status" { update_interval = 1s }\n'
        'object Host "pve-prod" { check_command = "dummy"; enable_active_checks = false }\n'
        'object Service "in-variable" { host_name = "pve-prod"; check_command = "pve_backup"\n'
        "  enable_active_checks = false\n"
        f"  vars.pve_backup_token_secret = {icinga_literal(IN_VARIABLE)} }}\n"
        'object Service "in-file" { host_name = "pve-prod"; check_command = "pve_backup"\n'
        "  enable_active_checks = false\n"
        f"  vars.pve_backup_token_secret_file = {icinga_literal(str(secret_file))} }}\n"
    )


def _api_services(port: int) -> str | None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # loopback, throw-away CA
    auth = base64.b64encode(b"reader:reader-pw").decode()
    req = urllib.request.Request(
        f"https://127.0.0.1:{port}/v1/objects/services?attrs=vars",
        headers={"Accept": "application/json", "Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return None  # not listening yet


def test_custom_variable_copies_and_a_secret_file_stays_out(tmp_path: Path) -> None:
    sb = IcingaSandbox(tmp_path / "icinga")
    port = free_port()
    write_certs({"pve-backup-test": sb})
    secret_file = tmp_path / "prod.secret"
    secret_file.write_text(IN_FILE + "\n")
    secret_file.chmod(0o600)
    sb.main_conf.write_text(_config(sb, port, secret_file))
    objects_cache = sb.dirs["CacheDir"] / "objects.cache"
    old_umask = os.umask(0o022)  # the daemon's files as on a default system
    try:
        proc = subprocess.Popen(
            [sb.icinga2, "daemon", "-c", str(sb.main_conf), *sb.defines()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=sb.daemon_env(),
            cwd=sb.workdir,
            start_new_session=True,
        )
    finally:
        os.umask(old_umask)
    api = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            api = _api_services(port)
            if api is not None and objects_cache.exists():
                break
            time.sleep(0.5)
    finally:
        IcingaSandbox._stop(proc)

    assert api is not None, "the REST API did not answer within 60 s"
    by_name = {r["name"]: r["attrs"]["vars"] for r in json.loads(api)["results"]}
    assert by_name["pve-prod!in-variable"]["pve_backup_token_secret"] == IN_VARIABLE
    assert IN_FILE not in api

    debug = sb.dirs["CacheDir"] / "icinga2.debug"
    assert IN_VARIABLE in objects_cache.read_text()
    assert stat.S_IMODE(objects_cache.stat().st_mode) == 0o644  # every local user
    assert IN_VARIABLE in debug.read_text(errors="replace")
    assert stat.S_IMODE(debug.stat().st_mode) == 0o600

    for path in sb.workdir.rglob("*"):
        if path.is_file():
            assert IN_FILE.encode() not in path.read_bytes(), path
