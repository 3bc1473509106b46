#!/usr/bin/env bash
# make check-aarch64: install the project into a Debian bookworm arm64 root as tools/install.sh does on Raspberry Pi
# OS, replay the demo clip there under qemu, and compare its messages with the same replay on this machine
# (tools/compare_runs.py). Run as root from a checkout whose .venv and models are ready (`make models`).
# docs/platforms.md explains the steps, the tolerances and the timings.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/check_aarch64.sh [options]
  --dir DIR         where the arm64 roots and the runs are kept (default: build/aarch64 in the checkout)
  --profile NAME    install.sh's profile inside the root (default pi-csi: what install.sh picks on a Pi)
  --board NAME      pi4 (Cortex-A72) | pi5 (Cortex-A76): the CPU qemu emulates and /proc/cpuinfo shows (default pi4)
  --mirror URL      Debian mirror for debootstrap (default http://deb.debian.org/debian)
  --rebuild         throw the cached root of this profile away and build it again
  -h, --help        this text
EOF
}

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$src/build/aarch64 profile=pi-csi board=pi4 mirror=http://deb.debian.org/debian rebuild=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; dir=$(realpath -m "$2"); shift 2 ;;
        --profile) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; profile=$2; shift 2 ;;
        --board) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; board=$2; shift 2 ;;
        --mirror) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; mirror=$2; shift 2 ;;
        --rebuild) rebuild=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "check_aarch64.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $profile in
    pi-csi|jetson-csi|usb-nir|default) ;;
    *) echo "check_aarch64.sh: unknown profile $profile" >&2; exit 2 ;;
esac
case $board in pi4|pi5) ;; *) echo "check_aarch64.sh: unknown board $board (pi4 or pi5)" >&2; exit 2 ;; esac

say() { printf '==> %s\n' "$*"; }
die() { printf 'check_aarch64.sh: %s\n' "$*" >&2; exit 1; }
clock() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(clock)" 'BEGIN { s = b - a; printf "%dm%02ds (%.0f s)", s / 60, s % 60, s }'; }
need() { command -v "$1" >/dev/null || die "$1 is missing (Debian: apt-get install $2)"; }

[[ $(id -u) -eq 0 ]] || die "run as root: debootstrap and chroot need it"
[[ $(uname -m) == x86_64 ]] || die "this compares an emulated arm64 run with this machine's: run it on x86-64"
host_py=$src/.venv/bin/python
[[ -x $host_py ]] || die "no $host_py: run \`make models\` first"
need debootstrap debootstrap
started=$(clock)
base=$dir/base root=$dir/root-$profile
mkdir -p "$dir"

# --- how arm64 binaries run here: binfmt_misc starts qemu-aarch64-static for them, inside a chroot too ---
# PRoot (-q qemu-aarch64-static), which needs no kernel support, is no way out with Debian bookworm's PRoot 5.1 and
# qemu 7.2: access() checks of paths inside the root reach this machine's file system untranslated, so apt cannot
# read its keyrings and pip takes the venv for read-only (docs/platforms.md).
need qemu-aarch64-static qemu-user-static
binfmt=/proc/sys/fs/binfmt_misc
binfmt_ok() {
    # F (fix binary): the kernel opened qemu when it was registered, so it works inside a chroot too.
    [[ -f $binfmt/qemu-aarch64 ]] && grep -qx enabled "$binfmt/qemu-aarch64" &&
        grep -q '^flags:.*F' "$binfmt/qemu-aarch64"
}
# Containers often have binfmt_misc unmounted; qemu-user-static registers qemu-aarch64 once it is mounted.
[[ -f $binfmt/status ]] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
binfmt_ok || { command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64 >/dev/null 2>&1; } || true
binfmt_ok || die "this kernel does not run arm64 binaries: no enabled qemu-aarch64 entry with the F flag in \
$binfmt (tried mounting it and update-binfmts --enable qemu-aarch64; a container needs binfmt_misc from its host)"
say "arm64 binaries run through binfmt_misc and qemu-aarch64-static (F flag), in a chroot"

