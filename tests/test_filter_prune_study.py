"""Filter-pruning studies (seed 002 §4.5.4-4.5.5): iterative prune + fine-tune chains of
ordinary runs started from saved weights (``train.init_weights``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from hwnn.errors import ConfigError
from hwnn.methods.filter_prune import load_study, run_study
from hwnn.train.build import load_run
from hwnn.train.loop import Trainer
from hwnn.train.weights_file import save_weights_file

sys.path.insert(0, str(Path(__file__).parent))
from toy import toy_config, toy_dataset


def _base_yaml(tmp_path: Path) -> Path:
    cfg = toy_config(epochs=2, batch_size=64).to_yaml_dict()
    cfg["train"].pop("prune")
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _study(tmp_path: Path, **extra: object) -> Path:
    _base_yaml(tmp_path)
    study = {"name": "toy", "config": "toy.yaml", "out": str(tmp_path / "out"),
             "finetune": {"epochs": 1, "lr": 1e-3, "lr_step": 1, "patience": 1},
             "ranking": {"metrics": ["msqe", "random"], "step": 0.25, "iterations": 2},
             **extra}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def test_ranking_study_prunes_fine_tunes_and_resumes(tmp_path: Path) -> None:
    ds = toy_dataset(n=1500)
    path = _study(tmp_path)
    result = run_study(path, dataset=ds)
    curves = result["ranking"]["curves"]
    assert set(curves) == {"msqe", "random"}
    for points in curves.values():
        assert [p["filters"] for p in points] == [[16, 8], [12, 6], [8, 4]]
        assert [p["ratio"] for p in points] == [0.0, 6 / 24, 12 / 24]
        assert points[1]["ops"] == 24 * 12 + 12 * 6 + 6 * 3
        assert all(0 <= p["test"] <= 1 for p in points)
        assert all(p["test_before_finetune"] is not None for p in points[1:])
    out = tmp_path / "out"
    assert json.loads((out / "filter_prune.json").read_text())["ranking"]["curves"] == curves
    # every iteration is an ordinary run: it loads, and its config names the weights
    cfg, _, _ = load_run(out / "ranking" / "msqe" / "iter2")
    assert cfg.model.hidden == [8, 4]
    assert cfg.train.init_weights == str(out / "ranking" / "msqe" / "iter2" / "init_weights.pt")
    # resume: nothing is trained again
    stamp = (out / "ranking" / "msqe" / "iter1" / "model.pt").stat().st_mtime_ns
    assert run_study(path, dataset=ds)["ranking"]["curves"] == curves
    assert (out / "ranking" / "msqe" / "iter1" / "model.pt").stat().st_mtime_ns == stamp


def test_init_weights_must_fit_the_network(tmp_path: Path) -> None:
    ds = toy_dataset(n=600)
    base = toy_config(epochs=1, batch_size=64).to_yaml_dict()
    base["train"].pop("prune")
    from hwnn.config import parse_config

    Trainer(parse_config(base), ds, tmp_path / "a", progress=False).run()
    _, model, _ = load_run(tmp_path / "a")
    save_weights_file(tmp_path / "w.pt", model, base["model"], {})
    other = {**base, "model": {**base["model"], "hidden": [12, 8]},
             "train": {**base["train"], "init_weights": str(tmp_path / "w.pt")}}
    with pytest.raises(ConfigError, match="different network"):
        Trainer(parse_config(other), ds, tmp_path / "b", progress=False).run()
    with pytest.raises(ConfigError, match="init_weights needs a qat"):
        parse_config({**base, "train": {**{k: v for k, v in base["train"].items()
                                           if k != "qat"}, "init_weights": "x"}})


def test_study_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="typo: unknown key"):
        load_study(_study(tmp_path, typo=1))
    path = _study(tmp_path, base_run="nowhere")
    with pytest.raises(ConfigError, match="not a finished run"):
        run_study(path, dataset=toy_dataset(n=300))


def test_hardware_study_compares_aware_and_unaware_pruning(tmp_path: Path, monkeypatch) -> None:
    import hwnn.methods.filter_prune as fp
    from hwnn.cost.dataflow import LutModel

    monkeypatch.setattr(fp, "_lut_model", lambda: LutModel(50.0, 10.0, 2.0, 2.0))
    ds = toy_dataset(n=1500)
    hardware = {"clock_mhz": 100, "lut_budget": 3000, "tolerance": 0.05, "step": 0.25,
                "max_iterations": 3, "sensitivity_rates": [0.25, 0.5]}
    path = _study(tmp_path, hardware=hardware)
    ranking = run_study(path, dataset=ds, parts=["ranking"])["ranking"]
    h = run_study(path, dataset=ds, parts=["hardware"])["hardware"]
    saved = json.loads((tmp_path / "out" / "filter_prune.json").read_text())
    assert saved["ranking"] == ranking and saved["hardware"] == h  # parts run apart
    with pytest.raises(ConfigError, match="not in the study"):
        run_study(path, dataset=ds, parts=["nope"])
    assert set(h["finals"]) == {"original", "aware", "uniform", "sensitivity"}
    base_val = h["finals"]["original"]["val"]
    for name in ("aware", "uniform", "sensitivity"):
        chain = h["methods"][name]
        for p in chain["iterations"]:
            assert p["accepted"] == (base_val - p["val"] <= 0.05 + 1e-12)
        final = h["finals"][name]
        assert base_val - final["val"] <= 0.05 + 1e-12  # every final meets the tolerance
        assert final["hardware"]["luts"] <= 3000 and final["hardware"]["fps"] > 0
    for p in h["methods"]["aware"]["iterations"]:
        assert p["pruned_layer"] in (0, 1)
    # the uniform chain is the ranking study's MSQE chain (same step)
    assert h["methods"]["uniform"]["folder"].endswith("ranking/msqe")
    assert set(h["methods"]["sensitivity"]["rates"]) == {"0", "1"}


def test_hardware_study_refuses_a_budget_nothing_fits(tmp_path: Path, monkeypatch) -> None:
    import hwnn.methods.filter_prune as fp
    from hwnn.cost.dataflow import LutModel

    monkeypatch.setattr(fp, "_lut_model", lambda: LutModel(50.0, 10.0, 2.0, 2.0))
    path = _study(tmp_path, hardware={"lut_budget": 10})
    with pytest.raises(ConfigError, match="lut_budget"):
        run_study(path, dataset=toy_dataset(n=600))


def test_base_run_is_checked_against_the_study_config(tmp_path: Path) -> None:
    from rich.console import Console

    from hwnn.methods.filter_prune import base_run_dir

    ds = toy_dataset(n=300)
    study, base_cfg, study_dir = load_study(_study(tmp_path, base_run="run"))
    Trainer(base_cfg, ds, tmp_path / "run", progress=False).run()
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    # a run written before a defaulted field existed (here: sam_bias) is the same config
    saved["model"].pop("sam_bias")
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(saved))
    found = base_run_dir(study, base_cfg, study_dir, tmp_path / "out", Console(), ds)
    assert found == (tmp_path / "run").resolve()
    saved["model"]["hidden"] = [12, 8]
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(ConfigError, match="different model"):
        base_run_dir(study, base_cfg, study_dir, tmp_path / "out", Console(), ds)
