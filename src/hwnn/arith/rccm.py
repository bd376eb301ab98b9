"""AddNet reconfigurable constant coefficient multipliers (RCCMs), seed 002 §6.4.

An RCCM multiplies its input ``x`` by one of ``2^w_s`` constants chosen at run time by a
``w_s``-bit select word. It is a small graph of adder nodes of two *base topologies*
(seed 002 §6.4.2, Fig. 6.2); every node computes an operation ``±A_p ±B_q`` chosen from
four by a 2-bit select ``s`` through a design-time mapping ``sigma(s)``:

* **Topology A**: ``A_p`` is one of three shifted copies of its A source (``p = 1..3``,
  ``A_4 = 0``) and ``B_1`` is its shifted B source. ``sigma = [A1+B1, A2+B1, A3+B1, X]``
  where ``X`` is one of the four *mapping functions* ``B1, -A1+B1, -A2+B1, -A3+B1``
  (Table 6.3; "Topology A had 4 different mapping functions", §6.4.3).
* **Topology B**: ``A_p`` is one of two shifted copies (``A_3 = 0``), ``B_1`` the shifted B
  source; the one mapping is ``sigma = [-A1+B1, -A2+B1, A1-B1, A2-B1]`` so that ``s_1`` is a
  sign bit and the coefficient set is symmetric around zero (§6.4.3: "A_p - B_1 =
  -(-A_p + B_1)").

Shifts ``phi`` are hard-wired left shifts in ``0..phi_max`` with ``phi_max = 3`` (§6.4.3).
The three architectures of Fig. 6.4 (2-Add, 3-Add, 4-Add; ``w_s = 4, 6, 8``) are wired as

* 2-Add: ``n1 = A(x, x)``; ``y = B(n1, x)``
* 3-Add: ``n1 = A(x, x)``; ``n2 = A(x, x)``; ``y = B(n1, n2)``
* 4-Add: ``n1 = A(x, x)``; ``n2 = A(x, x)``; ``n3 = A(n1, n2)``; ``y = B(n3, x)``

(argument order: A source, B source).

Assumptions (Fig. 6.4 itself is not in the seed text; the AddNet paper, Faraone et al.,
IEEE TVLSI 2020, was not available in full; see docs/notes/addnet_rccm_enumeration.md):

1. The wiring above is inferred: of all wirings it is the only one for which the Table 6.3
   parameters realise the Table 6.2 coefficient sets; it realises all three exactly.
2. Table 6.3 prints the Topology B mapping as ``[-A1+B1, A2+B1, A1-B1, A2-B1]``. That row
   realises none of the Table 6.2 sets (13, 55 and 206 values instead of 15, 59 and 207);
   ``-A2+B1`` at ``s = 01`` realises all three and is the symmetric mapping the text
   describes, so it is taken as a typo (the printed row is kept as
   ``B_OPS_AS_PRINTED``).
3. The shift columns of Table 6.3 are ``phi_i1..phi_i3`` for ``A_1..A_3`` and ``phi_i4``
   for ``B_1`` (Topology A), ``phi_i1, phi_i2`` for ``A_1, A_2`` and ``phi_i3`` for ``B_1``
   (Topology B); a ``0`` glued onto the operation text in the 3-Add/4-Add rows is
   ``phi_i1``.
4. Enumeration space (``ShiftSpace``): every shift in ``0..phi_max``; by default
   ``phi_i1 = 0`` in every node, as in every row of Table 6.3 (a shift of all of a node's A
   inputs otherwise only rescales). The thesis does not state its space; the counts it
   gives (Table 6.1) are not reproduced by this or any of the ~19,000 variants tried in the
   notes, see ``TABLE_6_1`` and ``scripts/rccm_counts.py``.
5. A coefficient set is the set of distinct values ``{c(s)}`` over all selects.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

PHI_MAX = 3
TABLE_6_1 = {2: 1145, 3: 44198, 4: 4040952}
"""Unique coefficient sets per architecture as printed in seed 002 Table 6.1."""

TABLE_6_2 = {
    2: (0, 1, 2, 8, 28, 36, 44, 92),
    3: (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 14, 16, 23, 29, 30, 32, 63, 69, 70, 72, 87, 93,
        94, 96, 119, 125, 126, 128),
    4: (0, 1, 2, 4, 5, 7, 8, 9, 11, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
        29, 30, 31, 32, 33, 34, 36, 37, 38, 39, 40, 46, 48, 54, 58, 64, 69, 70, 71, 74, 75, 76,
        78, 80, 81, 82, 84, 85, 87, 94, 96, 102, 114, 118, 126, 134, 142, 150, 166, 174, 182,
        190, 194, 198, 206, 214, 222, 230, 238, 246, 258, 262, 270, 278, 286, 302, 310, 318,
        326, 334, 382, 398, 446, 450, 526, 566, 574, 582, 614, 622, 654, 662, 670, 686, 694,
        710, 766, 782, 830, 1214),
}
"""Non-negative halves of the optimised ("±") coefficient sets of seed 002 Table 6.2."""


@dataclass(frozen=True)
class Op:
    """One operation ``sign_a * A_p + sign_b * B_1`` of a node (``p = 0``: no A term)."""

    sign_a: int
    p: int
    sign_b: int

    def __str__(self) -> str:
        a = "" if self.p == 0 else f"{'-' if self.sign_a < 0 else ''}A{self.p}"
        b = "" if self.sign_b == 0 else f"{'-' if self.sign_b < 0 else '+' if a else ''}B1"
        return (a + b) or "0"


A_FIXED_OPS = (Op(1, 1, 1), Op(1, 2, 1), Op(1, 3, 1))
A_FOURTH_OPS = {"B1": Op(0, 0, 1), "-A1+B1": Op(-1, 1, 1), "-A2+B1": Op(-1, 2, 1),
                "-A3+B1": Op(-1, 3, 1)}
"""The four Topology A mapping functions: they differ in the operation at ``s = 11``."""
B_OPS = (Op(-1, 1, 1), Op(-1, 2, 1), Op(1, 1, -1), Op(1, 2, -1))
B_OPS_AS_PRINTED = (Op(-1, 1, 1), Op(1, 2, 1), Op(1, 1, -1), Op(1, 2, -1))

WIRING: dict[int, tuple[tuple[int, int], ...]] = {
    2: ((0, 0), (1, 0)),
    3: ((0, 0), (0, 0), (1, 2)),
    4: ((0, 0), (0, 0), (1, 2), (3, 0)),
}
"""(A source, B source) of each node; 0 is the input ``x``, ``k >= 1`` node ``k``'s output."""


