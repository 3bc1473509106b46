"""Sources: the live camera (camera.py) and recorded drives (recording.py)."""
