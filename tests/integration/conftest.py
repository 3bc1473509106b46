"""Fixtures of the integration tests: a real mosquitto on a free loopback port, and `dms dashboard` on it."""

import pytest

from tests.dashboard import Dashboard
from tests.mosquitto import Mosquitto


@pytest.fixture
def broker():
    b = Mosquitto()
    b.start()
    yield b
    b.close()


@pytest.fixture
def dashboard(broker, tmp_path):
    d = Dashboard(broker, tmp_path).start()
    yield d
    d.close()
