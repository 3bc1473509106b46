"""`dms` with two test hooks: while the file named by $DMS_TEST_STALL_FILE exists, the vision stage blocks, as a
hung model or driver would; with $DMS_TEST_CAMERA_STOP_FAILS set, closing the camera raises, as a wedged V4L2 driver
can. Everything else is the real `dms run`. Used by the daemon tests only."""

import os
import sys
import time
from pathlib import Path

from edge.cli import main
from edge.sources.camera import LiveCamera
from edge.vision.pipeline import VisionPipeline

STALL = Path(os.environ["DMS_TEST_STALL_FILE"])
_process = VisionPipeline.process


def _stallable(self, frame):  # noqa: ANN001, ANN202
    while STALL.exists():
        time.sleep(0.01)
    return _process(self, frame)


VisionPipeline.process = _stallable
if os.environ.get("DMS_TEST_CAMERA_STOP_FAILS"):
    def _failing_stop(self):  # noqa: ANN001, ANN202
        _stop(self)
        raise OSError("VIDIOC_STREAMOFF: No such device")

    _stop = LiveCamera.stop
    LiveCamera.stop = _failing_stop
sys.exit(main(sys.argv[1:]))
