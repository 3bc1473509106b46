"""tools/install.sh cannot run for real here (no systemd as PID 1, not a Pi): its syntax and its --dry-run plan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "install.sh"


def _dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, timeout=60)


def test_syntax() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("profile", ["pi-csi", "jetson-csi", "usb-nir", "default"])
def test_dry_run_plan(profile: str) -> None:
    done = _dry_run("--profile", profile, "--enable")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    steps = [
        "python3 -m venv",
        "pip install -q --disable-pip-version-check -e /opt/dms",
        "install -D -m 0644 " + str(ROOT / "systemd/dms.sysusers") + " /usr/lib/sysusers.d/dms.conf",
        "systemd-sysusers /usr/lib/sysusers.d/dms.conf",
        "systemd-tmpfiles --create /usr/lib/tmpfiles.d/dms.conf",
        "/opt/dms/.venv/bin/dms models fetch --config /etc/dms/dms.toml",
        "/opt/dms/.venv/bin/dms check --config /etc/dms/dms.toml",
        "/etc/systemd/system/dms.service",
        "systemd-analyze verify /etc/systemd/system/dms.service",
        "systemctl daemon-reload",
        "systemctl enable dms",
        "systemctl restart dms",
    ]
    positions = []
    for step in steps:
        assert step in out, f"missing step {step!r} in:\n{out}"
        positions.append(out.index(step))
    assert positions == sorted(positions), "steps out of order"
    config = "dms.toml" if profile == "default" else f"{profile}.toml"
    # This machine has no /etc/dms/dms.toml, so the profile's file is the one that would be installed.
    assert f"config/{config} /etc/dms/dms.toml" in out
    gst = profile in ("pi-csi", "jetson-csi")
    assert ("--system-site-packages" in out) == gst and ("python3-opencv" in out) == gst
    assert ("gstreamer1.0-libcamera" in out) == (profile == "pi-csi")
    assert ("dms.service.d/jetson.conf" in out) == (profile == "jetson-csi")
    assert "mosquitto" not in out.split("systemd-analyze verify")[0].split("apt-get install")[-1]


def test_options() -> None:
    out = _dry_run("--profile", "usb-nir", "--prefix", "/srv/dms", "--skip-apt", "--skip-models", "--with-mosquitto")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "apt-get" not in text and "models fetch" not in text
    assert "/srv/dms/.venv/bin/python -m pip install" in text
    assert "s#/opt/dms/#/srv/dms/#g" in text  # the unit's paths follow the prefix
    assert "config/mosquitto-local.conf /etc/mosquitto/conf.d/dms-local.conf" in text
    assert "+ systemctl try-restart dms" in text and "+ systemctl enable" not in text


@pytest.mark.parametrize("args", [["--profile", "bogus"], ["--nonsense"], ["--prefix", "relative/dir"], ["--profile"]])
def test_bad_arguments_exit_2(args: list[str]) -> None:
    done = _dry_run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip()


def test_profiles_exist_and_are_valid() -> None:
    from edge.config import load_config

    for name in ("pi-csi", "jetson-csi", "usb-nir", "dms"):
        load_config(ROOT / "config" / f"{name}.toml")
