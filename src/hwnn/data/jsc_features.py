"""The 16 jet-substructure features of the hls4ml jet data set, computed from constituents.

Pure numpy (no FastJet needed): a jet is an ``(N, 4)`` array of constituent four-momenta
``(px, py, pz, E)`` in GeV. :func:`jet_features` grooms it with soft drop and returns the
features of the groomed jet in :data:`FEATURES` order (the hls4ml names, ``j_*_mmdt``).

Kinematics (hadron-collider conventions, as FastJet's ``pt_R`` energy-correlator measure):
``pT = sqrt(px^2 + py^2)``, rapidity ``y = ½ ln((E + pz)/(E − pz))``, ``φ = atan2(py, px)``,
``θ_ij = ΔR_ij = sqrt((y_i − y_j)^2 + Δφ_ij^2)`` with ``Δφ`` wrapped into ``(−π, π]``, and
momentum fractions ``z_i = pT_i / Σ_k pT_k`` (scalar sum over the groomed jet's constituents).

Grooming — soft drop (Larkoski, Marzani, Soyez, Thaler, JHEP 05 (2014) 146, eq. 2.1) with
``β = 0``, which is the modified mass-drop tagger mMDT (Dasgupta, Fregoso, Marzani, Salam,
JHEP 09 (2013) 029) without a mass-drop condition: recluster the constituents with the
Cambridge/Aachen algorithm (repeatedly merge the pair with the smallest ``ΔR``, E-scheme
four-vector sums; :func:`ca_cluster`), then undo the last merging ``j → j1 + j2`` and keep
``j`` if ``min(pT1, pT2)/(pT1 + pT2) > z_cut (ΔR_12/R0)^β``, else continue with the harder
branch (larger pT). ``z_cut = 0.1``, ``R0 = 0.8``. A jet groomed down to one particle is
that particle.

Features of the groomed jet (``e_n`` are the normalised energy correlation functions):

* ``j_mass_mmdt``: invariant mass ``sqrt(max(0, (Σ E)^2 − |Σ p|^2))``.
* ``j_multiplicity``: number of constituents.
* ``j_zlogz``: ``Σ_i z_i ln z_i``.
* ``e_2^(β) = Σ_{i<j} z_i z_j θ_ij^β`` and ``e_3^(β) = Σ_{i<j<k} z_i z_j z_k
  (θ_ij θ_ik θ_jk)^β`` (Larkoski, Salam, Thaler, JHEP 06 (2013) 108, eqs. 2.5-2.7 with the
  hadron-collider measure, normalised by ``(Σ pT)^N``).
* ``C_1^(β) = e_2^(β)`` and ``C_2^(β) = e_3^(β) / (e_2^(β))^2`` (same paper, eq. 2.10:
  ``C_N = ECF(N+1) ECF(N−1) / ECF(N)^2`` with ``ECF(0) = 1``) for β = 0, 1, 2 and 1, 2.
* ``D_2^(β) = e_3^(β) / (e_2^(β))^3`` (Larkoski, Moult, Neill, JHEP 12 (2014) 009, eq. 3.10)
  for β = 1, 2, and ``D_2^(α,β) = e_3^(α) / (e_2^(β))^(3α/β)`` (Larkoski, Moult, Neill, JHEP
  05 (2016) 117, eq. 2.4) for (α, β) = (1, 1) and (1, 2). ``D_2^(1,1)`` equals ``D_2^(1)`` by
  definition; the hls4ml set carries both.
* Generalised correlators (Moult, Necib, Thaler, JHEP 12 (2016) 153, eq. 2.2):
  ``_v e_3^(β) = Σ_{i<j<k} z_i z_j z_k Π_{m=1..v} min^(m){θ_ij, θ_ik, θ_jk}^β``, the product
  of the ``v`` smallest of the three pairwise angles, and ``_1 e_2^(β) = e_2^(β)``;
  ``M_2^(β) = _1e_3^(β) / _1e_2^(β)`` and ``N_2^(β) = _2e_3^(β) / (_1e_2^(β))^2`` (eqs.
  3.1, 3.3) for β = 1, 2.

A ratio whose denominator is 0 (a groomed jet of one particle, or of coincident particles) is
reported as 0. ``θ^0 = 1`` for every pair, so ``C_1^(0) = Σ_{i<j} z_i z_j``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

#: The hls4ml jet-tagging features, in the order of the hls4ml/LogicNets input lists.
FEATURES: tuple[str, ...] = (
    "j_zlogz",
    "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt",
    "j_c2_b1_mmdt", "j_c2_b2_mmdt",
    "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt", "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt",
    "j_mass_mmdt", "j_multiplicity",
)
Z_CUT = 0.1
SOFT_DROP_BETA = 0.0
R0 = 0.8


def pt_y_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, rapidity and azimuth of ``(N, 4)`` four-momenta
    ``(px, py, pz, E)``. A particle with ``E <= |pz|`` (only possible through rounding for
    a physical momentum) gets the rapidity of ``E = |pz| + 1e-12``."""
    p = np.asarray(p, dtype=np.float64)
    px, py, pz, e = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    pt = np.hypot(px, py)
    e_safe = np.maximum(e, np.abs(pz) + 1e-12)
    y = 0.5 * np.log((e_safe + pz) / (e_safe - pz))
    return pt, y, np.arctan2(py, px)


