#!/usr/bin/env bash
# Install what the Icinga/Nagios tests need (tests/test_icinga_*.py), on Debian/Ubuntu:
#   icinga2-bin + icinga2-common  the icinga2 daemon and the ITL (icinga2 daemon -C, e2e)
#   nagios4-core                  the nagios4 binary (nagios4 -v); no web UI, no Apache
# Idempotent (does nothing when both binaries exist), quiet, non-interactive. Run as root.
# The packaged services are not started: the tests run their own daemon in a temp dir.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

if have icinga2 && have nagios4 && [ -d /usr/share/icinga2/include ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-icinga.sh: must run as root (apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Keep the package scripts from starting icinga2/nagios4 (policy-rc.d exit 101 = deny).
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

log=$(mktemp)
trap 'cleanup; rm -f "$log"' EXIT
if ! {
    apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            icinga2-bin icinga2-common nagios4-core
} >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-icinga.sh: apt-get failed" >&2
    exit 1
fi

# Belt and braces on systemd hosts: make sure no packaged daemon keeps running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now icinga2 nagios4 >/dev/null 2>&1 || true
fi

have icinga2 && have nagios4 || {
    echo "install-icinga.sh: icinga2/nagios4 still missing after apt-get" >&2
    exit 1
}
