"""Which "power from test vectors" numbers a report may show.

Numbers made before :data:`hwnn.eda.sta.POWER_METHOD_VERSION` (entries without
``power_vectors_method``) overstate the power of every cell fed combinationally by the
primary inputs: OpenSTA 2.0.17 re-propagated activity from the inputs at each
``report_power`` and overwrote the recorded activity there (docs/architecture.md, power).
Reports therefore show those numbers as missing and say why, instead of mixing the two
methods in one column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwnn.eda.sta import POWER_METHOD_VERSION

#: Footnote for tables in which at least one vector-power number was withheld.
STALE_POWER_NOTE = (
    "Power from test vectors shows '–' where the design was synthesized before the "
    f"input-register power fix (power method < {POWER_METHOD_VERSION}): those numbers "
    "overstated the input cone and are withheld until the design is synthesized again.")


def power_is_current(asic: Mapping[str, Any] | None) -> bool:
    """Whether an ASIC ``synth.json`` entry's vector power was made by the current method."""
    return bool(asic) and asic.get("power_vectors_method") == POWER_METHOD_VERSION


def vector_power_mw(asic: Mapping[str, Any] | None) -> float | None:
    """Power from test vectors (mW) of an ASIC entry, or None when it is missing or was
    measured by a superseded method."""
    if not asic or asic.get("power_vectors_mw") is None or not power_is_current(asic):
        return None
    return float(asic["power_vectors_mw"])


def power_withheld(asic: Mapping[str, Any] | None) -> bool:
    """Whether an entry has a vector-power number that :func:`vector_power_mw` withholds."""
    return bool(asic) and asic.get("power_vectors_mw") is not None and not power_is_current(asic)