@dataclass(frozen=True)
class Node:
    """One adder node: ``out = ops[s].sign_a * (src_A << a_shifts[p-1]) + ...``."""

    topology: Literal["A", "B"]
    ops: tuple[Op, Op, Op, Op]
    a_shifts: tuple[int, ...]
    b_shift: int
    a_src: int = 0
    b_src: int = 0

    def __post_init__(self) -> None:
        n_a = 3 if self.topology == "A" else 2
        if len(self.a_shifts) != n_a:
            raise ValueError(f"topology {self.topology} takes {n_a} A shifts, got "
                             f"{self.a_shifts}")
        if len(self.ops) != 4:
            raise ValueError(f"a node has 4 operations (2-bit select), got {len(self.ops)}")
        if any(op.p > n_a for op in self.ops):
            raise ValueError(f"topology {self.topology} has A_1..A_{n_a}, got {self.ops}")


def a_node(fourth: str, a_shifts: Sequence[int], b_shift: int, a_src: int = 0,
           b_src: int = 0) -> Node:
    """Topology A node with mapping ``[A1+B1, A2+B1, A3+B1, fourth]``."""
    if fourth not in A_FOURTH_OPS:
        raise ValueError(f"unknown Topology A mapping {fourth!r}; choose one of "
                         f"{', '.join(A_FOURTH_OPS)}")
    ops = (*A_FIXED_OPS, A_FOURTH_OPS[fourth])
    return Node("A", ops, tuple(a_shifts), b_shift, a_src, b_src)  # type: ignore[arg-type]


