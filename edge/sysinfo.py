"""Board metrics for the `stats` topic: this process's CPU and memory, SoC temperature, Raspberry Pi throttling.

Every reader is cheap (a few small /proc or /sys reads) and never raises: a metric the board does not expose, or
that the service's sandbox hides, is None. The roots are parameters so tests can point them at a fake tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
SYS = Path("/sys")

# Thermal zones whose reading is not a temperature of the SoC: Jetson Nano's PMIC-Die reports a fixed 100 °C.
_IGNORED_ZONES = {"PMIC-Die"}
_PLAUSIBLE_C = (-40.0, 150.0)  # outside: an unpopulated sensor (-40 °C / -256 °C / 0x7fffffff placeholders)


class CpuMeter:
    """CPU time of this process (all threads) over the wall time since the previous call, in % of one core
    (as top shows it: 250 means two and a half cores busy)."""

    def __init__(self) -> None:
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float]:
        t = os.times()
        return t.user + t.system, time.monotonic()

    def percent(self) -> float | None:
        cpu, now = self._sample()
        last_cpu, last_now = self._last
        self._last = (cpu, now)
        elapsed = now - last_now
        if elapsed <= 0.0:
            return None
        return round(100.0 * (cpu - last_cpu) / elapsed, 1)


_default_meter = CpuMeter()


def cpu_percent() -> float | None:
    """This process's CPU use since the previous call (or since import), in % of one core."""
    return _default_meter.percent()


def _status_kib(field: str, proc_root: Path) -> int | None:
    try:
        text = (proc_root / "self" / "status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def rss_mb(proc_root: Path = PROC) -> float | None:
    """Resident memory now (VmRSS), MiB as `dms bench` reports it."""
    kib = _status_kib("VmRSS", proc_root)
    return None if kib is None else round(kib / 1024.0, 1)


def peak_rss_mb(proc_root: Path = PROC) -> float | None:
    """Peak resident memory since start (VmHWM), MiB."""
    kib = _status_kib("VmHWM", proc_root)
    return None if kib is None else round(kib / 1024.0, 1)


def thermal_zones(sys_root: Path = SYS) -> dict[str, float]:
    """Plausible readings of every thermal zone, °C, by zone type (e.g. "cpu-thermal", "CPU-therm")."""
    out: dict[str, float] = {}
    for zone in sorted((sys_root / "class" / "thermal").glob("thermal_zone*")):
        try:
            millideg = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue  # some zones fail to read while their sensor is powered down (EINVAL/ENODATA)
        try:
            kind = (zone / "type").read_text().strip() or zone.name
        except OSError:
            kind = zone.name
        celsius = millideg / 1000.0
        if kind in _IGNORED_ZONES or not _PLAUSIBLE_C[0] < celsius < _PLAUSIBLE_C[1]:
            continue
        out[kind if kind not in out else f"{kind}.{zone.name}"] = celsius
    return out


def soc_temperature_c(sys_root: Path = SYS) -> float | None:
    """The hottest thermal zone, °C; None on boards (and containers) without one."""
    zones = thermal_zones(sys_root)
    return round(max(zones.values()), 1) if zones else None


@dataclass(frozen=True)
class Throttling:
    """Raspberry Pi firmware throttling flags (get_throttled): what is happening now and since boot."""

    raw: int
    under_voltage_now: bool
    freq_capped_now: bool
    throttled_now: bool
    soft_temp_limit_now: bool
    under_voltage_occurred: bool
    freq_capped_occurred: bool
    throttled_occurred: bool
    soft_temp_limit_occurred: bool

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["raw"] = hex(self.raw)
        return d


def decode_throttled(value: int) -> Throttling:
    """Bits 0-3: now; bits 16-19: since boot (Raspberry Pi documentation of `vcgencmd get_throttled`)."""

    def bit(n: int) -> bool:
        return bool(value >> n & 1)

    return Throttling(value, bit(0), bit(1), bit(2), bit(3), bit(16), bit(17), bit(18), bit(19))


def parse_throttled(text: str) -> Throttling | None:
    """`throttled=0x50005` (vcgencmd) or `50005` (the firmware's sysfs file, hex without 0x)."""
    m = re.fullmatch(r"(?:throttled=)?(?:0x)?([0-9a-fA-F]{1,8})", text.strip())
    return decode_throttled(int(m.group(1), 16)) if m else None


def throttling(sys_root: Path = SYS, vcgencmd: str | None = "vcgencmd") -> Throttling | None:
    """Raspberry Pi only; None elsewhere (Jetson has no standard equivalent) or when unreadable.

    The firmware driver's sysfs file comes first: no process to spawn, and no /dev/vchiq or /dev/vcio access, which
    the service's device policy does not grant. `vcgencmd get_throttled` is the fallback (older kernels)."""
    for path in sorted((sys_root / "devices" / "platform").glob("*/*firmware/get_throttled")) + sorted(
        (sys_root / "devices" / "platform").glob("*firmware/get_throttled")
    ):
        try:
            found = parse_throttled(path.read_text())
        except OSError:
            continue
        if found is not None:
            return found
    exe = shutil.which(vcgencmd) if vcgencmd else None
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=2.0, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_throttled(done.stdout) if done.returncode == 0 and "throttled=" in done.stdout else None


def board_model(proc_root: Path = PROC) -> str | None:
    """The device-tree model ("Raspberry Pi 5 Model B Rev 1.0", "NVIDIA Jetson Orin Nano ..."), else the CPU's."""
    try:
        model = (proc_root / "device-tree" / "model").read_bytes().decode(errors="replace").strip("\x00\n ")
        if model:
            return model
    except OSError:
        pass
    try:
        cpuinfo = (proc_root / "cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    for key in ("model name", "Model", "Hardware", "cpu model"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return None
