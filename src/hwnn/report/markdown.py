"""Markdown building blocks shared by every report."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table (cells converted with ``str``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def score(metric: str, value: float) -> str:
    """A test score as printed in reports: accuracy in percent, BER in scientific notation."""
    return f"{100 * value:.2f} %" if metric == "accuracy" else f"BER {value:.3e}"