def b_node(a_shifts: Sequence[int], b_shift: int, a_src: int = 0, b_src: int = 0,
           ops: tuple[Op, Op, Op, Op] = B_OPS) -> Node:
    """Topology B node with the symmetric mapping ``B_OPS`` (or ``ops``)."""
    return Node("B", ops, tuple(a_shifts), b_shift, a_src, b_src)


@dataclass(frozen=True)
class Rccm:
    """A wired RCCM; node ``k`` (0-based) reads select bits ``2k`` and ``2k + 1``."""

    nodes: tuple[Node, ...]
    name: str = "rccm"

    def __post_init__(self) -> None:
        for k, node in enumerate(self.nodes):
            if not (0 <= node.a_src <= k and 0 <= node.b_src <= k):
                raise ValueError(f"node {k + 1} reads a later node ({node.a_src}, "
                                 f"{node.b_src}); sources must be x (0) or earlier nodes")

    @property
    def select_bits(self) -> int:
        """``w_s``: two select bits per node."""
        return 2 * len(self.nodes)

    def coefficients(self) -> np.ndarray:
        """``c[s]`` for every select word ``s``: the RCCM computes ``y = c[s] * x``."""
        return self.node_coefficients()[-1]

    def node_coefficients(self) -> list[np.ndarray]:
        """Coefficient of ``x`` at the input (index 0) and at every node output, over all
        select words: every node is linear in ``x``."""
        n_sel = 1 << self.select_bits
        sel = np.arange(n_sel, dtype=np.int64)
        outs: list[np.ndarray] = [np.ones(n_sel, dtype=np.int64)]
        for k, node in enumerate(self.nodes):
            s_k = (sel >> (2 * k)) & 3
            a_in, b_in = outs[node.a_src], outs[node.b_src]
            out = np.zeros(n_sel, dtype=np.int64)
            for code, op in enumerate(node.ops):
                hit = s_k == code
                val = op.sign_b * (b_in[hit] << node.b_shift)
                if op.p:
                    val = val + op.sign_a * (a_in[hit] << node.a_shifts[op.p - 1])
                out[hit] = val
            outs.append(out)
        return outs

    def coefficient_set(self) -> np.ndarray:
        """The distinct coefficients, ascending (assumption 5)."""
        return np.unique(self.coefficients())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (inverse: :meth:`from_dict`)."""
        return {"name": self.name, "nodes": [
            {"topology": n.topology, "ops": [[o.sign_a, o.p, o.sign_b] for o in n.ops],
             "a_shifts": list(n.a_shifts), "b_shift": n.b_shift, "a_src": n.a_src,
             "b_src": n.b_src} for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rccm:
        nodes = tuple(Node(n["topology"], tuple(Op(*o) for o in n["ops"]),  # type: ignore[arg-type]
                           tuple(n["a_shifts"]), n["b_shift"], n["a_src"], n["b_src"])
                      for n in data["nodes"])
        return cls(nodes, name=data["name"])


def table_6_3(n_add: int, b_ops: tuple[Op, Op, Op, Op] = B_OPS) -> Rccm:
    """The optimised RCCMs of seed 002 Table 6.3 (wiring, assumptions 1-3).

    With the default (corrected) Topology B mapping their coefficient sets equal
    ``±TABLE_6_2[n_add]``.
    """
    wiring = _wiring(n_add)
    params: dict[int, list[tuple[str, tuple[int, ...], int]]] = {
        2: [("B1", (0, 1, 3), 2)],
        3: [("-A2+B1", (0, 2, 3), 3), ("-A1+B1", (0, 1, 3), 0)],
        4: [("-A3+B1", (0, 1, 3), 0), ("-A2+B1", (0, 1, 3), 1), ("-A1+B1", (0, 1, 3), 3)],
    }
    b_shifts = {2: ((0, 3), 2), 3: ((0, 3), 0), 4: ((0, 3), 1)}
    nodes = [a_node(f, a, b, *wiring[k]) for k, (f, a, b) in enumerate(params[n_add])]
    nodes.append(b_node(*b_shifts[n_add], *wiring[-1], ops=b_ops))
    return Rccm(tuple(nodes), name=f"addnet_{n_add}add")


def _wiring(n_add: int) -> tuple[tuple[int, int], ...]:
    if n_add not in WIRING:
        raise ValueError(f"AddNet RCCMs have 2, 3 or 4 adders (Fig. 6.4), got {n_add}")
    return WIRING[n_add]


# ----------------------------------------------------------------------------- enumeration
@dataclass(frozen=True)
class ShiftSpace:
    """The shifts an enumerated node may take (assumption 4): each in ``0..phi_max``;
    ``first_zero`` pins ``phi_i1 = 0`` (as in every row of Table 6.3)."""

    phi_max: int = PHI_MAX
    first_zero: bool = True

    def a_configs(self) -> list[tuple[str, tuple[int, int, int], int]]:
        """(mapping, A shifts, B shift) of every Topology A node in the space."""
        return [(f, a, b) for f in A_FOURTH_OPS for a, b in self._shifts(3)]  # type: ignore[misc]

    def b_configs(self) -> list[tuple[tuple[int, int], int]]:
        """(A shifts, B shift) of every Topology B node in the space."""
        return list(self._shifts(2))  # type: ignore[arg-type]

    def configs(self, topology: str) -> list:
        """:meth:`a_configs` or :meth:`b_configs`."""
        return self.a_configs() if topology == "A" else self.b_configs()

    def _shifts(self, n_a: int) -> Iterator[tuple[tuple[int, ...], int]]:
        shifts = range(self.phi_max + 1)
        for combo in itertools.product(shifts, repeat=n_a + 1):
            if self.first_zero and combo[0] != 0:
                continue
            yield combo[:n_a], combo[n_a]


_SENTINEL = np.int32(1 << 30)
_HASH_KEYS = np.random.default_rng(0x5EED).integers(1, 2**63, size=(2, 1024),
                                                    dtype=np.int64).astype(np.uint64) | 1


def canonical_sets(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` as sets: sorted, duplicates replaced by a sentinel at the end
    (int32, to halve the memory of the 4-Add enumeration; values must stay below 2^30)."""
    if values.size and int(np.abs(values).max()) >= _SENTINEL:
        raise ValueError(f"coefficients must stay below 2^30, got {int(np.abs(values).max())}")
    rows = values.astype(np.int32)
    rows.sort(axis=1)
    dup = np.zeros(rows.shape, dtype=bool)
    dup[:, 1:] = rows[:, 1:] == rows[:, :-1]
    rows[dup] = _SENTINEL
    rows.sort(axis=1)
    return rows


