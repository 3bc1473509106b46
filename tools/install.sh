#!/usr/bin/env bash
# Installs edge-dms as a systemd service on Raspberry Pi OS (bookworm, aarch64) or NVIDIA JetPack 6 (Ubuntu 22.04).
# Run as root from a checkout:   sudo tools/install.sh --profile pi-csi --enable
# Idempotent: run it again after `git pull` to update (the config in /etc/dms is never overwritten).
# docs/deploy.md explains each step.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/install.sh [options]
  --profile NAME    pi-csi | jetson-csi | usb-nir | default: the config copied to /etc/dms/dms.toml when it is
                    absent (default: jetson-csi on a Jetson, pi-csi on a Raspberry Pi, else default)
  --prefix DIR      install directory (default /opt/dms); the checkout is copied there unless it is already there
  --with-mosquitto  also install a local mosquitto broker with config/mosquitto-local.conf
  --enable          enable the service and (re)start it now
  --skip-apt        do not install system packages
  --skip-models     do not fetch the third-party models
  --dry-run         print the commands instead of running them (needs no root)
  -h, --help        this text
EOF
}

profile="" prefix=/opt/dms with_mosquitto=0 enable=0 skip_apt=0 skip_models=0 dry_run=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --profile) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; profile=$2; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        --prefix) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --with-mosquitto) with_mosquitto=1; shift ;;
        --enable) enable=1; shift ;;
        --skip-apt) skip_apt=1; shift ;;
        --skip-models) skip_models=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
etc=/etc/dms
config=$etc/dms.toml

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
# Every change to the system goes through run, so --dry-run shows exactly what would happen.
run() {
    if [[ $dry_run -eq 1 ]]; then
        printf '+ %s\n' "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

board=other
if [[ -e /etc/nv_tegra_release ]]; then
    board=jetson
elif grep -qs "Raspberry Pi" /proc/device-tree/model; then
    board=pi
fi
if [[ -z $profile ]]; then
    case $board in jetson) profile=jetson-csi ;; pi) profile=pi-csi ;; *) profile=default ;; esac
fi
case $profile in
    pi-csi|jetson-csi|usb-nir) profile_file=$src/config/$profile.toml ;;
    default) profile_file=$src/config/dms.toml ;;
    *) echo "install.sh: unknown profile '$profile' (pi-csi, jetson-csi, usb-nir or default)" >&2; exit 2 ;;
