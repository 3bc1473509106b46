"""Sources: the live camera, serial sensor and microphone (SupervisedSource, supervised.py) and recorded drives."""
