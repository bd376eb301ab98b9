"""Hardware-aware training schedule (seed 000 §III-C-1): which weight-set size to try next.

The constants are ranked by multiplier cost (:mod:`hwnn.arith`); training with the
``n = n_start`` cheapest ones comes first ("n was set to 40"). If the validation score is
not within the tolerance of the unrestricted model, "10 more weight values leading to the
small area" are added (``n += n_step``) and the network is retrained from the same starting
point, until it recovers. Then the optional ``curve`` sizes are trained for the
accuracy-vs-n plot (seed Fig. 10); they never change the selection.

Everything here is pure bookkeeping on a JSON-able dict kept in the training checkpoint,
so an interrupted schedule resumes exactly.
"""

from __future__ import annotations

from typing import Any

from hwnn.config import HwAwareConfig

MAX_SIZE = 256
STAGE_PREFIX = "hwaware_n"


def stage_name(n: int) -> str:
    return f"{STAGE_PREFIX}{n}"


def tolerance_limit(metric: str, reference: float, tolerance: float) -> float:
    """The worst acceptable score: accuracy ``reference - tolerance`` (absolute), BER
    ``reference * (1 + tolerance)`` (relative; lower is better)."""
    if metric == "accuracy":
        return reference - tolerance
    if metric == "ber":
        return reference * (1 + tolerance)
    raise ValueError(f"unknown metric {metric!r}")


def within_tolerance(metric: str, reference: float, value: float, tolerance: float) -> bool:
    """Has the restricted model recovered? Accuracy: ``value >= reference - tolerance``;
    BER: ``value <= reference * (1 + tolerance)`` (:func:`tolerance_limit`)."""
    limit = tolerance_limit(metric, reference, tolerance)
    return value >= limit - 1e-12 if metric == "accuracy" else value <= limit + 1e-15


def new_schedule(metric: str, reference_val: float) -> dict[str, Any]:
    return {"metric": metric, "reference_val": reference_val, "trials": [], "selected": None,
            "recovered": None}


def record_trial(schedule: dict[str, Any], cfg: HwAwareConfig, n: int, values: list[int],
                 val: float, test: float, purpose: str,
                 weights: dict[str, Any] | None = None) -> bool:
    """Store one trained size (with optional weight statistics); returns whether it meets
    the tolerance."""
    ok = within_tolerance(schedule["metric"], schedule["reference_val"], val, cfg.tolerance)
    schedule["trials"].append({"n": n, "values": values, "val": val, "test": test,
                               "within_tolerance": ok, "purpose": purpose,
                               "weights": weights})
    if purpose == "select" and (ok or n >= MAX_SIZE):
        schedule["selected"], schedule["recovered"] = n, ok
    return ok


def next_size(schedule: dict[str, Any], cfg: HwAwareConfig) -> tuple[int, str] | None:
    """The next ``(n, purpose)`` to train, or None when the schedule is complete.

    ``purpose`` is ``"select"`` while searching (``n_start``, ``n_start + n_step``, ...,
    capped at 256, the unrestricted 8-bit set) and ``"curve"`` for the extra sizes.
    """
    trials = schedule["trials"]
    if schedule["selected"] is None:
        select = [t["n"] for t in trials if t["purpose"] == "select"]
        if not select:
            return min(cfg.n_start, MAX_SIZE), "select"
        return min(select[-1] + cfg.n_step, MAX_SIZE), "select"
    done = {t["n"] for t in trials}
    for n in cfg.curve:
        if n not in done:
            return n, "curve"
    return None


def trial_of(schedule: dict[str, Any], n: int) -> dict[str, Any]:
    for t in schedule["trials"]:
        if t["n"] == n:
            return t
    raise KeyError(n)
