"""A small VCD reader that counts 0<->1 toggles per net bit.

Only what power estimation needs: ``$scope``/``$upscope``/``$var`` declarations, ``#time``
stamps, scalar (``0!``) and vector (``b0101 !``) value changes; reals and strings are
ignored. A value that changes several times within one time stamp (zero-delay delta
cycles) counts once, by comparing the last value of each time stamp with the previous
stamp's. Transitions to or from ``x``/``z`` are not toggles (registers start at ``x``).

Net names are the names OpenSTA prints: an escaped identifier loses its backslash
(``\\u0.acc`` -> ``u0.acc``) and a vector bit gets its index (``u0.acc[3]``); a scalar that
is itself an escaped name with brackets (``\\a[3]``) becomes ``a[3]``, which OpenSTA also
resolves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hwnn.errors import EdaError

_RANGE = re.compile(r"^\[(-?\d+)(?::(-?\d+))?\]$")
_ATTACHED_RANGE = re.compile(r"^([^\\\[][^\[]*)(\[-?\d+(?::-?\d+)?\])$")


@dataclass
class _Var:
    """One declared variable: bit names listed MSB first (the order of VCD vector values)."""

    bit_names: list[str]


@dataclass
class VcdToggles:
    """Toggle counts per net bit plus the simulated time span (in VCD time units)."""

    toggles: dict[str, int] = field(default_factory=dict)
    first_time: int = 0
    last_time: int = 0
    timescale: str = ""


def _bit_names(reference: str, range_text: str | None, width: int) -> list[str]:
    """Names of a variable's bits, MSB first."""
    name = reference[1:] if reference.startswith("\\") else reference
    if range_text is None and not reference.startswith("\\"):
        attached = _ATTACHED_RANGE.match(reference)
        if attached:
            name, range_text = attached.group(1), attached.group(2)
    if range_text is None:
        if width == 1:
            return [name]
        return [f"{name}[{i}]" for i in range(width - 1, -1, -1)]
    match = _RANGE.match(range_text)
    if match is None:
        raise EdaError(f"cannot parse VCD range {range_text!r} of {reference}")
    msb = int(match.group(1))
    lsb = int(match.group(2)) if match.group(2) is not None else msb
    step = -1 if msb >= lsb else 1
    indices = list(range(msb, lsb + step, step))
    if len(indices) != width:
        raise EdaError(f"VCD range {range_text} of {reference} does not match width {width}")
    return [f"{name}[{i}]" for i in indices]


def _extend(value: str, width: int) -> str:
    """Left-extend a VCD vector value to ``width`` bits (VCD rules: 1 -> 0, x/z -> x/z)."""
    if len(value) >= width:
        return value[-width:]
    fill = value[0] if value[0] in "xXzZ" else "0"
    return fill * (width - len(value)) + value


def _tokens(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield from line.split()


def count_toggles(lines: Iterable[str], scope: str | None = None) -> VcdToggles:
    """Count toggles per net bit in VCD text given as lines.

    ``scope`` is a dotted scope path (``"hwnn_tb.dut"``): only variables declared directly in
    it are counted, under their own names. With ``scope=None`` every variable is counted
    under its dotted full name.
    """
    tokens = _tokens(lines)
    result = VcdToggles()
    scopes: list[str] = []
    code_vars: dict[str, list[_Var]] = {}
    widths: dict[str, int] = {}
    for token in tokens:
        if token == "$scope":
            next(tokens)
            scopes.append(next(tokens))
            _skip_to_end(tokens)
        elif token == "$upscope":
            scopes.pop()
            _skip_to_end(tokens)
        elif token == "$var":
            body = _read_to_end(tokens)
            if len(body) < 4:
                raise EdaError(f"malformed $var declaration: {' '.join(body)}")
            width, code, reference = int(body[1]), body[2], body[3]
            range_text = body[4] if len(body) > 4 else None
            path = ".".join(scopes)
            if scope is not None and path != scope:
                continue
            names = _bit_names(reference, range_text, width)
            if scope is None:
                names = [f"{path}.{n}" if path else n for n in names]
            code_vars.setdefault(code, []).append(_Var(names))
            widths[code] = width
        elif token == "$timescale":
            result.timescale = " ".join(_read_to_end(tokens))
        elif token == "$enddefinitions":
            _skip_to_end(tokens)
            break
        elif token.startswith("$"):
            _skip_to_end(tokens)
    for var_list in code_vars.values():
        for var in var_list:
            for bit in var.bit_names:
                result.toggles.setdefault(bit, 0)
    _count_changes(tokens, code_vars, widths, result)
    return result


def _skip_to_end(tokens: Iterator[str]) -> None:
    for token in tokens:
        if token == "$end":
            return


def _read_to_end(tokens: Iterator[str]) -> list[str]:
    body: list[str] = []
    for token in tokens:
        if token == "$end":
            return body
        body.append(token)
    raise EdaError("unexpected end of VCD inside a declaration")


def _count_changes(
    tokens: Iterator[str],
    code_vars: dict[str, list[_Var]],
    widths: dict[str, int],
    result: VcdToggles,
) -> None:
    committed: dict[str, str] = {}
    pending: dict[str, str] = {}
    counts = result.toggles
    seen_time = False

    def commit() -> None:
        for code, new in pending.items():
            old = committed.get(code)
            committed[code] = new
            if old is None or old == new:
                continue
            for pos, (a, b) in enumerate(zip(old, new, strict=True)):
                if a != b and a in "01" and b in "01":
                    for var in code_vars[code]:
                        counts[var.bit_names[pos]] += 1
        pending.clear()

    for token in tokens:
        head = token[0]
        if head == "#":
            commit()
            stamp = int(token[1:])
            if not seen_time:
                result.first_time, seen_time = stamp, True
            result.last_time = stamp
        elif head in "01xXzZ":
            code = token[1:]
            if code in widths:
                pending[code] = head.lower()
        elif head in "bB":
            code = next(tokens)
            if code in widths:
                pending[code] = _extend(token[1:].lower(), widths[code])
        elif head in "rRsS":
            next(tokens)
        elif token == "$comment":
            _skip_to_end(tokens)
        elif token.startswith("$"):
            continue  # $dumpvars / $dumpon / $end wrappers around value changes
        else:
            raise EdaError(f"unexpected VCD token {token!r}")
    commit()


def read_vcd(path: str | os.PathLike[str], scope: str | None = None) -> VcdToggles:
    """:func:`count_toggles` on a VCD file."""
    with Path(path).open(errors="replace") as handle:
        return count_toggles(handle, scope)
