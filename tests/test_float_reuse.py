"""train.init_from: a run that reuses another run's float stage ends with exactly the
weights and scores it would have trained itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from hwnn.config import parse_config
from hwnn.errors import ConfigError
from hwnn.train.float_reuse import FLOAT_SNAPSHOT
from hwnn.train.loop import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from toy import toy_config, toy_dataset


def _config(**train: object):
    base = toy_config(epochs=2, batch_size=32).to_yaml_dict()
    base["train"].pop("prune")
    base["train"].update(train)
    return parse_config(base)


def _without_times(metrics: dict) -> dict:
    stages = {name: {k: v for k, v in res.items() if k not in ("time_s", "from")}
              for name, res in metrics["stages"].items()}
    return {"stages": stages, "summary": metrics["summary_test"]}


def test_reused_float_stage_gives_the_same_run(tmp_path: Path) -> None:
    ds = toy_dataset(n=1500)
    own = Trainer(_config(), ds, tmp_path / "own", progress=False).run()
    assert (tmp_path / "own" / FLOAT_SNAPSHOT).is_file()
    reused = Trainer(_config(init_from=str(tmp_path / "own")), ds, tmp_path / "reused",
                     progress=False).run()
    assert _without_times(reused) == _without_times(own)
    assert reused["stages"]["float"]["from"] == str(tmp_path / "own")
    a = torch.load(tmp_path / "own" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "reused" / "model.pt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "reused" / FLOAT_SNAPSHOT).is_file()  # can be reused in turn


def test_other_weight_kinds_start_from_the_same_float_weights(tmp_path: Path) -> None:
    ds = toy_dataset(n=1500)
    Trainer(_config(), ds, tmp_path / "own", progress=False).run()
    cfg = _config(init_from=str(tmp_path / "own")).to_yaml_dict()
    cfg["model"]["weights"] = "syq_ternary"
    metrics = Trainer(parse_config(cfg), ds, tmp_path / "syq", progress=False).run()
    own = torch.load(tmp_path / "own" / FLOAT_SNAPSHOT, weights_only=False)
    assert metrics["stages"]["float"]["test"] == own["result"]["test"]
    assert "qat" in metrics["stages"]


def test_init_from_refuses_a_different_float_stage_or_a_missing_snapshot(tmp_path) -> None:
    ds = toy_dataset(n=1500)
    Trainer(_config(), ds, tmp_path / "own", progress=False).run()
    cfg = _config(init_from=str(tmp_path / "own")).to_yaml_dict()
    cfg["train"]["float"]["lr"] = 0.01
    cfg["model"]["hidden"] = [16, 4]
    with pytest.raises(ConfigError, match=r"differs in model\.hidden, train\.float"):
        Trainer(parse_config(cfg), ds, tmp_path / "bad", progress=False).run()
    with pytest.raises(ConfigError, match=r"float\.pt not found"):
        Trainer(_config(init_from=str(tmp_path / "nowhere")), ds, tmp_path / "none",
                progress=False).run()


def test_sweep_resolves_a_relative_init_from_under_out(tmp_path: Path) -> None:
    import yaml

    from hwnn.sweep.spec import load_sweep

    (tmp_path / "run.yaml").write_text(yaml.safe_dump(_config().to_yaml_dict()))
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({
        "name": "s", "out": str(tmp_path / "jobs"), "defaults": {"steps": ["train"]},
        "jobs": [{"name": "a", "config": "run.yaml"},
                 {"name": "b", "config": "run.yaml", "set": {"train.init_from": "a"}}]}))
    _, jobs = load_sweep(tmp_path / "sweep.yaml")
    assert jobs[1].config["train"]["init_from"] == str((tmp_path / "jobs" / "a").resolve())