esac
[[ $prefix == /* ]] || { echo "install.sh: --prefix must be an absolute path" >&2; exit 2; }
[[ -f $profile_file ]] || die "missing $profile_file"
if [[ $dry_run -eq 0 && $(id -u) -ne 0 ]]; then
    die "run as root (sudo), or with --dry-run to see the steps"
fi
# The CSI profiles read the camera through GStreamer, which the pip OpenCV wheel lacks.
gst=0
[[ $profile == pi-csi || $profile == jetson-csi ]] && gst=1
say "board: $board, profile: $profile, prefix: $prefix$([[ $dry_run -eq 1 ]] && echo ' (dry run)')"

py_ok=$(python3 -c 'import sys; print(int(sys.version_info >= (3, 10)))' 2>/dev/null || echo 0)
if [[ $py_ok != 1 ]]; then
    # JetPack 5 (Ubuntu 20.04) ships Python 3.8, and its GStreamer OpenCV is built for that Python only.
    die "Python >= 3.10 is needed (Raspberry Pi OS bookworm and JetPack 6 have it; JetPack 5 does not)"
fi

# --- 1. system packages ---
if [[ $skip_apt -eq 0 ]]; then
    pkgs=(python3-venv python3-pip)
    if [[ $gst -eq 1 ]]; then
        # Distribution OpenCV with GStreamer, plus the camera's GStreamer elements. nvarguscamerasrc comes with
        # JetPack itself (nvidia-l4t-gstreamer).
        pkgs+=(python3-opencv python3-numpy gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
        [[ $profile == pi-csi ]] && pkgs+=(gstreamer1.0-libcamera)
    fi
    [[ $with_mosquitto -eq 1 ]] && pkgs+=(mosquitto mosquitto-clients)
    say "installing system packages: ${pkgs[*]}"
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# --- 2. the code in $prefix ---
if [[ $(realpath -m "$src") == $(realpath -m "$prefix") ]]; then
    say "using the checkout in place: $prefix"
else
    say "copying $src to $prefix"
    run mkdir -p "$prefix"
    # Not the build outputs of the source checkout; models/ is copied so fetched models are not fetched again.
    run tar -C "$src" --exclude=./.venv --exclude=./.venv-train --exclude='*.egg-info' --exclude='__pycache__' \
        --exclude=./.pytest_cache -cf "$prefix/.install.tar" .
    run tar -C "$prefix" -xf "$prefix/.install.tar"
    run rm -f "$prefix/.install.tar"
fi

# --- 3. the virtual environment ---
venv=$prefix/.venv
if [[ $gst -eq 1 ]]; then
    # Trade-off: --system-site-packages lets the venv import the distribution's cv2, built with GStreamer (the pip
    # wheel is not), at the price of seeing every other system package too. pip's opencv-python-headless is removed
    # again so it does not shadow the system cv2, and numpy stays < 2 because that cv2 was built against numpy 1.x.
    say "creating $venv (with system site packages, for the GStreamer OpenCV)"
    [[ -x $venv/bin/python ]] || run python3 -m venv --system-site-packages "$venv"
    run "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$prefix" "numpy<2"
    run "$venv/bin/python" -m pip uninstall -q -y opencv-python-headless
else
    say "creating $venv"
    [[ -x $venv/bin/python ]] || run python3 -m venv "$venv"
    run "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$prefix"
fi

# --- 4. user, state directory, config ---
say "installing the dms user and /var/lib/dms"
run install -D -m 0644 "$src/systemd/dms.sysusers" /usr/lib/sysusers.d/dms.conf
run install -D -m 0644 "$src/systemd/dms.tmpfiles" /usr/lib/tmpfiles.d/dms.conf
run systemd-sysusers /usr/lib/sysusers.d/dms.conf
run systemd-tmpfiles --create /usr/lib/tmpfiles.d/dms.conf
if [[ -e $config ]]; then
    say "keeping the existing $config"
else
    say "installing $config from $(basename "$profile_file")"
    # Readable by the service's group, writable by root only: the service never changes its own config.
    run install -D -m 0640 -o root -g dms "$profile_file" "$config"
fi
if [[ ! -e $etc/mqtt-password ]]; then
    # LoadCredential= fails the start when the file is missing; empty means "no password".
    say "creating an empty $etc/mqtt-password (write the broker's password there, mode 0600)"
    run install -m 0600 -o root -g root /dev/null "$etc/mqtt-password"
fi

# --- 5. models: runtime.models_dir defaults to $prefix/models (read-only for the service) ---
if [[ $skip_models -eq 0 ]]; then
    say "fetching the models (sha256-checked)"
    run "$venv/bin/dms" models fetch --config "$config"
fi
say "checking $config"
run "$venv/bin/dms" check --config "$config"

# --- 6. the unit ---
unit=/etc/systemd/system/dms.service
say "installing $unit"
if [[ $prefix == /opt/dms ]]; then
    run install -m 0644 "$src/systemd/dms.service" "$unit"
else
    run sh -c "sed 's#/opt/dms/#$prefix/#g' '$src/systemd/dms.service' > '$unit' && chmod 0644 '$unit'"
fi
if [[ $board == jetson || $profile == jetson-csi ]]; then
    say "adding the Jetson drop-in (Argus socket, NVMM devices)"
    run install -D -m 0644 "$src/systemd/dms-jetson.conf" /etc/systemd/system/dms.service.d/jetson.conf
fi
run systemd-analyze verify "$unit"

if [[ $with_mosquitto -eq 1 ]]; then
    say "configuring the local mosquitto broker"
    run install -D -m 0644 "$src/config/mosquitto-local.conf" /etc/mosquitto/conf.d/dms-local.conf
fi

# --- 7. systemd ---
if [[ $dry_run -eq 1 || -d /run/systemd/system ]]; then
    run systemctl daemon-reload
    [[ $with_mosquitto -eq 1 ]] && run systemctl restart mosquitto
    if [[ $enable -eq 1 ]]; then
        say "enabling and (re)starting dms"
        run systemctl enable dms
        run systemctl restart dms
    else
        # An update restarts a running service onto the new code; a fresh install waits for --enable.
        run systemctl try-restart dms
        say "not enabled: systemctl enable --now dms (or run again with --enable)"
    fi
else
    say "systemd is not running here (a container?): skipped daemon-reload and enable"
fi
say "done. Logs: journalctl -u dms -f   Status: systemctl status dms"
