"""The installed package's version (pyproject's), as the device reports it (Home Assistant's software version)."""

from __future__ import annotations

from importlib import metadata

PACKAGE = "edge-dms"


def version() -> str:
    """The installed distribution's version; "0+unknown" when the code runs from a tree that was never installed."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "0+unknown"