def set_hashes(canon: np.ndarray) -> np.ndarray:
    """128-bit hash of each canonical row (two random linear hashes mod 2^64), as ``V16``.

    Equal sets hash equally; distinct sets collide with probability about ``2^-64`` per
    pair (both 64-bit halves must agree). Accumulated column by column (no uint64 copy of
    the whole block)."""
    if canon.shape[1] > _HASH_KEYS.shape[1]:
        raise ValueError(f"sets of more than {_HASH_KEYS.shape[1]} values are not supported")
    h = np.zeros((len(canon), 2), dtype=np.uint64)
    for k in range(canon.shape[1]):
        column = canon[:, k].astype(np.int64).astype(np.uint64)
        h[:, 0] += column * _HASH_KEYS[0, k]
        h[:, 1] += column * _HASH_KEYS[1, k]
    return h.view("V16").ravel()


@dataclass
class SetStage:
    """Distinct value sets of one signal over an enumeration space.

    ``values[i]`` holds set ``i`` padded to a common width by repeating its smallest value;
    ``origin[i] = (a set, b set, config)`` is one way to realise it (``-1``: the input x).
    """

    values: np.ndarray
    origin: np.ndarray
    parents: tuple[SetStage, SetStage] | None = None
    topology: Literal["A", "B", "x"] = "x"
    configs: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


