#!/usr/bin/env python3
"""Prototype enumeration of AddNet RCCM coefficient sets (thesis ch. 6, Tables 6.1-6.3).

Model (see NOTES.md for justification):
  * Topology A node: out = op_sigma(s)(A_p, B1); A_p = src_A << phi_p (p=1..3), A4 = 0,
    B1 = src_B << phi_4.  sigma(s) = [A1+B1, A2+B1, A3+B1, X] with X one of the 4
    mapping functions {B1, -A1+B1, -A2+B1, -A3+B1}.
  * Topology B node: out = op(A_p, B1), A_p = src_A << phi_p (p=1,2), B1 = src_B << phi_3,
    ops = [-A1+B1, -A2+B1, A1-B1, A2-B1]  ("fix": s1 is a sign bit), or the literal
    Table 6.3 text [-A1+B1, A2+B1, A1-B1, A2-B1] ("table").
  * Wiring (found by matching Table 6.2 with the Table 6.3 parameters):
      2-Add: n1 = A(x, x);              y = B(A=n1, B=x)
      3-Add: n1 = A(x, x); n2 = A(x, x); y = B(A=n1, B=n2)
      4-Add: n1 = A(x, x); n2 = A(x, x); n3 = A(A=n1, B=n2); y = B(A=n3, B=x)
Because the select bits of different nodes are independent, a node's set of output values
depends only on the sets (or multisets) of its input values, so we enumerate distinct
intermediate sets instead of full configurations.
"""
import itertools
import sys
import time

import numpy as np

PHI_MAX = 3
SH = range(PHI_MAX + 1)

A_FOURTH = {'B1': (0, 0, 1), '-A1+B1': (-1, 1, 1), '-A2+B1': (-1, 2, 1), '-A3+B1': (-1, 3, 1)}
B_OPS = {
    'fix': [(-1, 1, 1), (-1, 2, 1), (1, 1, -1), (1, 2, -1)],
    'table': [(-1, 1, 1), (1, 2, 1), (1, 1, -1), (1, 2, -1)],
}

T62 = {
    2: [0, 1, 2, 8, 28, 36, 44, 92],
    3: [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 14, 16, 23, 29, 30, 32, 63, 69, 70, 72, 87, 93,
        94, 96, 119, 125, 126, 128],
    4: [0, 1, 2, 4, 5, 7, 8, 9, 11, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
        29, 30, 31, 32, 33, 34, 36, 37, 38, 39, 40, 46, 48, 54, 58, 64, 69, 70, 71, 74, 75, 76,
        78, 80, 81, 82, 84, 85, 87, 94, 96, 102, 114, 118, 126, 134, 142, 150, 166, 174, 182,
        190, 194, 198, 206, 214, 222, 230, 238, 246, 258, 262, 270, 278, 286, 302, 310, 318,
        326, 334, 382, 398, 446, 450, 526, 566, 574, 582, 614, 622, 654, 662, 670, 686, 694,
        710, 766, 782, 830, 1214],
}
# Table 6.3 rows: (fourth op, [phi1..phi3 of A_p], phi of B1)
T63 = {
    2: dict(A=[('B1', (0, 1, 3), 2)], B=((0, 3), 2)),
    3: dict(A=[('-A2+B1', (0, 2, 3), 3), ('-A1+B1', (0, 1, 3), 0)], B=((0, 3), 0)),
    4: dict(A=[('-A3+B1', (0, 1, 3), 0), ('-A2+B1', (0, 1, 3), 1), ('-A1+B1', (0, 1, 3), 3)],
            B=((0, 3), 1)),
}


# ----------------------------------------------------------------- shift spaces
def a_shift_space(mode):
    """Yield (phiA1, phiA2, phiA3, phiB1) for a topology-A node."""
    for p in itertools.product(SH, repeat=4):
        a, bsh = p[:3], p[3]
        if mode == 'all':
            pass
        elif mode == 'p1zero':           # phi_1 = 0 (as in every row of Table 6.3)
            if a[0] != 0:
                continue
        elif mode == 'p1zero_asc':       # 0 = phi1 < phi2 < phi3
            if not (a[0] == 0 and a[0] < a[1] < a[2]):
                continue
        elif mode == 'asc':              # phi1 < phi2 < phi3 (any start)
            if not (a[0] < a[1] < a[2]):
                continue
        elif mode == 'minzero':          # min over all 4 shifts is 0 (global shift removed)
            if min(p) != 0:
                continue
        elif mode == 'amin0':            # min over A shifts is 0
            if min(a) != 0:
                continue
        elif mode == 'distinct':          # A-shifts pairwise distinct
            if len(set(a)) != 3:
                continue
        elif mode == 'p1zero_distinct':
            if a[0] != 0 or len(set(a)) != 3:
                continue
        else:
            raise ValueError(mode)
        yield a, bsh


