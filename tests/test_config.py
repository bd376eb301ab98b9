"""Config validation: one-line errors naming the field; every shipped config parses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwnn.config import load_config, parse_config
from hwnn.errors import ConfigError

CONFIGS = sorted(p for p in (Path(__file__).parents[1] / "configs").rglob("*.yaml")
                 if not {"sweeps", "logicnets", "filter_prune"} & set(p.parts))
GOOD = {
    "name": "t",
    "data": {"task": "nid"},
    "model": {"hidden": [20]},
    "train": {"float": {"epochs": 1}},
}


def with_change(path: list[str], value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_parse(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name == path.stem


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs" /
                                         "filter_prune").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_filter_prune_studies_load(path: Path) -> None:
    from hwnn.methods.filter_prune import load_study

    study, run_cfg, _ = load_study(path)
    assert study.name == path.stem and run_cfg.model.kind == "cnn"


def test_demo_config_parses() -> None:
    from importlib import resources

    text = resources.files("hwnn").joinpath("demo_config.yaml").read_text()
    assert parse_config(yaml.safe_load(text)).data.task == "nid"


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (["model", "hiden"], [3], r"model\.hiden: unknown key"),
        (["model", "hidden"], [20, -1], r"model\.hidden\.1: .*greater than 0"),
        (["model", "weight_bits"], 1, r"model\.weight_bits: .*greater than or equal to 2"),
        (["data", "task"], "cifar", r"data\.task: .*'mnist'"),
        (["train", "prune"], {"epochs": 1, "sparsity": 1.5}, r"train\.prune\.sparsity"),
        (["train", "float", "lr"], "fast", r"train\.float\.lr: .*number"),
        (["data", "ofc"], {}, r"data: .*only valid with task: ofc"),
        (["model", "kind"], "cnn", r"model: kind: cnn needs image: \[C, H, W\] and channels"),
        (["model", "channels"], [4], r"model: image and channels apply to kind: cnn only"),
        (["model", "act_init"], "mse", r"model: act_init applies to kind: lutnet only"),
    ],
)
def test_errors_name_the_field(path: list[str], value: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        parse_config(with_change(path, value), "x.yaml")
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("x.yaml: ")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+ invalid YAML"):
        load_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs" / "logicnets")
                                        .glob("*.yaml")), ids=lambda p: p.name)
def test_logicnets_configs_parse(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.model.kind == "lutnet" and cfg.name == f"logicnets_{path.stem}"
    assert cfg.model.fan_in is not None and len(cfg.model.fan_in) == len(cfg.model.hidden) + 1


LUT = {"kind": "lutnet", "hidden": [8], "fan_in": [3, 3], "act_bits": 2, "out_bits": 2}


@pytest.mark.parametrize(
    ("model", "train", "needle"),
    [
        ({**LUT, "fan_in": [3]}, {}, r"model: .*one entry per layer \(2"),
        ({**LUT, "out_bits": 16}, {}, r"model: .*out_bits <= 8"),
        ({"hidden": [8], "fan_in": [3, 3]}, {}, r"model: fan_in and input_bits apply to kind"),
        ({"hidden": [8], "act_bits": 1}, {}, r"model: kind: mlp needs act_bits >= 2"),
        (LUT, {"prune": {"epochs": 1, "sparsity": 0.5}}, r"remove train\.prune"),
        (LUT, {"qat": None}, r"lutnet needs a train\.qat stage"),
    ],
)
def test_lutnet_config_errors(model: dict, train: dict, needle: str) -> None:
    data = with_change(["model"], model)
    data["train"]["qat"] = {"epochs": 1}
    data["train"].update(train)
    data["train"] = {k: v for k, v in data["train"].items() if v is not None}
    with pytest.raises(ConfigError, match=needle):
        parse_config(data, "x.yaml")


def test_a_none_that_overrides_a_default_survives_the_round_trip() -> None:
    """``patience: null`` (never stop early) must not come back as the default 10: runs
    store ``to_yaml_dict`` and compare it when they resume."""
    from hwnn.config import load_config, parse_config

    cfg = load_config(Path(__file__).parents[1] / "configs" / "sam" / "sam_config_a.yaml")
    assert cfg.train.float_stage.patience is None
    dumped = cfg.to_yaml_dict()
    assert dumped["train"]["float"]["patience"] is None
    assert "qat" not in dumped["train"]  # unset optional fields stay out
    assert parse_config(dumped) == cfg
