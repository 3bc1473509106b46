"""systemd/: `tools/verify_systemd.sh` (systemd-analyze verify, offline security score, sysusers, tmpfiles) and the
properties of dms.service that the daemon and docs/deploy.md rely on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "verify_systemd.sh"
UNIT = ROOT / "systemd" / "dms.service"


def _run(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})
    if done.returncode == 77:
        pytest.skip(f"systemd-analyze unavailable: {done.stderr.strip()}")
    return done


def _settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_verify_script_passes() -> None:
    done = _run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "systemd-analyze verify dms.service" in done.stdout


def test_verify_script_catches_a_bad_unit(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "systemd", tmp_path / "systemd")
    unit = tmp_path / "systemd" / "dms.service"
    # systemd itself only warns about these and exits 0: the script must still fail.
    unit.write_text(unit.read_text().replace("WatchdogSec=10", "WatchdogSec=ten\nProtectSytem=strict"))
    done = _run({"DMS_SYSTEMD_DIR": str(tmp_path / "systemd")})
    assert done.returncode == 1, done.stdout
    assert "WatchdogSec" in done.stdout or "ten" in done.stdout


def test_unit_properties() -> None:
    s = _settings(UNIT.read_text())
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["ExecStart"] == ["/opt/dms/.venv/bin/dms run --config /etc/dms/dms.toml"]
    assert s["WatchdogSec"] == ["10"]
    assert s["Restart"] == ["on-failure"] and "StartLimitBurst" in s and "StartLimitIntervalSec" in s
    assert s["User"] == ["dms"] and s["Group"] == ["dms"]
    assert set(s["SupplementaryGroups"][0].split()) == {"video", "audio", "dialout"}
    assert s["StateDirectory"] == ["dms"] and s["ConfigurationDirectory"] == ["dms"]
    # mqtt.password_credential defaults to "mqtt-password": the credential's name must match.
    assert s["LoadCredential"] == ["mqtt-password:/etc/dms/mqtt-password"]
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["NoNewPrivileges"] == ["yes"] and s["DevicePolicy"] == ["closed"]
    assert "PrivateDevices" not in s  # it would hide the cameras
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    assert {"char-video4linux", "char-media", "char-alsa", "char-ttyUSB", "char-ttyACM"} <= allowed
    assert set(s["RestrictAddressFamilies"][0].split()) >= {"AF_UNIX", "AF_INET", "AF_INET6"}


def test_the_config_default_names_the_credential() -> None:
    from edge.config import MqttConfig

    assert MqttConfig().password_credential == _settings(UNIT.read_text())["LoadCredential"][0].split(":")[0]


def test_jetson_drop_in_opens_devices_and_tmp() -> None:
    s = _settings((ROOT / "systemd" / "dms-jetson.conf").read_text())
    assert s["PrivateTmp"] == ["no"]  # nvargus-daemon's socket lives in the host's /tmp
    assert s["DeviceAllow"] == [""] and s["DevicePolicy"] == ["auto"]
