"""AddNet RCCMs (seed 002 §6.4): Table 6.3 circuits, coefficient tables, set enumeration."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.arith.rccm import (
    A_FOURTH_OPS,
    B_OPS_AS_PRINTED,
    TABLE_6_2,
    Rccm,
    ShiftSpace,
    a_node,
    b_node,
    canonical_sets,
    enumerate_rccm,
    set_hashes,
    table_6_3,
)


def _symmetric(half: tuple[int, ...]) -> np.ndarray:
    return np.unique(np.array(half + tuple(-v for v in half)))


@pytest.mark.parametrize("n_add", [2, 3, 4])
def test_table_6_3_circuits_realise_table_6_2(n_add: int) -> None:
    rccm = table_6_3(n_add)
    assert rccm.select_bits == 2 * n_add
    assert len(rccm.coefficients()) == 2 ** (2 * n_add)
    assert np.array_equal(rccm.coefficient_set(), _symmetric(TABLE_6_2[n_add]))


@pytest.mark.parametrize(("n_add", "size"), [(2, 13), (3, 55), (4, 206)])
def test_printed_topology_b_row_misses_table_6_2(n_add: int, size: int) -> None:
    """Assumption 2: the B mapping as printed cannot give the ± sets of Table 6.2."""
    assert len(table_6_3(n_add, B_OPS_AS_PRINTED).coefficient_set()) == size


def test_2add_coefficient_table_by_hand() -> None:
    """2-Add of Table 6.3: node A has A shifts 0, 1, 3 and B1 = x << 2, so n1 is one of
    1+4, 2+4, 8+4, 4; node B gives ±(A_p - B1) with A_1 = n1, A_2 = n1 << 3, B1 = x << 2.
    Select word: bits 0-1 drive node A, bits 2-3 node B."""
    c = table_6_3(2).coefficients()
    n1 = [5, 6, 12, 4]
    for s in range(16):
        a, b = s & 3, s >> 2
        expected = [-n1[a] + 4, -(n1[a] << 3) + 4, n1[a] - 4, (n1[a] << 3) - 4][b]
        assert c[s] == expected


def _brute_force_2add(space: ShiftSpace) -> set[tuple[int, ...]]:
    sets = set()
    for (fourth, a_sh, a_b), (b_sh, b_b) in itertools.product(space.a_configs(),
                                                              space.b_configs()):
        rccm = Rccm((a_node(fourth, a_sh, a_b), b_node(b_sh, b_b, a_src=1)))
        sets.add(tuple(rccm.coefficient_set()))
    return sets


@pytest.mark.parametrize("space", [ShiftSpace(), ShiftSpace(phi_max=2, first_zero=False)])
def test_2add_enumeration_matches_brute_force(space: ShiftSpace) -> None:
    enum = enumerate_rccm(2, space)
    found = {tuple(s) for s in enum.coefficient_sets()}
    assert found == _brute_force_2add(space)
    assert enum.count == len(found)


def test_table_6_3_sets_are_in_the_default_space() -> None:
    for n_add in (2, 3):
        enum = enumerate_rccm(n_add)
        found = {tuple(s) for s in enum.coefficient_sets()}
        assert tuple(table_6_3(n_add).coefficient_set()) in found


_ENUM3 = enumerate_rccm(3, ShiftSpace(phi_max=2))
_SPACE3 = ShiftSpace(phi_max=2)
_HASHES3 = {h.tobytes() for h in set_hashes(canonical_sets(np.stack(
    [np.pad(s, (0, 64 - len(s)), mode="edge") for s in _ENUM3.coefficient_sets()])))}


@settings(max_examples=60, deadline=None)
@given(a1=st.sampled_from(_SPACE3.a_configs()), a2=st.sampled_from(_SPACE3.a_configs()),
       b=st.sampled_from(_SPACE3.b_configs()))
def test_any_3add_configuration_is_enumerated(a1: tuple, a2: tuple, b: tuple) -> None:
    rccm = Rccm((a_node(*a1), a_node(*a2), b_node(*b, a_src=1, b_src=2)))
    row = np.pad(rccm.coefficient_set(), (0, 64 - len(rccm.coefficient_set())), mode="edge")
    assert set_hashes(canonical_sets(row[None]))[0].tobytes() in _HASHES3


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_enumerated_sets_are_rebuilt_by_their_circuits(data: st.DataObject) -> None:
    i = data.draw(st.integers(0, _ENUM3.count - 1))
    rccm = _ENUM3.circuit(i)
    assert rccm.select_bits == 6
    assert np.array_equal(rccm.coefficient_set(), _ENUM3.coefficient_sets()[i])


@given(st.lists(st.integers(-2000, 2000), min_size=1, max_size=12), st.randoms())
def test_set_canonical_form_ignores_order_and_repeats(values: list[int], rnd) -> None:
    shuffled = values + values[: len(values) // 2]
    rnd.shuffle(shuffled)
    width = 2 * len(values)
    a = np.pad(np.array(values), (0, width - len(values)), mode="edge")
    b = np.pad(np.array(shuffled), (0, width - len(shuffled)), mode="edge")
    ca, cb = canonical_sets(a[None]), canonical_sets(b[None])
    assert np.array_equal(ca, cb)
    assert set_hashes(ca)[0].tobytes() == set_hashes(cb)[0].tobytes()


def test_distinct_sets_hash_differently() -> None:
    rows = canonical_sets(np.array([[1, 2, 3], [1, 2, 4], [0, 2, 3], [3, 3, 3]]))
    assert len({h.tobytes() for h in set_hashes(rows)}) == 4


def test_bad_circuits_are_refused() -> None:
    with pytest.raises(ValueError, match="2, 3 or 4"):
        table_6_3(5)
    with pytest.raises(ValueError, match="2, 3 or 4"):
        enumerate_rccm(1)
    with pytest.raises(ValueError, match="mapping"):
        a_node("A1-B1", (0, 1, 2), 0)
    with pytest.raises(ValueError, match="3 A shifts"):
        a_node("B1", (0, 1), 0)
    with pytest.raises(ValueError, match="earlier nodes"):
        Rccm((a_node("B1", (0, 1, 2), 0, a_src=1),))
    assert set(A_FOURTH_OPS) == {"B1", "-A1+B1", "-A2+B1", "-A3+B1"}


# ------------------------------------------------------------------------------ Verilog
def _simulate_exhaustively(rccm: Rccm, folder, x_bits: int, signed: bool):
    from hwnn.eda.rtlsim import simulate
    from hwnn.logic.rccm_verilog import rccm_testbench, rccm_verilog

    (folder / "rccm.v").write_text(rccm_verilog(rccm, x_bits, signed))
    vectors = rccm_testbench(rccm, folder, x_bits, signed)
    return vectors, simulate([folder / "tb.v", folder / "rccm.v"], folder)


@pytest.mark.parametrize("n_add", [2, 3, 4])
@pytest.mark.parametrize("signed", [False, True])
def test_rccm_verilog_is_exact_for_every_input_and_select(tmp_path, n_add: int,
                                                          signed: bool) -> None:
    if shutil.which("iverilog") is None:
        pytest.skip("needs iverilog")
    vectors, result = _simulate_exhaustively(table_6_3(n_add), tmp_path, 5, signed)
    assert vectors == result.vectors == 2 ** (2 * n_add) * 2**5
    assert result.mismatches == 0, result.first_failure()


@settings(max_examples=6, deadline=None)
@given(a1=st.sampled_from(_SPACE3.a_configs()), a2=st.sampled_from(_SPACE3.a_configs()),
       b=st.sampled_from(_SPACE3.b_configs()), signed=st.booleans())
def test_random_rccm_verilog_is_exact(tmp_path_factory, a1: tuple, a2: tuple, b: tuple,
                                      signed: bool) -> None:
    if shutil.which("iverilog") is None:
        pytest.skip("needs iverilog")
    rccm = Rccm((a_node(*a1), a_node(*a2), b_node(*b, a_src=1, b_src=2)))
    folder = tmp_path_factory.mktemp("rccm")
    _, result = _simulate_exhaustively(rccm, folder, 4, signed)
    assert result.mismatches == 0, result.first_failure()


def test_a_wrong_coefficient_is_caught(tmp_path) -> None:
    """The bench is not vacuous: a circuit whose Verilog differs from its table fails."""
    if shutil.which("iverilog") is None:
        pytest.skip("needs iverilog")
    from hwnn.eda.rtlsim import simulate
    from hwnn.logic.rccm_verilog import rccm_testbench, rccm_verilog

    good, other = table_6_3(2), Rccm((a_node("B1", (0, 1, 2), 2), b_node((0, 3), 2, a_src=1)))
    (tmp_path / "rccm.v").write_text(rccm_verilog(other, 4, False, name=good.name))
    rccm_testbench(good, tmp_path, 4, False)
    assert simulate([tmp_path / "tb.v", tmp_path / "rccm.v"], tmp_path).mismatches > 0


def test_rccm_port_widths() -> None:
    from hwnn.logic.rccm_verilog import generic_product_bits, rccm_ports
    from hwnn.rules import int_range

    assert int_range(8, signed=False) == (0, 255)
    assert int_range(8, signed=True) == (-128, 127)
    assert generic_product_bits(8, 8, signed=False) == 16  # 255 * -128 = -32,640 fits int16
    ports = rccm_ports(table_6_3(2), 8, signed=False)
    # |c| <= 92 (Table 6.2) and x <= 255: y in [-92 * 255, 92 * 255] needs 16 bits
    assert ports.y_bits == 16 and ports.select_bits == 4


def test_rccm_and_generic_multiplier_map_to_luts(tmp_path) -> None:
    if shutil.which("yosys") is None:
        pytest.skip("needs yosys")
    from hwnn.eda.yosys import synth_fpga
    from hwnn.logic.rccm_verilog import generic_multiplier_verilog, rccm_verilog

    (tmp_path / "r.v").write_text(rccm_verilog(table_6_3(2), 8, False))
    (tmp_path / "g.v").write_text(generic_multiplier_verilog(8, 8, False))
    rccm = synth_fpga([tmp_path / "r.v"], "addnet_2add", tmp_path / "r", use_dsp=False)
    generic = synth_fpga([tmp_path / "g.v"], "mult_generic", tmp_path / "g", use_dsp=False)
    assert 0 < rccm.luts < generic.luts
