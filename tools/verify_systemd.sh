#!/usr/bin/env bash
# Checks systemd/ without a running systemd (works in a CI container):
#   1. `systemd-analyze verify` of dms.service, alone and with the Jetson drop-in;
#   2. `systemd-analyze security --offline` exposure score must stay <= MAX_EXPOSURE (a hardening regression fails);
#   3. dms.sysusers and dms.tmpfiles applied to a throw-away root with systemd-sysusers/systemd-tmpfiles --root.
# systemd-analyze reports unknown keys and bad values as warnings with exit code 0, so any diagnostic line that
# names one of our files counts as a failure here.
#
# verify insists that ExecStart's binary exists and is executable; /opt/dms is not installed on a build machine,
# so the unit is verified from a temporary copy in which only that path is replaced by a stub script (the rest of
# the text is byte for byte the shipped unit). On an installed device, `systemd-analyze verify dms.service`
# checks the real thing (tools/install.sh does).
#
# DMS_SYSTEMD_DIR checks another folder laid out like systemd/.
# Installs Debian's `systemd` package when systemd-analyze is missing (as root, with apt-get). Exit codes:
# 0 ok, 1 a check failed, 77 systemd-analyze is missing and cannot be installed here (the test then skips).
set -euo pipefail

MAX_EXPOSURE=${MAX_EXPOSURE:-3.0}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
units=${DMS_SYSTEMD_DIR:-$repo/systemd}  # another folder: the tests check that a broken unit fails
unit_src="$units/dms.service"
prefix_bin=/opt/dms/.venv/bin/dms

if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "verify_systemd: installing systemd (for systemd-analyze)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
    fi
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "verify_systemd: SKIP: systemd-analyze is missing and cannot be installed (needs root and apt-get)" >&2
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# Runs a command; fails on a non-zero exit or on any output line that mentions $pattern.
check() {
    local what=$1 pattern=$2
    shift 2
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if [[ $rc -ne 0 ]] || grep -qE "$pattern" <<<"$out"; then
        echo "FAIL: $what (exit $rc)"
        [[ -n $out ]] && sed 's/^/    /' <<<"$out"
        failed=1
    else
        echo "ok:   $what"
    fi
}

# 1. verify, from a copy with ExecStart's binary replaced by a stub.
mkdir -p "$work/bin" "$work/unit"
printf '#!/bin/sh\nexit 0\n' >"$work/bin/dms"
chmod 755 "$work/bin/dms"
if [[ $(grep -c "^ExecStart=$prefix_bin " "$unit_src") -ne 1 ]]; then
    echo "FAIL: $unit_src: expected exactly one 'ExecStart=$prefix_bin ...' line (update this script)"
    exit 1
fi
sed "s#^ExecStart=$prefix_bin #ExecStart=$work/bin/dms #" "$unit_src" >"$work/unit/dms.service"
check "systemd-analyze verify dms.service" 'dms\.service|jetson\.conf' \
    systemd-analyze verify --man=no "$work/unit/dms.service"

# The Jetson drop-in, loaded from dms.service.d/ next to the unit as systemd would.
mkdir -p "$work/jetson/dms.service.d"
cp "$work/unit/dms.service" "$work/jetson/"
cp "$units/dms-jetson.conf" "$work/jetson/dms.service.d/jetson.conf"
check "systemd-analyze verify dms.service + dms-jetson.conf" 'dms\.service|jetson\.conf' \
    systemd-analyze verify --man=no "$work/jetson/dms.service"

# 2. Hardening score (systemd >= 250 can score a unit file offline; older ones skip this step).
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
    threshold=$(awk -v x="$MAX_EXPOSURE" 'BEGIN { printf "%d", x * 10 }')
    out=$(systemd-analyze security --offline=yes --threshold="$threshold" --no-pager "$work/unit/dms.service" 2>&1) \
        && rc=0 || rc=$?
    score=$(grep -o 'Overall exposure level for dms.service: .*' <<<"$out" || true)
    if [[ $rc -eq 0 ]]; then
        echo "ok:   systemd-analyze security: ${score#Overall exposure level for dms.service: } (max $MAX_EXPOSURE)"
    else
        echo "FAIL: systemd-analyze security: ${score:-no score} (max $MAX_EXPOSURE)"
        failed=1
    fi
else
    echo "skip: systemd-analyze security --offline needs systemd >= 250"
fi

# 3. sysusers and tmpfiles, installed into a throw-away root exactly where tools/install.sh puts them.
root="$work/root"
mkdir -p "$root/etc" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
cp "$units/dms.sysusers" "$root/usr/lib/sysusers.d/dms.conf"
cp "$units/dms.tmpfiles" "$root/usr/lib/tmpfiles.d/dms.conf"
if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
    check "systemd-sysusers dms.sysusers" 'dms\.conf' systemd-sysusers --root="$root"
    for want in '^dms:' '^video:.*dms' '^audio:.*dms' '^dialout:.*dms'; do
        if ! grep -qE "$want" "$root/etc/passwd" "$root/etc/group" 2>/dev/null; then
            echo "FAIL: sysusers: no entry matching $want"
            failed=1
        fi
    done
    check "systemd-tmpfiles --create dms.tmpfiles" 'dms\.conf' systemd-tmpfiles --root="$root" --create
    if [[ ! -d $root/var/lib/dms ]] || [[ $(stat -c %a "$root/var/lib/dms") != 750 ]]; then
        echo "FAIL: tmpfiles: $root/var/lib/dms missing or not mode 0750"
        failed=1
    fi
else
    echo "skip: systemd-sysusers/systemd-tmpfiles not installed"
fi

if [[ $failed -ne 0 ]]; then
    echo "verify_systemd: FAILED"
    exit 1
fi
echo "verify_systemd: all checks passed"
