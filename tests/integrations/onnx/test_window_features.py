"""Windows and features: what exactly a model is fed."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from integrations.onnx.features import FeatureSpec
from integrations.onnx.window import NAN, ResampledWindow, SampleWindow
from tests.integrations.onnx.conftest import T0


def test_resampled_window_holds_values_and_weights_them_by_time() -> None:
    window = ResampledWindow(3, 60)
    window.add(T0, 100)
    window.add(T0 + 90, 200)  # 100 W for 30 s of the second minute, then 200 W
    window.advance(T0 + 180)
    assert window.values().tolist() == [100.0, 150.0, 200.0]
    assert window.ready() and window.end_time == T0 + 180


def test_resampled_window_marks_unavailable_minutes_and_survives_long_gaps() -> None:
    window = ResampledWindow(3, 60)
    window.add(T0, 100)
    window.add(T0 + 60, NAN)
    window.add(T0 + 120, 50)
    window.advance(T0 + 180)
    assert np.isnan(window.values()[1]) and window.values()[[0, 2]].tolist() == [100.0, 50.0]
    window.advance(T0 + 10 * 86400)  # days without a reading: the held value, not a loop over every minute
    assert window.values().tolist() == [50.0, 50.0, 50.0]


def test_sample_window_keeps_the_last_readings_in_order() -> None:
    window = SampleWindow(3)
    for index, value in enumerate([1, 2, 3, 4, 5]):
        window.add(T0 + index, value)
    assert window.values().tolist() == [3.0, 4.0, 5.0] and window.end_time == T0 + 4


def test_feature_vector_layout_and_local_time() -> None:
    spec = FeatureSpec(("raw", "delta", "time_of_day", "day_of_week"), 3, inputs=2)
    assert spec.length == 6 + 4 + 2 + 2
    assert spec.describe() == "6 raw + 4 delta + 2 time_of_day + 2 day_of_week"
    berlin = ZoneInfo("Europe/Berlin")  # T0 is Monday 00:00 UTC, 01:00 in Berlin
    vector = spec.vector([np.array([1.0, 2.0, 4.0]), np.array([10.0, 20.0, 40.0])], T0, berlin)
    assert vector[:10].tolist() == [1, 2, 4, 10, 20, 40, 1, 2, 10, 20]
    hour = 2 * math.pi / 24
    assert vector[10:12] == pytest.approx([math.sin(hour), math.cos(hour)])
    week = 2 * math.pi * (1 / 24) / 7
    assert vector[12:14] == pytest.approx([math.sin(week), math.cos(week)])


def test_unknown_features_and_too_short_delta_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature 'hour'"):
        FeatureSpec(("raw", "hour"), 3)
    with pytest.raises(ValueError, match="at least 2 values"):
        FeatureSpec(("delta",), 1)
