"""Vector-power numbers made by a superseded power method are withheld from reports."""

from __future__ import annotations

from hwnn.eda.sta import POWER_METHOD_VERSION
from hwnn.report.power import power_is_current, power_withheld, vector_power_mw


def test_current_method_is_shown() -> None:
    entry = {"power_vectors_mw": 12.5, "power_vectors_method": POWER_METHOD_VERSION}
    assert power_is_current(entry)
    assert vector_power_mw(entry) == 12.5
    assert not power_withheld(entry)


def test_method_1_numbers_are_withheld() -> None:
    entry = {"power_vectors_mw": 951.0}  # made before the method was recorded
    assert vector_power_mw(entry) is None
    assert power_withheld(entry)
    older = {"power_vectors_mw": 1.0, "power_vectors_method": POWER_METHOD_VERSION - 1}
    assert vector_power_mw(older) is None and power_withheld(older)


def test_missing_power_is_not_counted_as_withheld() -> None:
    for entry in (None, {}, {"area_um2": 3.0}, {"power_vectors_method": POWER_METHOD_VERSION}):
        assert vector_power_mw(entry) is None
        assert not power_withheld(entry)