def delta_r(y: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Pairwise ``ΔR`` matrix from rapidities and azimuths (``Δφ`` wrapped to ``[0, π]``)."""
    dphi = np.abs(phi[:, None] - phi[None, :])
    dphi = np.where(dphi > math.pi, 2 * math.pi - dphi, dphi)
    return np.hypot(y[:, None] - y[None, :], dphi)


def invariant_mass(p: np.ndarray) -> float:
    """``sqrt(max(0, E^2 − |p|^2))`` of the summed four-momentum of ``(N, 4)`` rows."""
    px, py, pz, e = np.asarray(p, dtype=np.float64).sum(axis=0)
    return math.sqrt(max(0.0, e * e - px * px - py * py - pz * pz))


@dataclass(frozen=True)
class ClusterTree:
    """A Cambridge/Aachen clustering history. Nodes ``0..N-1`` are the particles, node
    ``N + k`` the ``k``-th merging; ``children[n]`` is ``(a, b)`` or ``(-1, -1)`` for a
    particle, ``momenta[n]`` its four-momentum, ``merge_dr2[k]`` the ``ΔR^2`` of merging
    ``k``. The root is the last node."""

    momenta: np.ndarray
    children: np.ndarray
    merge_dr2: np.ndarray

    @property
    def root(self) -> int:
        return len(self.momenta) - 1

    def leaves(self, node: int) -> list[int]:
        """The particle indices under ``node``."""
        n_particles = (len(self.momenta) + 1) // 2
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            if n < n_particles:
                out.append(n)
            else:
                stack.extend(int(c) for c in self.children[n])
        return sorted(out)


def ca_cluster(p: np.ndarray) -> ClusterTree:
    """Cluster all of ``(N, 4)`` into one jet with the Cambridge/Aachen algorithm
    (Dokshitzer et al. 1997; Wobisch, Wengler 1998): repeatedly merge the two pseudojets with
    the smallest ``ΔR^2`` in (y, φ), summing four-momenta (E-scheme), until one is left (no
    radius: the whole input is one jet, as soft drop reclusters). O(N^3) with numpy; meant
    for single jets (tens to a few hundred constituents)."""
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    if n == 0:
        raise ValueError("cannot cluster an empty jet")
    momenta = np.zeros((2 * n - 1, 4))
    momenta[:n] = p
    children = np.full((2 * n - 1, 2), -1, dtype=np.int64)
    merge_dr2 = np.zeros(n - 1)
    node = np.arange(n)  # slot -> tree node currently held there
    active = np.ones(n, dtype=bool)
    _, y, phi = pt_y_phi(p)
    d2 = delta_r(y, phi) ** 2
    np.fill_diagonal(d2, np.inf)
    for k in range(n - 1):
        i, j = sorted(np.unravel_index(int(np.argmin(d2)), d2.shape))
        merge_dr2[k] = d2[i, j]
        new = n + k
        momenta[new] = momenta[node[i]] + momenta[node[j]]
        children[new] = (node[i], node[j])
        node[i] = new
        active[j] = False
        d2[j, :] = np.inf
        d2[:, j] = np.inf
        others = np.flatnonzero(active)
        others = others[others != i]
        if len(others):
            _, y_new, phi_new = pt_y_phi(momenta[new][None, :])
            _, y_o, phi_o = pt_y_phi(momenta[node[others]])
            dphi = np.abs(phi_o - phi_new[0])
            dphi = np.where(dphi > math.pi, 2 * math.pi - dphi, dphi)
            row = (y_o - y_new[0]) ** 2 + dphi ** 2
            d2[i, others] = row
            d2[others, i] = row
    return ClusterTree(momenta, children, merge_dr2)


def soft_drop(p: np.ndarray, z_cut: float = Z_CUT, beta: float = SOFT_DROP_BETA,
              r0: float = R0) -> np.ndarray:
    """Indices of the constituents kept by soft drop (module docstring; ``beta = 0`` is
    mMDT): C/A-recluster, then decluster from the root until
    ``min(pT1, pT2)/(pT1 + pT2) > z_cut (ΔR_12/r0)^beta``, following the harder branch."""
    tree = ca_cluster(p)
    n_particles = len(p)
    node = tree.root
    while node >= n_particles:
        a, b = (int(c) for c in tree.children[node])
        pt, y, phi = pt_y_phi(tree.momenta[[a, b]])
        dr = float(delta_r(y, phi)[0, 1])
        if min(pt) / (pt[0] + pt[1]) > z_cut * (dr / r0) ** beta:
            break
        node = a if pt[0] >= pt[1] else b
    return np.asarray(tree.leaves(node), dtype=np.int64)


@functools.lru_cache(maxsize=32)
def _triples(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All index triples ``i < j < k`` below ``n`` as three int32 arrays (lexicographic
    order); cached for 32 jet sizes (6.6 MB at n = 150)."""
    i, j = (a.astype(np.int32) for a in np.triu_indices(n, 1))
    per_pair = n - 1 - j  # how many k > j each pair (i, j) takes
    ii, jj = np.repeat(i, per_pair), np.repeat(j, per_pair)
    start = np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    kk = (jj + 1 + (np.arange(len(ii)) - start)).astype(np.int32)
    return ii, jj, kk


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _pow(x: np.ndarray, beta: float) -> np.ndarray:
    """``x ** beta`` with ``0 ** 0 = 1``, by multiplication for β = 0, 1, 2 (the usual ones)."""
    if beta == 0:
        return np.ones_like(x)
    if beta == 1:
        return x
    if beta == 2:
        return x * x
    return x ** beta


def correlators(z: np.ndarray, theta: np.ndarray,
                betas: tuple[float, ...] = (0.0, 1.0, 2.0)) -> dict[str, dict[float, float]]:
    """``e2``, ``e3``, ``1e3`` and ``2e3`` (module docstring) for each ``β`` in ``betas``,
    from momentum fractions ``z`` and the pairwise angle matrix ``theta``. Per triple the
    smallest angle is ``min`` of the three and the product of the two smallest is the
    product of all three over the largest (0 when the largest is 0, as all three are)."""
    n = len(z)
    iu, ju = np.triu_indices(n, 1)
    zz, th2 = z[iu] * z[ju], theta[iu, ju]
    a, b, c = _triples(n)
    zzz = z[a] * z[b] * z[c]
    t_ab, t_ac, t_bc = theta[a, b], theta[a, c], theta[b, c]
    t_min = np.minimum(np.minimum(t_ab, t_ac), t_bc)
    t_max = np.maximum(np.maximum(t_ab, t_ac), t_bc)
    t_all = t_ab * t_ac * t_bc
    t_two = np.divide(t_all, t_max, out=np.zeros_like(t_all), where=t_max > 0)
    out: dict[str, dict[float, float]] = {"e2": {}, "e3": {}, "1e3": {}, "2e3": {}}
    # np.sum (pairwise, one thread) rather than a BLAS dot: the same bits on every machine
    # and no BLAS threads competing with other jobs
    for beta in betas:
        out["e2"][beta] = float(np.sum(zz * _pow(th2, beta)))
        out["e3"][beta] = float(np.sum(zzz * _pow(t_all, beta)))
        out["1e3"][beta] = float(np.sum(zzz * _pow(t_min, beta)))
        out["2e3"][beta] = float(np.sum(zzz * _pow(t_two, beta)))
    return out


def _jet(p: np.ndarray) -> np.ndarray:
    """``p`` as a float64 ``(N >= 1, 4)`` array of (px, py, pz, E), or ValueError."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 4 or len(p) == 0:
        raise ValueError(f"a jet is an (N >= 1, 4) array of (px, py, pz, E); got {p.shape}")
    return p


def groomed_features(p: np.ndarray) -> np.ndarray:
    """The 16 :data:`FEATURES` of an already groomed jet ``(N, 4)``."""
    p = _jet(p)
    pt, y, phi = pt_y_phi(p)
    total = pt.sum()
    if total <= 0:
        raise ValueError("the jet has no transverse momentum")
    z = pt / total
    e = correlators(z, delta_r(y, phi))
    e2, e3, m3, n3 = e["e2"], e["e3"], e["1e3"], e["2e3"]
    zlogz = float(np.sum(np.where(z > 0, z * np.log(np.where(z > 0, z, 1.0)), 0.0)))
    return np.array([
        zlogz,
        e2[0.0], e2[1.0], e2[2.0],
        _ratio(e3[1.0], e2[1.0] ** 2), _ratio(e3[2.0], e2[2.0] ** 2),
        _ratio(e3[1.0], e2[1.0] ** 3), _ratio(e3[2.0], e2[2.0] ** 3),
        _ratio(e3[1.0], e2[1.0] ** 3), _ratio(e3[1.0], e2[2.0] ** 1.5),
        _ratio(m3[1.0], e2[1.0]), _ratio(m3[2.0], e2[2.0]),
        _ratio(n3[1.0], e2[1.0] ** 2), _ratio(n3[2.0], e2[2.0] ** 2),
        invariant_mass(p), float(len(p)),
    ])


def jet_features(p: np.ndarray, z_cut: float = Z_CUT, beta: float = SOFT_DROP_BETA,
                 r0: float = R0) -> np.ndarray:
    """Soft-drop groom ``(N, 4)`` constituents and return the groomed jet's 16
    :data:`FEATURES` (module docstring)."""
    p = _jet(p)
    return groomed_features(p[soft_drop(p, z_cut, beta, r0)])