# The emulated CPU is the board's, so XNNPACK picks the kernels it would pick there (from the CPU's HWCAP bits).
# qemu-user shows this machine's x86 /proc/cpuinfo to the guest, and cpuinfo (XNNPACK's CPU detection) crashes
# parsing it: the guest gets the board's /proc/cpuinfo instead, one entry per CPU that /sys lists.
case $board in
    pi4) qemu_cpu=cortex-a72 midr=(0x0 0xd08 3) features="fp asimd evtstrm crc32 cpuid" ;;
    pi5) qemu_cpu=cortex-a76 midr=(0x4 0xd0b 1)
         features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop"
         features+=" asimddp" ;;
esac
cpuinfo=$dir/cpuinfo-$board
for ((i = 0; i < $(nproc --all); i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\n' \
        "$i" "$features"
    printf 'CPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' "${midr[@]}"
done > "$cpuinfo"

# Runs "$@" inside $1, niced (emulation keeps a core busy for minutes), in a clean environment as a root shell on
# the board would have, plus this machine's proxy if any; in a private mount namespace, so /proc, /dev and /sys go
# away with the command and a removed build folder never takes the host's /dev with it.
in_root() {
    local r=$1 v env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8); shift
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [[ -n ${!v:-} ]] && env+=("$v=${!v}")
    done
    # binfmt_misc starts a qemu for every arm64 exec; each reads QEMU_CPU from the environment it starts in.
    env+=("QEMU_CPU=$qemu_cpu")
    nice -n 19 unshare --mount --propagation private -- bash -c '
        r=$1 cpuinfo=$2; shift 2
        mount -t proc proc "$r/proc" && mount --bind "$cpuinfo" "$r/proc/cpuinfo" &&
            mount --rbind /dev "$r/dev" && mount -t sysfs sysfs "$r/sys" &&
            exec chroot "$r" "$@"' _ "$r" "$cpuinfo" /usr/bin/env -i "${env[@]}" "$@"
}

# --- 1. the Debian bookworm arm64 root (cached) ---
# Raspberry Pi OS Lite comes with python3, systemd and procps (the unit's /bin/kill): minbase plus those is the
# closest Debian root.
if [[ ! -e $base/.complete ]]; then
    say "debootstrap bookworm arm64 from $mirror into $base"
    t=$(clock)
    rm -rf "$base.tmp"
    nice -n 19 unshare --mount --propagation private -- debootstrap --arch=arm64 --variant=minbase \
        --include=python3,ca-certificates,systemd,procps bookworm "$base.tmp" "$mirror" > "$dir/debootstrap.log" 2>&1 \
        || { tail -20 "$dir/debootstrap.log"; die "debootstrap failed (log: $dir/debootstrap.log)"; }
    touch "$base.tmp/.complete"
    mv "$base.tmp" "$base"
    say "root built in $(since "$t")"
fi
if [[ $rebuild -eq 1 ]]; then
    rm -rf "$root"
fi
if [[ ! -d $root ]]; then  # kept after a failed install too: install.sh is idempotent and picks up from there
    rm -rf "$root.tmp"
    cp -a "$base" "$root.tmp" && mv "$root.tmp" "$root"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"  # pip and apt inside the root resolve names as this machine does
# A TLS-inspecting proxy on the way to PyPI shows its own CA: the root trusts the CAs this machine added locally,
# as a board on the same network would have to.
changed=0
for crt in /usr/local/share/ca-certificates/*.crt; do
    [[ -f $crt ]] || continue
    cmp -s "$crt" "$root$crt" || { install -D -m 0644 "$crt" "$root$crt"; changed=1; }
done
[[ $changed -eq 0 ]] || in_root "$root" update-ca-certificates >/dev/null 2>&1

# --- 2. install as on the board (timed) ---
# The checkout's files as git sees them (regular files only: a .venv symlink is not ignored as a folder), plus the
# models this machine fetched: install.sh copies models/ to /opt/dms, where its `dms models fetch` finds each with
# the right sha256 and downloads nothing.
say "copying the checkout and models/*.tflite into the root"
stage=$root/srv/edge-dms
rm -rf "$stage" && mkdir -p "$stage"
(cd "$src" && { git ls-files -co --exclude-standard; ls models/*.tflite; } | sort -u |
    while IFS= read -r f; do [[ -f $f ]] && printf '%s\n' "$f"; done | tar -chf - -T - | tar -C "$stage" -xf -)
say "tools/install.sh --profile $profile inside the root (log: $dir/install-$profile.log)"
t=$(clock)
in_root "$root" bash /srv/edge-dms/tools/install.sh --profile "$profile" > "$dir/install-$profile.log" 2>&1 \
    || { tail -30 "$dir/install-$profile.log"; die "install.sh failed inside the arm64 root"; }
install_time=$(since "$t")
grep '^==>' "$dir/install-$profile.log" | sed 's/^/    /'
say "install time: $install_time"
in_root "$root" /opt/dms/.venv/bin/python -c '
import platform, sys, cv2, numpy
from importlib.metadata import version
lit = version("ai-edge-litert")
print(f"    in the root: {platform.machine()}, Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"OpenCV {cv2.__version__} ({cv2.__file__}), ai-edge-litert {lit}")'

# --- 3. the same replay on both machines ---
# The demo clip's H.264 decodes to different pixels on the two machines (tools/frames_drive.py), so both replay
# its frames as this machine decodes them, stored losslessly; here that replays exactly as the clip itself.
host() { (cd "$src" && PYTHONPATH=$src nice -n 19 "$host_py" "$@"); }
clip=$(host -c 'from edge.demo import clip_path; print(clip_path("WolfgangLanger_Pexels.mp4"))')
check=$root/srv/check
rm -rf "$check" && mkdir -p "$check"
say "writing $(basename "$clip")'s frames as a lossless drive (tools/frames_drive.py)"
host tools/frames_drive.py "$clip" "$check/drive" | sed 's/^/    /'
cp "$src/tools/check_aarch64.toml" "$check/check.toml"
say "replaying the clip and the drive here ($(uname -m)), and the drive with TFLite's built-in kernels"
host -m edge.cli replay "$clip" --config tools/check_aarch64.toml --jsonl "$dir/x86_64-clip.jsonl" --quiet
host -m edge.cli replay "$check/drive" --config tools/check_aarch64.toml --jsonl "$dir/x86_64.jsonl" --quiet
# The baseline: how far this machine's own run moves when only its float kernels change (tools/compare_runs.py).
{ cat "$src/tools/check_aarch64.toml"; printf '\n[runtime]\nbackend = "litert-builtin"\n'; } > "$dir/builtin.toml"
host -m edge.cli replay "$check/drive" --config "$dir/builtin.toml" --jsonl "$dir/x86_64-builtin.jsonl" --quiet
host tools/compare_runs.py "$dir/x86_64-clip.jsonl" "$dir/x86_64.jsonl" --exact --labels clip,drive \
    > "$dir/clip-vs-drive.txt" ||
    { tail -20 "$dir/clip-vs-drive.txt"; die "the drive does not replay as the clip here ($dir/clip-vs-drive.txt)"; }
say "here the drive replays as the clip: $(tail -1 "$dir/clip-vs-drive.txt")"
host_frames=$(host tools/frames_drive.py --hash "$check/drive")
say "replaying the drive in the arm64 root (qemu, $qemu_cpu)"
t=$(clock)
root_frames=$(in_root "$root" /opt/dms/.venv/bin/python /opt/dms/tools/frames_drive.py --hash /srv/check/drive)
[[ $root_frames == "$host_frames" ]] ||
    die "the arm64 root decodes other frames than this machine (${root_frames%% *} vs ${host_frames%% *})"
say "same frames on both machines: sha256 ${host_frames:0:16}… (${host_frames#* })"
in_root "$root" /opt/dms/.venv/bin/dms replay /srv/check/drive --config /srv/check/check.toml \
    --jsonl /srv/check/run.jsonl --quiet
cp "$check/run.jsonl" "$dir/aarch64-$profile-$board.jsonl"
say "arm64 replay: $(since "$t")"

# --- 4. compare ---
say "comparing (tools/compare_runs.py)"
rc=0
host tools/compare_runs.py "$dir/x86_64.jsonl" "$dir/aarch64-$profile-$board.jsonl" --labels x86-64,aarch64 \
    --baseline "$dir/x86_64-builtin.jsonl" || rc=$?
say "install time: $install_time; total time: $(since "$started")"
exit $rc
