"""The command line as a user runs it: `hwnn data verify` (also on a corrupted copy),
`hwnn data info`, config errors as one line, `hwnn train` end to end on a tiny config, and
(slow) `hwnn demo`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hwnn.cli import app

runner = CliRunner()


def _copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lib.gz", "unsw-nb15"))
    shutil.copy(src / "SHA256SUMS", dst / "SHA256SUMS")
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


def test_data_verify_passes(data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "verify", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "files verified" in result.output


def test_data_verify_names_the_corrupt_file(data_dir: Path, tmp_path: Path) -> None:
    root = _copy_data(data_dir, tmp_path / "data")
    target = root / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0x01
    target.write_bytes(bytes(raw))
    result = runner.invoke(app, ["data", "verify", "--data-dir", str(root)])
    assert result.exit_code == 1
    fail_lines = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert any("fashion-mnist/t10k-labels-idx1-ubyte.gz" in line for line in fail_lines)
    assert any("missing" in line and "unsw-nb15" in line for line in fail_lines)
    assert all("mnist/t10k-labels" not in line or "fashion" in line for line in fail_lines)


def test_missing_data_root_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "verify", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "HWNN_DATA_DIR" in result.output and "--data-dir" in result.output


def test_data_info_json(data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "info", "mnist", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["input_width"] == 784
    assert info["sizes"] == {"train": 50000, "val": 10000, "test": 10000}
    assert sum(info["class_balance"]["test"]) == 10000


def test_unknown_dataset_is_an_error() -> None:
    result = runner.invoke(app, ["data", "info", "cifar"])
    assert result.exit_code == 2
    assert "unknown dataset 'cifar'" in result.output


def test_bad_config_is_one_line_naming_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"name": "x", "data": {"task": "nid"},
                                   "model": {"hidden": [20], "weigth_bits": 4},
                                   "train": {"float": {"epochs": 1}}}))
    result = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "model.weigth_bits: unknown key" in result.output
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_train_end_to_end_and_resume_is_a_no_op(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    stage = {"epochs": 2, "lr": 2e-3, "lr_step": 1}
    cfg.write_text(yaml.safe_dump({
        "name": "tiny_mnist", "data": {"task": "mnist"}, "model": {"hidden": [16]},
        "train": {"batch_size": 1024, "float": stage, "qat": stage,
                  "prune": {**stage, "sparsity": 0.5}}}))
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--data-dir", str(data_dir), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert metrics["summary_test"]["qat"] > 0.85  # a 784-16-10 MLP after 2+2 epochs
    assert metrics["sparsity"]["total"] >= 0.49
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "is complete" in again.output
    # the logic spine on the trained run: IR, Verilog, bit-exact simulation
    result = runner.invoke(app, ["export", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "net.ir.json").is_file() and (out / "net.ir.npz").is_file()
    result = runner.invoke(app, ["verilog", str(out), "--extra-stages", "1"])
    assert result.exit_code == 0, result.output
    assert "module hwnn_tiny_mnist" in (out / "rtl" / "embedded_e1" / "net.v").read_text()
    result = runner.invoke(app, ["sim", str(out), "--vectors", "300", "--simulator", "icarus",
                                 "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    sim = json.loads((out / "sim.json").read_text())
    assert sim["passed"] and sim["vectors"] == 300
    assert sim["simulators"]["icarus"]["mismatches"] == 0
    # the CSD shift-add form of the same constants, on real MNIST pixels
    result = runner.invoke(app, ["sim", str(out), "--csd", "--vectors", "300", "--simulator",
                                 "icarus", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "sim_csd.json").read_text())["passed"]
    result = runner.invoke(app, ["verilog", str(out), "--csd", "--generic"])
    assert result.exit_code == 2 and "exclude each other" in result.output
    # one module per neuron: the same function, cycle for cycle
    result = runner.invoke(app, ["sim", str(out), "--csd", "--partition", "--vectors", "300",
                                 "--simulator", "icarus", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "sim_csd_part.json").read_text())["passed"]
    # the generic baseline per neuron, its weight chain preloaded in one write
    result = runner.invoke(app, ["sim", str(out), "--generic", "--partition", "--vectors", "300",
                                 "--simulator", "icarus", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "sim_generic_part.json").read_text())["passed"]
    # adder bit-width profiling, then the profiled design simulated bit-exactly
    result = runner.invoke(app, ["profile", str(out), "--train-samples", "5000",
                                 "--overflow", "wrap", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    prof = json.loads((out / "profile.json").read_text())
    assert prof["adder_bits_profiled"] <= prof["adder_bits_worst_case"]
    assert prof["train_samples"] == 5000 and prof["test"]["vectors"] == 10_000
    result = runner.invoke(app, ["sim", str(out), "--vectors", "300", "--simulator", "icarus",
                                 "--ir", "profiled", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "sim_profiled_embedded.json").read_text())["passed"]


def test_sim_without_export_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", str(tmp_path)])
    assert result.exit_code == 2
    assert "hwnn export" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path), "--ir", "profiled"])
    assert result.exit_code == 2
    assert "hwnn profile" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path), "--target", "gpu"])
    assert result.exit_code == 2 and "asic or fpga" in result.output


@pytest.mark.slow
def test_demo(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--no-progress",
                                 "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    demo = tmp_path / "demo"
    metrics = json.loads((demo / "metrics.json").read_text())
    assert metrics["summary_test"]["finetune"] > 0.9
    synth = json.loads((demo / "synth.json").read_text())["designs"]
    asic, fpga = synth["embedded/asic"], synth["embedded/fpga"]
    assert asic["area_um2"] > 0 and asic["fmax_mhz"] > 0 and asic["power_vectors_mw"] > 0
    assert asic["gate_level_vs_ir_mismatches"] == 0 and fpga["luts"] > 0
    sim = json.loads((demo / "sim.json").read_text())
    assert sim["passed"] and sim["vectors"] == 10_000
    report = (demo / "report.md").read_text()
    assert "## Synthesis" in report and "**passed**" in report
