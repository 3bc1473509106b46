"""Board metrics: the real /proc of this machine, a fake sysfs tree for temperatures and Pi throttling."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge import sysinfo
from edge.sysinfo import CpuMeter, decode_throttled, parse_throttled


def _zone(root: Path, n: int, kind: str, millideg: str) -> None:
    zone = root / "class" / "thermal" / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(millideg + "\n")


def test_cpu_percent_measures_this_process() -> None:
    meter = CpuMeter()
    started, cpu_started = time.monotonic(), time.process_time()
    # Busy until this process has used 0.1 s of CPU, however long a loaded machine takes to give it that.
    while time.process_time() - cpu_started < 0.1 and time.monotonic() - started < 10.0:
        pass
    busy_share = 100.0 * (time.process_time() - cpu_started) / (time.monotonic() - started)
    busy = meter.percent()
    time.sleep(0.2)
    idle = meter.percent()
    assert busy is not None and idle is not None
    assert busy == pytest.approx(busy_share, rel=0.2) and busy > 2.0
    assert idle < min(20.0, busy)
    assert isinstance(sysinfo.cpu_percent(), float)


def test_memory_from_proc() -> None:
    rss, peak = sysinfo.rss_mb(), sysinfo.peak_rss_mb()
    assert rss is not None and peak is not None
    assert 5.0 < rss <= peak < 100_000.0


def test_memory_without_proc(tmp_path: Path) -> None:
    assert sysinfo.rss_mb(tmp_path) is None and sysinfo.peak_rss_mb(tmp_path) is None


def test_hottest_zone_wins_and_placeholders_are_ignored(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "cpu-thermal", "51234")
    _zone(tmp_path, 1, "GPU-therm", "58500")
    _zone(tmp_path, 2, "PMIC-Die", "100000")  # Jetson Nano: a fixed 100 °C, not a measurement
    _zone(tmp_path, 3, "unused", "-256000")
    _zone(tmp_path, 4, "broken", "n/a")
    assert sysinfo.thermal_zones(tmp_path) == {"cpu-thermal": 51.234, "GPU-therm": 58.5}
    assert sysinfo.soc_temperature_c(tmp_path) == 58.5


def test_no_thermal_zones(tmp_path: Path) -> None:
    assert sysinfo.soc_temperature_c(tmp_path) is None
    assert sysinfo.soc_temperature_c(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("value", "now", "occurred"),
    [
        (0x0, set(), set()),
        (0x50000, set(), {"under_voltage", "throttled"}),
        (0x50005, {"under_voltage", "throttled"}, {"under_voltage", "throttled"}),
        (0x80008, {"soft_temp_limit"}, {"soft_temp_limit"}),
        (0xF000F, {"under_voltage", "freq_capped", "throttled", "soft_temp_limit"},
         {"under_voltage", "freq_capped", "throttled", "soft_temp_limit"}),
        (0x20002, {"freq_capped"}, {"freq_capped"}),
    ],
)
def test_decode_throttled(value: int, now: set[str], occurred: set[str]) -> None:
    t = decode_throttled(value)
    flags = {k for k, v in t.as_dict().items() if v is True}
    assert flags == {f"{n}_now" for n in now} | {f"{n}_occurred" for n in occurred}
    assert t.raw == value and t.as_dict()["raw"] == hex(value)


def test_parse_throttled() -> None:
    assert parse_throttled("throttled=0x50005\n") == decode_throttled(0x50005)
    assert parse_throttled("50005\n") == decode_throttled(0x50005)  # the firmware's sysfs file
    assert parse_throttled("0\n") == decode_throttled(0)
    assert parse_throttled("error=1 error_msg=\"Command not registered\"") is None
    assert parse_throttled("") is None


def test_throttling_from_firmware_sysfs(tmp_path: Path) -> None:
    firmware = tmp_path / "devices" / "platform" / "soc" / "soc:firmware"
    firmware.mkdir(parents=True)
    (firmware / "get_throttled").write_text("50005\n")
    t = sysinfo.throttling(tmp_path, vcgencmd=None)
    assert t is not None and t.under_voltage_now and t.throttled_now and not t.freq_capped_now


def test_throttling_from_vcgencmd(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "vcgencmd"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo throttled=0x50000\n')
    fake.chmod(0o755)
    t = sysinfo.throttling(tmp_path / "sys", vcgencmd=str(fake))
    assert t == decode_throttled(0x50000)


def test_throttling_absent(tmp_path: Path) -> None:
    assert sysinfo.throttling(tmp_path, vcgencmd=None) is None
    assert sysinfo.throttling(tmp_path, vcgencmd="no-such-vcgencmd-here") is None


def test_board_model(tmp_path: Path) -> None:
    dt = tmp_path / "device-tree"
    dt.mkdir()
    (dt / "model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert sysinfo.board_model(tmp_path) == "Raspberry Pi 5 Model B Rev 1.0"
    other = tmp_path / "x86"
    other.mkdir()
    (other / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n")
    assert sysinfo.board_model(other) == "Some CPU @ 2.0GHz"
    assert sysinfo.board_model(tmp_path / "missing") is None
    assert sysinfo.board_model()  # this machine names something


def test_metrics_never_raise_and_say_none_for_what_is_missing(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "cpu-thermal", "47000")
    assert sysinfo.soc_temperature_c(tmp_path) == 47.0 and sysinfo.throttling(tmp_path, None) is None
    assert sysinfo.rss_mb() > 0 and sysinfo.board_model()
    missing = tmp_path / "none"
    assert sysinfo.rss_mb(missing) is None and sysinfo.soc_temperature_c(missing) is None
    assert sysinfo.board_model(missing) is None
