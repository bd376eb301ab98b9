"""The JSC substructure features (hwnn.data.jsc_features) on hand-made particle sets whose
values are known in closed form, invariances, and C/A clustering against FastJet."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.data.jsc_features import (
    FEATURES,
    ca_cluster,
    correlators,
    delta_r,
    groomed_features,
    jet_features,
    pt_y_phi,
    soft_drop,
)

F = {name: k for k, name in enumerate(FEATURES)}


def massless(pt: list[float], y: list[float], phi: list[float]) -> np.ndarray:
    """Massless four-momenta (px, py, pz, E) from pT, rapidity and azimuth."""
    pt_a, y_a, phi_a = (np.asarray(v, dtype=np.float64) for v in (pt, y, phi))
    return np.stack([pt_a * np.cos(phi_a), pt_a * np.sin(phi_a), pt_a * np.sinh(y_a),
                     pt_a * np.cosh(y_a)], axis=1)


def test_sixteen_features_in_hls4ml_order() -> None:
    assert len(FEATURES) == 16 and len(set(FEATURES)) == 16
    assert FEATURES[0] == "j_zlogz" and FEATURES[-2:] == ("j_mass_mmdt", "j_multiplicity")


def test_kinematics_round_trip() -> None:
    p = massless([100.0, 50.0], [0.3, -1.2], [0.1, 3.0])
    pt, y, phi = pt_y_phi(p)
    np.testing.assert_allclose(pt, [100.0, 50.0])
    np.testing.assert_allclose(y, [0.3, -1.2])
    np.testing.assert_allclose(phi, [0.1, 3.0])
    # Δφ wraps: 3.1 and -3.1 are 2π - 6.2 apart
    assert delta_r(np.zeros(2), np.array([3.1, -3.1]))[0, 1] == pytest.approx(2 * math.pi - 6.2)


def test_two_particles() -> None:
    """Two massless particles: m^2 = 2 pT1 pT2 (cosh Δy − cos Δφ), e2 = z1 z2 θ^β, e3 = 0."""
    pt1, pt2, dy, dphi = 300.0, 100.0, 0.3, 0.4
    p = massless([pt1, pt2], [0.0, dy], [0.0, dphi])
    f = groomed_features(p)
    theta = math.hypot(dy, dphi)
    z1, z2 = 0.75, 0.25
    assert f[F["j_mass_mmdt"]] == pytest.approx(
        math.sqrt(2 * pt1 * pt2 * (math.cosh(dy) - math.cos(dphi))))
    assert f[F["j_multiplicity"]] == 2
    assert f[F["j_zlogz"]] == pytest.approx(z1 * math.log(z1) + z2 * math.log(z2))
    assert f[F["j_c1_b0_mmdt"]] == pytest.approx(z1 * z2)
    assert f[F["j_c1_b1_mmdt"]] == pytest.approx(z1 * z2 * theta)
    assert f[F["j_c1_b2_mmdt"]] == pytest.approx(z1 * z2 * theta ** 2)
    for name in FEATURES[4:14]:  # every 3-point ratio vanishes
        assert f[F[name]] == 0.0, name


def test_equilateral_triangle() -> None:
    """Three equal-pT particles on an equilateral triangle of side d in (y, φ):
    e2 = d^β/3, e3 = d^3β/27, so C2 = d^β/3, D2 = 1, M2 = 1/9, N2 = 1/3 for any β and
    D2^(1,2) = (d^3/27)/(d^2/3)^(3/2) = 3^1.5/27."""
    d = 0.3
    p = massless([200.0] * 3, [0.0, d, d / 2], [0.0, 0.0, d * math.sqrt(3) / 2])
    f = groomed_features(p)
    assert f[F["j_c1_b0_mmdt"]] == pytest.approx(1 / 3)
    for beta in (1, 2):
        assert f[F[f"j_c1_b{beta}_mmdt"]] == pytest.approx(d ** beta / 3)
        assert f[F[f"j_c2_b{beta}_mmdt"]] == pytest.approx(d ** beta / 3)
        assert f[F[f"j_d2_b{beta}_mmdt"]] == pytest.approx(1.0)
        assert f[F[f"j_m2_b{beta}_mmdt"]] == pytest.approx(1 / 9)
        assert f[F[f"j_n2_b{beta}_mmdt"]] == pytest.approx(1 / 3)
    assert f[F["j_d2_a1_b1_mmdt"]] == pytest.approx(1.0)
    assert f[F["j_d2_a1_b2_mmdt"]] == pytest.approx(3 ** 1.5 / 27)
    assert f[F["j_zlogz"]] == pytest.approx(-math.log(3))


def test_generalised_correlators_pick_the_smallest_angles() -> None:
    """One triple with angles 0.1 < 0.2 < 0.25: 1e3 takes 0.1^β, 2e3 takes (0.1·0.2)^β."""
    theta = np.array([[0, 0.1, 0.2], [0.1, 0, 0.25], [0.2, 0.25, 0]])
    z = np.array([0.5, 0.3, 0.2])
    e = correlators(z, theta, betas=(1.0, 2.0))
    for beta in (1.0, 2.0):
        assert e["1e3"][beta] == pytest.approx(0.03 * 0.1 ** beta)
        assert e["2e3"][beta] == pytest.approx(0.03 * (0.1 * 0.2) ** beta)
        assert e["e3"][beta] == pytest.approx(0.03 * (0.1 * 0.2 * 0.25) ** beta)
        assert e["e2"][beta] == pytest.approx(
            0.15 * 0.1 ** beta + 0.1 * 0.2 ** beta + 0.06 * 0.25 ** beta)


def test_soft_drop_removes_soft_wide_angle_radiation() -> None:
    """Two hard prongs (400 and 300 GeV, ΔR 0.4) and a 10 GeV particle 0.7 away: C/A merges
    the prongs first, the first declustering has z = 10/710 < 0.1 (dropped), the second
    z = 3/7 > 0.1 (kept), so the groomed jet is the two prongs."""
    p = massless([400.0, 300.0, 10.0], [0.0, 0.4, -0.5], [0.0, 0.0, 0.4])
    kept = soft_drop(p)
    assert kept.tolist() == [0, 1]
    f = jet_features(p)
    np.testing.assert_allclose(f, groomed_features(p[:2]))


def test_soft_drop_can_groom_to_one_particle() -> None:
    """A 1 TeV particle with a 50 GeV one beside it: z = 50/1050 < 0.1, one particle left."""
    p = massless([1000.0, 50.0], [0.0, 0.2], [0.0, 0.1])
    assert soft_drop(p).tolist() == [0]
    f = jet_features(p)
    assert f[F["j_multiplicity"]] == 1 and f[F["j_mass_mmdt"]] == pytest.approx(0.0, abs=1e-6)
    assert np.all(f[1:14] == 0.0)  # no pair: every correlator and ratio is 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N >= 1, 4\)"):
        jet_features(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"\(N >= 1, 4\)"):
        jet_features(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no transverse momentum"):
        groomed_features(np.array([[0.0, 0.0, 10.0, 10.0]]))


def random_jet(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pt = rng.exponential(30.0, n) + 0.5
    y = rng.normal(0.0, 0.25, n)
    phi = rng.normal(0.0, 0.25, n)
    p = massless(pt.tolist(), y.tolist(), phi.tolist())
    p[:, 3] += rng.uniform(0.0, 0.5, n)  # small masses
    return p


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 25),
       shift_y=st.floats(-2.0, 2.0), rot=st.floats(-math.pi, math.pi))
def test_features_invariant_under_boost_rotation_and_order(seed: int, n: int, shift_y: float,
                                                          rot: float) -> None:
    """A longitudinal boost (rapidity + shift_y), an azimuthal rotation and a reordering
    of the constituents leave every feature unchanged."""
    p = random_jet(seed, n)
    ch, sh = math.cosh(shift_y), math.sinh(shift_y)
    c, s = math.cos(rot), math.sin(rot)
    q = np.stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1],
                  ch * p[:, 2] + sh * p[:, 3], sh * p[:, 2] + ch * p[:, 3]], axis=1)
    q = q[np.random.default_rng(seed + 1).permutation(n)]
    np.testing.assert_allclose(jet_features(q), jet_features(p), rtol=1e-7, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 20), beta=st.sampled_from([0.5, 1.0, 2.0]))
def test_e3_equals_trace_formula(seed: int, n: int, beta: float) -> None:
    """With θ_ii = 0 and β > 0, e3 = tr((diag(z) θ^β)^3)/6, an independent route."""
    p = random_jet(seed, n)
    pt, y, phi = pt_y_phi(p)
    z = pt / pt.sum()
    theta = delta_r(y, phi)
    za = np.diag(z) @ theta ** beta
    e = correlators(z, theta, betas=(beta,))
    assert e["e3"][beta] == pytest.approx(np.trace(za @ za @ za) / 6, rel=1e-9)
    assert e["e2"][beta] == pytest.approx(z @ theta ** beta @ z / 2, rel=1e-9)


def test_ca_merge_distances_match_fastjet() -> None:
    """Our C/A history merges at the same ΔR^2 as FastJet's (exclusive_dmerge = ΔR^2/R^2)."""
    fastjet = pytest.importorskip("fastjet")
    for seed in range(5):
        p = random_jet(seed, 30)
        tree = ca_cluster(p)
        radius = 10.0
        cs = fastjet.ClusterSequence([fastjet.PseudoJet(*map(float, row)) for row in p],
                                     fastjet.JetDefinition(fastjet.cambridge_algorithm, radius))
        n = len(p)
        theirs = [cs.exclusive_dmerge(m) * radius ** 2 for m in range(n - 1, 0, -1)]
        np.testing.assert_allclose(tree.merge_dr2, theirs, rtol=1e-9)
