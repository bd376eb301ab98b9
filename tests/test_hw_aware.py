"""Hardware-aware training (seed 000 §III-C): the +n_step iteration rule, the tolerance
test, and a toy run whose weights stay inside the chosen set, bit-exact in integer mode."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from hwnn.arith import load_cost_table
from hwnn.config import HwAwareConfig
from hwnn.errors import ConfigError
from hwnn.nn.model import weight_codebook
from hwnn.train.build import load_run
from hwnn.train.hw_aware import new_schedule, next_size, record_trial, within_tolerance
from hwnn.train.loop import Trainer
from hwnn.train.weight_stats import weight_cost_stats

sys.path.insert(0, str(Path(__file__).parent))
from toy import toy_config, toy_dataset


def _cfg(**kw: object) -> HwAwareConfig:
    return HwAwareConfig.model_validate({"epochs": 1, **kw})


def test_iteration_adds_n_step_until_recovered_then_trains_the_curve() -> None:
    cfg = _cfg(n_start=40, n_step=10, tolerance=0.01, curve=[10, 40, 50])
    s = new_schedule("accuracy", 0.90)
    assert next_size(s, cfg) == (40, "select")
    assert not record_trial(s, cfg, 40, [0], val=0.85, test=0.84, purpose="select")
    assert next_size(s, cfg) == (50, "select")
    assert not record_trial(s, cfg, 50, [0], val=0.889, test=0.88, purpose="select")
    assert next_size(s, cfg) == (60, "select")
    assert record_trial(s, cfg, 60, [0], val=0.891, test=0.89, purpose="select")
    assert s["selected"] == 60 and s["recovered"] is True
    assert next_size(s, cfg) == (10, "curve")  # 40 and 50 were trained already
    record_trial(s, cfg, 10, [0], val=0.5, test=0.5, purpose="curve")
    assert next_size(s, cfg) is None
    assert s["selected"] == 60  # curve points never change the selection


def test_iteration_stops_at_the_full_8bit_set() -> None:
    cfg = _cfg(n_start=240, n_step=10, tolerance=0.0)
    s = new_schedule("ber", 1e-3)
    record_trial(s, cfg, 240, [0], val=2e-3, test=2e-3, purpose="select")
    assert next_size(s, cfg) == (250, "select")
    record_trial(s, cfg, 250, [0], val=2e-3, test=2e-3, purpose="select")
    assert next_size(s, cfg) == (256, "select")
    record_trial(s, cfg, 256, [0], val=2e-3, test=2e-3, purpose="select")
    assert s["selected"] == 256 and s["recovered"] is False and next_size(s, cfg) is None


def test_tolerance_is_absolute_for_accuracy_and_relative_for_ber() -> None:
    assert within_tolerance("accuracy", 0.90, 0.895, 0.005)
    assert not within_tolerance("accuracy", 0.90, 0.8949, 0.005)
    assert within_tolerance("ber", 1e-3, 1.1e-3, 0.1)
    assert not within_tolerance("ber", 1e-3, 1.11e-3, 0.1)
    assert within_tolerance("ber", 0.0, 0.0, 0.1)


def test_config_rejects_hw_aware_without_qat_and_bad_curve() -> None:
    from hwnn.config import parse_config

    base = toy_config().to_yaml_dict()
    del base["train"]["qat"]
    del base["train"]["prune"]
    base["train"]["hw_aware"] = {"epochs": 1}
    with pytest.raises(ConfigError, match="needs a qat stage"):
        parse_config(base)
    with pytest.raises(ConfigError, match="curve sizes"):
        parse_config({**toy_config(hw_aware={"curve": [0]}).to_yaml_dict()})


def test_toy_run_selects_a_set_and_its_weights_stay_inside_it(tmp_path: Path) -> None:
    ds = toy_dataset(n=3000)
    # two values ({0, 1}: non-negative weights only) cannot recover; the rule adds 10 at a time
    cfg = toy_config(epochs=3, hw_aware={"n_start": 2, "n_step": 10, "tolerance": 0.003,
                                         "curve": [7]})
    metrics = Trainer(cfg, ds, tmp_path / "run", progress=False).run()
    hw = metrics["hw_aware"]
    select = [t for t in hw["trials"] if t["purpose"] == "select"]
    assert [t["n"] for t in select] == [2 + 10 * k for k in range(len(select))]
    assert len(select) >= 2 and not select[0]["within_tolerance"]
    assert all(not t["within_tolerance"] for t in select[:-1])
    assert select[-1]["within_tolerance"] and hw["n"] == select[-1]["n"]
    assert [t["n"] for t in hw["trials"] if t["purpose"] == "curve"] == [7]
    table = load_cost_table()
    assert hw["values"] == table.cheapest(hw["n"], "area", "unsigned")
    assert metrics["summary_test"]["hw_aware_n"] == hw["n"]
    # weight statistics: the selected model uses only set values, costed by the table
    stats = next(t for t in hw["trials"] if t["n"] == hw["n"])["weights"]
    assert stats["distinct_nonzero_values"] <= hw["n"] and stats["nonzero_weights"] > 0
    assert hw["reference_weights"]["nonzero_weights"] >= stats["nonzero_weights"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["hw_aware"]["n"] == hw["n"]
    # the saved model is the selected one: codebook, weights inside it, reported accuracy,
    # pruning mask kept, integer mode exact
    _, model, _ = load_run(tmp_path / "run")
    assert weight_codebook(model) == hw["values"]
    assert weight_cost_stats(model, table, "unsigned") == stats
    for _, layer in model.weight_layers():
        codes, _ = layer.weight_quant.quantize(layer.masked_weight())
        assert set(codes.unique().tolist()) <= set(hw["values"])
        assert (codes[layer.weight_mask == 0] == 0).all()
    x = torch.from_numpy(ds.test.x)
    out = model(x)
    assert float((out.argmax(1).numpy() == ds.test.y).mean()) == metrics["summary_test"][
        "hw_aware"]
    integer = model.forward_int(model.quantize_input(x))
    assert torch.equal(integer.to_real().float(), out)


class _Crash(Exception):
    pass


def test_resume_in_the_middle_of_the_schedule_matches_an_uninterrupted_run(
        tmp_path: Path) -> None:
    ds = toy_dataset(n=1500)
    cfg = toy_config(epochs=2, hw_aware={"n_start": 2, "n_step": 20, "tolerance": 0.02})
    ref = Trainer(cfg, ds, tmp_path / "ref", progress=False).run()

    class Crashing(Trainer):
        def _start_hw_stage(self, stage, state):  # type: ignore[no-untyped-def]
            if stage.codebook_n != 2:
                raise _Crash
            super()._start_hw_stage(stage, state)

    assert len(ref["hw_aware"]["trials"]) >= 2, "make the first set fail so there is a gap"
    with pytest.raises(_Crash):
        Crashing(cfg, ds, tmp_path / "victim", progress=False).run()
    got = Trainer(cfg, ds, tmp_path / "victim", progress=False).run()
    assert _untimed(got["stages"]) == _untimed(ref["stages"])
    assert got["hw_aware"] == ref["hw_aware"]


def _untimed(stages: dict) -> dict:
    return {name: {k: v for k, v in res.items() if k != "time_s"} for name, res in stages.items()}
