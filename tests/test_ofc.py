"""The simulated OFC (IM/DD PAM4) task: mapping, slicer, BER, channel physics, dataset
contract, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hwnn.data.ofc import (
    LEVELS,
    OFCConfig,
    apply_dispersion,
    apply_linear_ffe,
    ber,
    bits_to_levels,
    cache_path,
    fit_linear_ffe,
    levels_to_bits,
    linear_ffe_ber,
    load_ofc,
    noiseless_samples,
    simulate_split,
    slicer,
    split_symbols,
    symbol_error_rate,
    symbols_to_levels,
    transmit,
)
from hwnn.data.paths import ENV_CACHE_DIR

SMALL = {"n_train": 3000, "n_val": 1000, "n_test": 2000}


def small(**kw: object) -> OFCConfig:
    return OFCConfig(**{**SMALL, **kw})


# -- mapping, slicer, BER ---------------------------------------------------------------------
def test_gray_table() -> None:
    bits = levels_to_bits(LEVELS)
    assert bits.tolist() == [[0, 0], [0, 1], [1, 1], [1, 0]]
    np.testing.assert_array_equal(bits_to_levels(bits), LEVELS)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=200))
@settings(max_examples=50, deadline=None)
def test_gray_round_trip(symbols: list[int]) -> None:
    levels = symbols_to_levels(np.array(symbols))
    assert set(np.unique(levels)) <= set(LEVELS.tolist())
    np.testing.assert_array_equal(bits_to_levels(levels_to_bits(levels)), levels)


@given(st.integers(0, 2))
def test_adjacent_levels_differ_in_one_bit(k: int) -> None:
    a, b = levels_to_bits(LEVELS[k : k + 2])
    assert int(np.sum(a != b)) == 1
    assert ber(LEVELS[k : k + 1], LEVELS[k + 1 : k + 2]) == 0.5  # 1 of 2 bits


def test_slicer_thresholds() -> None:
    y = np.array([-9.0, -2.0001, -2.0, -1e-9, 0.0, 1.9999, 2.0, 9.0, -3, -1, 1, 3])
    expected = [-3, -3, -1, -1, 1, 1, 3, 3, -3, -1, 1, 3]
    assert slicer(y).tolist() == expected
    assert slicer(y).dtype == np.float32
    assert slicer(y.reshape(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match="NaN"):
        slicer(np.array([np.nan]))


def test_ber_hand_examples() -> None:
    true = np.array([-3, -1, 1, 3], dtype=np.float32)
    assert ber(true, true) == 0.0
    assert ber(np.array([-1, -1, 1, 3]), true) == 1 / 8  # 00 vs 01
    assert ber(np.array([1, -1, 1, 3]), true) == 2 / 8  # 00 vs 11
    assert ber(np.array([3, -1, 1, 3]), true) == 1 / 8  # 00 vs 10 (Gray wrap)
    assert ber(np.array([3, 1, -1, -3]), true) == 4 / 8  # each one bit off
    assert symbol_error_rate(np.array([3, 1, -1, -3]), true) == 1.0
    assert symbol_error_rate(np.array([-3, -1, 1, -3]), true) == 0.25
    # unsliced predictions are sliced first
    assert ber(np.array([-2.5, -0.5, 0.4, 2.2]), true) == 0.0
    with pytest.raises(ValueError):
        ber(true[:3], true)
    with pytest.raises(ValueError):
        ber(true[:0], true[:0])


# -- channel physics ------------------------------------------------------------------------
def test_dispersion_is_all_pass_and_zero_length_is_identity() -> None:
    rng = np.random.default_rng(1)
    field = rng.standard_normal(4096) + 1j * rng.standard_normal(4096)
    out = apply_dispersion(field, 448e9, 10.0)
    np.testing.assert_allclose(np.sum(np.abs(out) ** 2), np.sum(np.abs(field) ** 2), rtol=1e-12)
    assert not np.allclose(out, field)
    np.testing.assert_allclose(apply_dispersion(field, 448e9, 0.0), field, atol=1e-12)


def test_dispersion_sign_does_not_change_detected_intensity() -> None:
    cfg = small(length_km=5.0)
    field = transmit(symbols_to_levels(np.random.default_rng(2).integers(0, 4, 512)), cfg)
    assert np.isrealobj(field) and field.min() > 0
    plus = apply_dispersion(field, cfg.sample_rate_hz, 5.0, 17.0)
    minus = apply_dispersion(field, cfg.sample_rate_hz, 5.0, -17.0)
    np.testing.assert_allclose(np.abs(plus) ** 2, np.abs(minus) ** 2, atol=1e-12)


def test_transmit_power_between_p0_and_p1_with_mean_one() -> None:
    cfg = small(extinction_ratio_db=6.0)
    p0, p1 = cfg.power_levels()
    assert p1 / p0 == pytest.approx(10 ** 0.6) and (p0 + p1) / 2 == pytest.approx(1.0)
    power = transmit(symbols_to_levels(np.random.default_rng(3).integers(0, 4, 2048)), cfg) ** 2
    # the sampled Gaussian response is cut at f_s/2: ripple ~1e-7 around the NRZ plateaus
    assert power.min() >= p0 - 1e-5 and power.max() <= p1 + 1e-5
    assert power.mean() == pytest.approx(1.0, abs=0.03)


def test_block_processing_matches_one_long_block() -> None:
    cfg = small(length_km=4.0)
    guard = cfg.guard_symbols()
    levels = symbols_to_levels(np.random.default_rng(4).integers(0, 4, 3000 + 2 * guard))
    one = noiseless_samples(levels, cfg, block_symbols=1 << 13)
    many = noiseless_samples(levels, cfg, block_symbols=8 * guard)  # several blocks
    np.testing.assert_allclose(many, one, atol=1e-10)
    assert one.shape == (3000, cfg.samples_per_symbol)


# -- dataset contract -------------------------------------------------------------------------
def test_dataset_contract() -> None:
    ds = load_ofc(small(), use_cache=False)
    assert ds.name == "ofc" and ds.kind == "pam4" and ds.num_outputs == 1
    assert (ds.input_quant.bits, ds.input_quant.signed, ds.input_quant.scale) == (8, True, None)
    for split, n in ((ds.train, 3000), (ds.val, 1000), (ds.test, 2000)):
        assert split.x.shape == (n, 21) and split.x.dtype == np.float32
        assert split.y.shape == (n,) and split.y.dtype == np.float32
        assert set(np.unique(split.y)) == set(LEVELS.tolist())
    info = ds.info
    for key in ("baud_gbd", "length_km", "snr_db", "extinction_ratio_db", "tx_bandwidth",
                "rx_bandwidth", "dispersion_ps_nm_km", "wavelength_nm", "norm_mean", "norm_std",
                "sampling_phase", "linear_ffe_test_ber", "n_symbols", "module_version"):
        assert key in info, key
    assert info["n_symbols"] == {"train": 3000, "val": 1000, "test": 2000}
    assert 0 <= info["linear_ffe_test_ber"] <= 0.5
    assert linear_ffe_ber(ds) == pytest.approx(info["linear_ffe_test_ber"])


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a = load_ofc(small(seed=5), use_cache=False)
    b = load_ofc(small(seed=5), use_cache=False)
    c = load_ofc(small(seed=6), use_cache=False)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, name).x, getattr(b, name).x)
        np.testing.assert_array_equal(getattr(a, name).y, getattr(b, name).y)
        assert not np.array_equal(getattr(a, name).y, getattr(c, name).y)
        assert not np.allclose(getattr(a, name).x, getattr(c, name).x)


def test_splits_are_independent_sequences() -> None:
    cfg = small()
    syms = {name: split_symbols(cfg, name)[:1000].astype(np.float64) for name in
            ("train", "val", "test")}
    for u, v in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not np.array_equal(syms[u], syms[v])
        assert abs(np.corrcoef(syms[u], syms[v])[0, 1]) < 0.15
    ds = load_ofc(cfg, use_cache=False)
    assert not np.array_equal(ds.train.y[:1000], ds.val.y[:1000])
    assert not np.array_equal(ds.val.y[:1000], ds.test.y[:1000])


def test_normalisation_is_fitted_on_train_only() -> None:
    cfg = small()
    ds = load_ofc(cfg, use_cache=False)
    r_train, _, phase = simulate_split(cfg, "train")
    r_val, _, _ = simulate_split(cfg, "val", phase)
    assert phase == ds.info["sampling_phase"]
    mean, std = ds.info["norm_mean"], ds.info["norm_std"]
    assert mean == pytest.approx(r_train.mean()) and std == pytest.approx(r_train.std())
    centre = cfg.window // 2
    np.testing.assert_allclose(ds.val.x[:, centre], (r_val[centre:-centre] - mean) / std,
                               rtol=1e-5, atol=1e-5)
    val_mean = float(((r_val - mean) / std).mean())
    assert val_mean != pytest.approx(0.0, abs=1e-9)  # not re-fitted on val


def test_window_target_alignment_back_to_back() -> None:
    ds = load_ofc(small(length_km=0.0, snr_db=60.0), use_cache=False)
    centre = ds.train.x.shape[1] // 2
    gain = np.std(ds.train.y) / np.std(ds.train.x[:, centre])  # back to level units
    for split in (ds.train, ds.val, ds.test):
        assert ber(slicer(split.x[:, centre] * gain), split.y) == 0.0
        assert ber(slicer(split.x[:, centre + 1] * gain), split.y) > 0.1  # a neighbour
    assert ds.info["linear_ffe_test_ber"] == 0.0
    assert ds.info["sampling_phase"] == 0  # the symbol centre


def test_linear_ffe_recovers_known_weights() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5000, 5)).astype(np.float32)
    w_true = np.array([0.5, -1.0, 2.0, 0.0, 0.25, 0.3])
    y = x @ w_true[:-1] + w_true[-1]
    np.testing.assert_allclose(fit_linear_ffe(x, y), w_true, atol=1e-5)
    np.testing.assert_allclose(apply_linear_ffe(x, w_true), y, atol=1e-5)
    with pytest.raises(ValueError):
        apply_linear_ffe(x, w_true[:-1])


# -- cache -------------------------------------------------------------------------------------
def test_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path))
    cfg = small(seed=3)
    first = load_ofc(cfg)
    path = cache_path(cfg)
    assert path.parent == tmp_path and path.is_file()
    assert not list(tmp_path.glob(".ofc-*.tmp"))  # atomic write left no temp file
    second = load_ofc(cfg)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, name).x, getattr(second, name).x)
        np.testing.assert_array_equal(getattr(first, name).y, getattr(second, name).y)
    assert second.info == first.info
    assert cache_path(small(seed=4)) != path  # keyed by the config
    path.write_bytes(b"not an npz")  # a corrupt cache is rebuilt
    third = load_ofc(cfg)
    np.testing.assert_array_equal(third.test.x, first.test.x)


# -- config validation ---------------------------------------------------------------------------
def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValidationError, match="extra"):
        OFCConfig(lenght_km=4.0)
    with pytest.raises(ValueError, match="window must be odd"):
        OFCConfig(window=20)
    with pytest.raises(ValueError, match="n_test=10 is smaller than window=21"):
        OFCConfig(n_test=10)
    with pytest.raises(ValueError):
        OFCConfig(baud_gbd=0)
    with pytest.raises(ValueError):
        OFCConfig(length_km=-1)
    with pytest.raises(ValueError, match="raise samples_per_symbol"):
        OFCConfig(samples_per_symbol=2, rx_bandwidth=0.7)
    with pytest.raises(ValueError, match="unknown split"):
        simulate_split(small(), "dev")
    with pytest.raises(ValueError, match=r"phase must be in -4\.\.3"):
        simulate_split(small(), "val", phase=4)
