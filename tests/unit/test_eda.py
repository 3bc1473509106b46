"""Skin conductance (edge/physio/eda.py): resampling, responses, level and slope, the signal checks, Grove units."""

import numpy as np
import pytest

from edge.physio.eda import EDA_RATE_HZ, eda_window, grove_to_microsiemens, resample


def responses(t: np.ndarray, onsets: list[float], amplitude: float, rise_s: float = 1.5) -> np.ndarray:
    """Skin conductance responses: a smooth rise over rise_s, then an exponential recovery (time constant 4 s)."""
    x = np.zeros_like(t)
    for onset in onsets:
        dt = t - onset
        rising = (dt >= 0) & (dt < rise_s)
        x[rising] += amplitude * 0.5 * (1 - np.cos(np.pi * dt[rising] / rise_s))
        after = dt >= rise_s
        x[after] += amplitude * np.exp(-(dt[after] - rise_s) / 4.0)
    return x


def window(rate_hz: float = 15.5, level: float = 5.0, drift_per_min: float = 0.0, onsets=(8.0, 23.0, 41.0),
           amplitude: float = 0.1, noise: float = 0.0):
    t = np.arange(0.0, 60.0, 1.0 / rate_hz)
    rng = np.random.default_rng(3)
    x = level + drift_per_min * t / 60.0 + responses(t, list(onsets), amplitude) + noise * rng.normal(size=len(t))
    return t, x


@pytest.mark.parametrize("rate_hz", [15.5, 31.0, 250.0])
def test_responses_level_and_slope_at_any_sensor_rate(rate_hz):
    t, x = window(rate_hz, drift_per_min=0.3, noise=0.002)
    e = eda_window(resample(t, x, 0.0, 60.0), raw=x)
    assert e.flags == () and e.quality == pytest.approx(1.0, abs=0.02)
    assert e.scr_rate == pytest.approx(3.0)  # three responses in one minute
    assert e.scr_amplitude == pytest.approx(0.1, abs=0.025)  # the rise includes the tonic drift under it
    assert e.scl == pytest.approx(5.15, abs=0.1)
    assert e.scl_slope == pytest.approx(0.3, abs=0.1)


def test_small_wiggles_are_not_responses():
    t, x = window(amplitude=0.0, noise=0.003)  # 0.06 % of the level: electrode noise, below the 0.5 % threshold
    e = eda_window(resample(t, x, 0.0, 60.0), raw=x)
    assert e.scr_rate == 0.0 and e.scr_amplitude == 0.0 and e.flags == ()


def test_a_step_onset_does_not_ring_into_an_extra_response():
    t = np.arange(0.0, 60.0, 1.0 / 15.5)
    x = 5.0 + 0.2 * np.exp(-((t - 20.0) % 15.0) / 2.0)  # instantaneous onsets at 5, 20, 35, 50 s
    assert eda_window(resample(t, x, 0.0, 60.0)).scr_rate == pytest.approx(4.0)


def test_flat_clipped_no_contact_and_gaps():
    t = np.arange(0.0, 60.0, 1.0 / 15.5)
    flat = np.full(len(t), 3.0)
    assert "flat" in eda_window(resample(t, flat, 0.0, 60.0), raw=flat).flags
    _, x = window()
    railed = np.where(t < 10.0, 0.0, np.round(300 - x * 10))  # ten seconds at the ADC's bottom
    assert "clipped" in eda_window(resample(t, railed, 0.0, 60.0), raw=railed, rails=(0.0, 1023.0)).flags
    calm = np.round(300 - x * 20)  # integer readings a few counts wide sit on their max and min: not clipping
    assert eda_window(resample(t, calm, 0.0, 60.0), raw=calm, rails=(0.0, 1023.0)).flags == ()
    zero = grove_to_microsiemens(np.full(len(t), 600.0))  # nobody touching the electrodes
    assert "no_contact" in eda_window(resample(t, zero, 0.0, 60.0), raw=zero).flags
    part = t < 20.0  # the sensor stopped after 20 s
    e = eda_window(resample(t[part], x[part], 0.0, 60.0), raw=x[part])
    assert e.flags == ("gaps",) and e.quality == 0.0 and e.coverage == pytest.approx(1 / 3, abs=0.02)


def test_resample_leaves_gaps_empty_and_ignores_bad_samples():
    t = np.array([0.0, 0.5, 1.0, 5.0, 5.5, np.nan, 6.0])
    x = np.array([1.0, 2.0, 3.0, 4.0, np.inf, 7.0, 6.0])
    y = resample(t, x, 0.0, 6.0, rate=2.0)
    assert len(y) == 12
    assert y[:3] == pytest.approx([1.0, 2.0, 3.0])
    assert np.isnan(y[3:10]).all()  # 1.0 -> 5.0 is longer than MAX_GAP_S: not bridged
    assert y[10] == pytest.approx(4.0) and y[11] == pytest.approx(5.0)  # the inf at 5.5 was dropped
    assert np.isnan(resample(np.array([1.0]), np.array([1.0]), 0.0, 2.0)).all()
    assert len(resample(t, x, 0.0, 60.0)) == int(60 * EDA_RATE_HZ)


def test_grove_conversion():
    # Seeed: R = (1024 + 2 * reading) * 10 kOhm / (512 - reading)
    assert grove_to_microsiemens(300.0) == pytest.approx(1e6 * (512 - 300) / ((1024 + 600) * 1e4))
    assert grove_to_microsiemens([512.0, 700.0, np.nan]).tolist() == [0.0, 0.0, 0.0]
    readings = np.array([100.0, 200.0, 300.0, 400.0])
    assert np.all(np.diff(grove_to_microsiemens(readings)) < 0)  # a higher reading is a higher resistance
    assert grove_to_microsiemens(1000.0, full_scale=4096, open_reading=2048) > 0.0  # a 12-bit board