def _input_stage() -> SetStage:
    return SetStage(values=np.ones((1, 1), dtype=np.int64),
                    origin=np.full((1, 3), -1, dtype=np.int64))


def _node_values(ops: Sequence[Op], a_shifts: Sequence[int], b_shift: int,
                 sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """Values of one node over all pairs of A and B sets: shape (len(sa)*len(sb), 4*ma*mb)."""
    sa, sb = sa.astype(np.int64), sb.astype(np.int64)
    na, ma = sa.shape
    nb, mb = sb.shape
    b = (sb << b_shift)[None, :, None, :]
    parts = []
    for op in ops:
        v = np.broadcast_to(op.sign_b * b, (na, nb, ma, mb))
        if op.p:
            v = v + op.sign_a * (sa << a_shifts[op.p - 1])[:, None, :, None]
        parts.append(v.reshape(na * nb, ma * mb))
    return np.concatenate(parts, axis=1)


def _node_ops(topology: str, config: tuple) -> tuple[Sequence[Op], Sequence[int], int]:
    if topology == "A":
        fourth, a_shifts, b_shift = config
        return (*A_FIXED_OPS, A_FOURTH_OPS[fourth]), a_shifts, b_shift
    a_shifts, b_shift = config
    return B_OPS, a_shifts, b_shift


def node_output_blocks(topology: str, configs: list, sa: SetStage, sb: SetStage,
                       block_rows: int = 200_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (canonical rows, origin rows) of all node outputs, block by block."""
    step = max(1, block_rows // max(1, len(sb)))
    for ci, config in enumerate(configs):
        ops, a_shifts, b_shift = _node_ops(topology, config)
        for start in range(0, len(sa), step):
            chunk = sa.values[start:start + step]
            vals = _node_values(ops, a_shifts, b_shift, chunk, sb.values)
            ia = np.repeat(np.arange(start, start + len(chunk)), len(sb))
            ib = np.tile(np.arange(len(sb)), len(chunk))
            origin = np.stack([ia, ib, np.full_like(ia, ci)], axis=1)
            yield canonical_sets(vals), origin


def combine(topology: Literal["A", "B"], sa: SetStage, sb: SetStage, space: ShiftSpace,
            keep_values: bool = True, block_rows: int = 200_000,
            progress: Callable[[int, int], None] | None = None) -> SetStage:
    """Distinct output sets of a node whose A and B inputs range over ``sa`` and ``sb``.

    Exact for RCCMs whose nodes have independent selects (no node output feeds two nodes):
    the output set then depends only on the input *sets*, so distinct intermediate sets are
    enumerated instead of raw configurations. With ``keep_values=False`` only the hashes
    and origins are kept (the final stage of 4-Add, about 16 M candidate sets).
    """
    configs = space.configs(topology)
    hashes, origins, rows = [], [], []
    total = len(configs) * len(sa) * len(sb)
    done = 0
    for canon, origin in node_output_blocks(topology, configs, sa, sb, block_rows):
        h = set_hashes(canon)
        h, first = np.unique(h, return_index=True)
        hashes.append(h)
        origins.append(origin[first])
        if keep_values:
            rows.append(canon[first])
        done += len(canon)
        if progress is not None:
            progress(done, total)
    h_all = np.concatenate(hashes)
    _, first = np.unique(h_all, return_index=True)
    origin_all = np.concatenate(origins)[first]
    if keep_values:
        canon_all = np.concatenate(rows)[first]  # one node: every block has the same width
        n_distinct = int((canon_all != _SENTINEL).sum(axis=1).max())
        canon_all = canon_all[:, :n_distinct]
        values = np.where(canon_all == _SENTINEL, canon_all[:, :1], canon_all)
    else:
        values = np.zeros((len(first), 0), dtype=np.int64)
    return SetStage(values=values, origin=origin_all, parents=(sa, sb), topology=topology,
                    configs=configs)


@dataclass
class Enumeration:
    """All distinct coefficient sets of one architecture over a shift space."""

    n_add: int
    space: ShiftSpace
    stages: list[SetStage]

    @property
    def count(self) -> int:
        """Number of distinct coefficient sets (the quantity of Table 6.1)."""
        return len(self.stages[-1])

    def circuit(self, i: int) -> Rccm:
        """An RCCM that realises distinct set ``i`` (rebuilt from the stored origins)."""
        nodes: list[Node] = []

        def build(stage: SetStage, idx: int) -> int:
            if stage.parents is None:
                return 0
            a_idx, b_idx, ci = (int(v) for v in stage.origin[idx])
            a_src = build(stage.parents[0], a_idx)
            b_src = build(stage.parents[1], b_idx)
            config = stage.configs[ci]
            if stage.topology == "A":
                nodes.append(a_node(*config, a_src=a_src, b_src=b_src))
            else:
                nodes.append(b_node(*config, a_src=a_src, b_src=b_src))
            return len(nodes)

        build(self.stages[-1], i)
        return Rccm(tuple(nodes), name=f"rccm{self.n_add}_{i}")

    def coefficient_sets(self) -> list[np.ndarray]:
        """The distinct sets, ascending values each (needs the values of the last stage)."""
        last = self.stages[-1]
        if last.values.shape[1] == 0:
            raise ValueError("this enumeration kept only hashes; re-run with keep_values=True")
        return [np.unique(row) for row in last.values]


def _named(progress: Callable[[str, int, int], None] | None,
           name: str) -> Callable[[int, int], None] | None:
    """A stage's ``(done, total)`` callback that reports under ``name``."""
    return None if progress is None else (lambda done, total: progress(name, done, total))


def final_node_inputs(n_add: int, space: ShiftSpace,
                      progress: Callable[[str, int, int], None] | None = None
                      ) -> tuple[Literal["A", "B"], SetStage, SetStage, list[SetStage]]:
    """(topology, A-input sets, B-input sets, enumerated stages) of the output node.

    Stages follow ``WIRING``: the first-stage Topology A sets from ``(x, x)``, then the
    output node is Topology B over (first, x) for 2-Add, over pairs of first-stage sets for
    3-Add, and (4-Add) over the Topology A sets of pairs with ``x``.
    """
    _wiring(n_add)
    x = _input_stage()
    first = combine("A", x, x, space, progress=_named(progress, "A(x, x)"))
    if n_add == 2:
        return "B", first, x, [first]
    if n_add == 3:
        return "B", first, first, [first]
    third = combine("A", first, first, space, progress=_named(progress, "A(n1, n2)"))
    return "B", third, x, [first, third]


def enumerate_rccm(n_add: int, space: ShiftSpace | None = None, keep_values: bool = True,
                   progress: Callable[[str, int, int], None] | None = None) -> Enumeration:
    """Enumerate every distinct coefficient set of the ``n_add``-adder RCCM of Fig. 6.4
    (stages: :func:`final_node_inputs`). Memory stays bounded by working in blocks."""
    space = space or ShiftSpace()
    topology, sa, sb, stages = final_node_inputs(n_add, space, progress)
    name = {2: "B(n1, x)", 3: "B(n1, n2)", 4: "B(n3, x)"}[n_add]
    last = combine(topology, sa, sb, space, keep_values, progress=_named(progress, name))
    return Enumeration(n_add=n_add, space=space, stages=[*stages, last])