def b_shift_space(mode):
    """Yield ((phiA1, phiA2), phiB1) for a topology-B node."""
    for p in itertools.product(SH, repeat=3):
        a, bsh = p[:2], p[2]
        if mode == 'all':
            pass
        elif mode == 'p1zero':
            if a[0] != 0:
                continue
        elif mode == 'fixed03':          # phi1 = 0, phi2 = 3 (as in all rows of Table 6.3)
            if a != (0, 3):
                continue
        elif mode == 'p1zero_asc':
            if not (a[0] == 0 and a[1] > 0):
                continue
        elif mode == 'asc':
            if not a[0] < a[1]:
                continue
        elif mode == 'minzero':
            if min(p) != 0:
                continue
        elif mode == 'distinct':
            if a[0] == a[1]:
                continue
        else:
            raise ValueError(mode)
        yield a, bsh


# ----------------------------------------------------------------- node evaluation
def node_vals(ops, SA, SB, ash, bsh, multiset):
    """SA, SB: tuple of values (multiset) or frozenset; returns same kind."""
    out = []
    for sa, p, sb in ops:
        for a in SA:
            av = 0 if p == 0 else sa * (a << ash[p - 1])
            for b in SB:
                out.append(av + sb * (b << bsh))
    if multiset:
        return tuple(sorted(out))
    return frozenset(out)


def a_ops(fourth):
    return [(1, 1, 1), (1, 2, 1), (1, 3, 1), A_FOURTH[fourth]]


def canon(S, setdef):
    """Canonical key of a final coefficient set."""
    if setdef in ('set', 'multiset'):
        return S
    if setdef in ('set_norm', 'multiset_norm'):   # divide out common power of two
        vals = [v for v in S if v != 0]
        if not vals:
            return S
        k = 0
        while all(((v >> (k + 1)) << (k + 1)) == v for v in vals):
            k += 1
        if setdef == 'set_norm':
            return frozenset(v >> k for v in S)
        return tuple(sorted(v >> k for v in S))
    if setdef == 'abs':                   # set of magnitudes
        return frozenset(abs(v) for v in S)
    raise ValueError(setdef)


def filter_ok(S, filt):
    if filt == 'none':
        return True
    if filt == 'haszero':
        return 0 in S
    if filt == 'nozero':
        return 0 not in S
    if filt == 'nodup':                   # all 2^ws values distinct (multiset only)
        return len(set(S)) == len(S)
    raise ValueError(filt)


# ----------------------------------------------------------------- enumeration
def first_stage_sets(amode, maps, multiset):
    x = (1,) if multiset else frozenset([1])
    res = set()
    for f in maps:
        ops = a_ops(f)
        for ash, bsh in a_shift_space(amode):
            res.add(node_vals(ops, x, x, ash, bsh, multiset))
    return res


def enum_2add(amode='p1zero', bmode='all', bops='fix', setdef='set', filt='none',
              maps=tuple(A_FOURTH)):
    multiset = setdef.startswith('multiset')
    x = (1,) if multiset else frozenset([1])
    U = first_stage_sets(amode, maps, multiset)
    out = set()
    for S1 in U:
        for ash, bsh in b_shift_space(bmode):
            y = node_vals(B_OPS[bops], S1, x, ash, bsh, multiset)
            if filter_ok(y, filt):
                out.add(canon(y, setdef))
    return len(out), len(U)


def enum_3add(amode='p1zero', bmode='all', bops='fix', setdef='set', filt='none',
              maps=tuple(A_FOURTH)):
    multiset = setdef.startswith('multiset')
    U = sorted(first_stage_sets(amode, maps, multiset), key=lambda s: sorted(s))
    bsp = list(b_shift_space(bmode))
    out = set()
    for S1 in U:
        for S2 in U:
            for ash, bsh in bsp:
                y = node_vals(B_OPS[bops], S1, S2, ash, bsh, multiset)
                if filter_ok(y, filt):
                    out.add(canon(y, setdef))
    return len(out), len(U)


# ----------------------------------------------------------------- checks
def check_table62(bops='fix'):
    """Evaluate the Table 6.3 configurations and compare against Table 6.2."""
    res = {}
    x = frozenset([1])
    p = T63[2]
    (f, ash, bsh) = p['A'][0]
    n1 = node_vals(a_ops(f), x, x, ash, bsh, False)
    y2 = node_vals(B_OPS[bops], n1, x, p['B'][0], p['B'][1], False)
    p = T63[3]
    n = [node_vals(a_ops(f), x, x, a, b, False) for (f, a, b) in p['A']]
    y3 = node_vals(B_OPS[bops], n[0], n[1], p['B'][0], p['B'][1], False)
    p = T63[4]
    n1 = node_vals(a_ops(p['A'][0][0]), x, x, p['A'][0][1], p['A'][0][2], False)
    n2 = node_vals(a_ops(p['A'][1][0]), x, x, p['A'][1][1], p['A'][1][2], False)
    n3 = node_vals(a_ops(p['A'][2][0]), n1, n2, p['A'][2][1], p['A'][2][2], False)
    y4 = node_vals(B_OPS[bops], n3, x, p['B'][0], p['B'][1], False)
    for k, y in ((2, y2), (3, y3), (4, y4)):
        tgt = set(T62[k]) | {-v for v in T62[k]}
        res[k] = (set(y) == tgt, len(y), len(tgt))
    return res



