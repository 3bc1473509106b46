"""`dms` with one test hook: while the file named by $DMS_TEST_STALL_FILE exists, the vision stage blocks, as a
hung model or driver would. Everything else is the real `dms run`. Used by test_daemon.py only."""

import os
import sys
import time
from pathlib import Path

from edge.cli import main
from edge.vision.pipeline import VisionPipeline

STALL = Path(os.environ["DMS_TEST_STALL_FILE"])
_process = VisionPipeline.process


def _stallable(self, frame):  # noqa: ANN001, ANN202
    while STALL.exists():
        time.sleep(0.01)
    return _process(self, frame)


VisionPipeline.process = _stallable
sys.exit(main(sys.argv[1:]))
