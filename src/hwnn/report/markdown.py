"""Markdown building blocks shared by every report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table (cells converted with ``str``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def score(metric: str, value: float) -> str:
    """A test score as printed in reports: accuracy in percent, BER in scientific notation."""
    return f"{100 * value:.2f} %" if metric == "accuracy" else f"BER {value:.3e}"


def write_result(folder: Path, stem: str, result: dict[str, Any], text: str) -> None:
    """``folder/stem.json`` (``result``, indented) and ``folder/stem.md`` (``text``), each
    written atomically; the folder is created."""
    from hwnn.atomic import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / f"{stem}.json", (json.dumps(result, indent=2) + "\n").encode())
    atomic_write_bytes(folder / f"{stem}.md", text.encode())