def _canon_rows(D, setdef):
    """D: (n, m) int64 array of the d-values; the full coefficient multiset is {d, -d}.
    Returns an iterable of hashable canonical keys, one per row."""
    A = np.sort(np.abs(D), axis=1)
    if setdef.endswith('norm'):
        # divide each row by the largest power of two dividing all its entries
        orr = np.bitwise_or.reduce(A, axis=1)
        orr[orr == 0] = 1
        tz = np.zeros_like(orr)
        tmp = orr.copy()
        while True:
            m = (tmp & 1) == 0
            if not m.any():
                break
            tz[m] += 1
            tmp[m] >>= 1
        A = A >> tz[:, None]
    if setdef.startswith('set'):
        dup = np.zeros_like(A, dtype=bool)
        dup[:, 1:] = A[:, 1:] == A[:, :-1]
        A = np.where(dup, np.int64(1 << 40), A)
        A = np.sort(A, axis=1)
    return [r.tobytes() for r in A]


def enum_np(n_add, amode, bmode, setdef):
    """Vectorised count for 2-Add / 3-Add with the 'fix' B mapping (symmetric sets).
    Equivalent to enum_2add/enum_3add for bops='fix'."""
    ms = setdef.startswith('multiset')
    U = first_stage_sets(amode, tuple(A_FOURTH), ms)
    # pad each first-stage (multi)set to 4 values (repeat an element; harmless for 'set')
    rows = []
    for S in U:
        v = sorted(S)
        rows.append((v * 4)[:4])
    S1 = np.array(rows, dtype=np.int64)                       # (n, 4)
    S2 = np.array([[1, 1, 1, 1]], dtype=np.int64) if n_add == 2 else S1
    if n_add == 2:
        S2 = np.array([[1]], dtype=np.int64)
    out = set()
    for (p1, p2), pb in b_shift_space(bmode):
        a1 = (S1 << p1)[:, None, :, None]
        a2 = (S1 << p2)[:, None, :, None]
        b = (S2 << pb)[None, :, None, :]
        D = np.concatenate([(a1 - b).reshape(len(S1), len(S2), -1),
                            (a2 - b).reshape(len(S1), len(S2), -1)], axis=2)
        D = D.reshape(len(S1) * len(S2), -1)
        out.update(_canon_rows(D, setdef))
    return len(out), len(U)


VARIANTS = [
    # (label, amode, bmode, setdef)
    ('all shifts free, set', 'all', 'all', 'set'),
    ('all shifts free, set /2^k', 'all', 'all', 'set_norm'),
    ('all shifts free, multiset', 'all', 'all', 'multiset'),
    ('phi_1=0 (A,B), set', 'p1zero', 'p1zero', 'set'),
    ('phi_1=0 (A,B), set /2^k', 'p1zero', 'p1zero', 'set_norm'),
    ('phi_1=0 (A,B), multiset', 'p1zero', 'p1zero', 'multiset'),
    ('phi_1=0 A; B free, set', 'p1zero', 'all', 'set'),
    ('A 0=phi1<phi2<phi3; B phi1<phi2, set', 'p1zero_asc', 'asc', 'set'),
    ('A 0=phi1<phi2<phi3; B phi1<phi2, multiset', 'p1zero_asc', 'asc', 'multiset'),
    ('A 0=phi1<phi2<phi3; B phi1=0<phi2, set', 'p1zero_asc', 'p1zero_asc', 'set'),
    ('phi_1=0 A; B (0,3) fixed, set', 'p1zero', 'fixed03', 'set'),
    ('min over A shifts 0; B phi1=0, set', 'amin0', 'p1zero', 'set'),
]

if __name__ == '__main__':
    for bops in ('fix', 'table'):
        print('Table 6.2 realisable with Table 6.3 params, B ops =', bops, check_table62(bops))
    do3 = '--no3' not in sys.argv
    print('\nthesis: 2-Add 1145, 3-Add 44198, 4-Add 4040952')
    print(f"{'variant (A shifts; B shifts; set def)':<45} {'2-Add':>8} {'3-Add':>8} {'sec':>6}")
    for label, am, bm, sd in VARIANTS:
        t = time.time()
        c2, _ = enum_np(2, am, bm, sd)
        c3 = enum_np(3, am, bm, sd)[0] if do3 else '-'
        print(f"{label:<45} {c2!s:>8} {c3!s:>8} {time.time() - t:6.1f}", flush=True)
