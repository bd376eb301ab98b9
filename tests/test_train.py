"""The training loop: stages, selection on validation only, metrics.json, exact integer
mode after training, and resume after a killed run giving identical results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from hwnn.train.build import load_run
from hwnn.train.loop import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from toy import toy_config, toy_dataset

RUNNER = """
import sys
sys.path.insert(0, {tests!r})
from toy import toy_config, toy_dataset
from hwnn.train.loop import Trainer
Trainer(toy_config(epochs={epochs}, batch_size=16), toy_dataset(n={n}), {out!r},
        progress=False).run()
"""


def _run_script(out: Path, epochs: int, n: int) -> subprocess.Popen:
    code = RUNNER.format(tests=str(Path(__file__).parent), epochs=epochs, n=n, out=str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _comparable(metrics: dict) -> dict:
    stages = {
        name: {k: v for k, v in res.items() if k != "time_s"}
        for name, res in metrics["stages"].items()
    }
    return {"stages": stages, "summary": metrics["summary_test"]}


def test_stages_metrics_and_integer_mode(tmp_path: Path) -> None:
    ds = toy_dataset()
    metrics = Trainer(toy_config(), ds, tmp_path / "run", progress=False).run()
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "done"
    assert set(saved["stages"]) == {"float", "qat", "pruned", "finetune"}
    summary = metrics["summary_test"]
    assert summary["float"] > 0.8 and summary["finetune"] > 0.8
    assert saved["sparsity"]["total"] >= 0.49
    # selection is on validation: the selected epoch has the best validation key of its stage
    for stage in ("float", "qat", "finetune"):
        hist = [h for h in saved["history"] if h["stage"] == stage]
        best = min(hist, key=lambda h: (-h["val"]["accuracy"], h["val"]["loss"]))
        assert saved["stages"][stage]["best_epoch"] == best["epoch"]
    # the saved model reproduces the reported test accuracy, and integer mode is exact
    _, model, _ = load_run(tmp_path / "run")
    x = torch.from_numpy(ds.test.x)
    out = model(x)
    acc = float((out.argmax(1).numpy() == ds.test.y).mean())
    assert acc == summary["finetune"]
    integer = model.forward_int(model.quantize_input(x))
    assert torch.equal(integer.to_real().float(), out)
    assert torch.equal(integer.value.argmax(1), out.argmax(1))


def test_rerun_of_finished_run_is_a_no_op(tmp_path: Path) -> None:
    ds = toy_dataset(n=1500)
    first = Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    again = Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    assert again == first


def test_a_finished_run_without_its_checkpoint_is_not_retrained(tmp_path: Path) -> None:
    """Only ``model.pt`` and ``metrics.json`` of a run are committed: on a fresh checkout
    the run is complete as it is (its weights untouched); another config is refused."""
    import pytest

    from hwnn.errors import ConfigError

    ds = toy_dataset(n=1500)
    first = Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    (tmp_path / "r" / "checkpoint.pt").unlink()
    model = tmp_path / "r" / "model.pt"
    stamp = model.stat().st_mtime_ns
    again = Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    assert again == first and model.stat().st_mtime_ns == stamp
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
    with pytest.raises(ConfigError, match="finished run with a different config"):
        Trainer(toy_config(epochs=2), ds, tmp_path / "r", progress=False).run()


def test_resume_after_kill_matches_uninterrupted_run(tmp_path: Path) -> None:
    epochs, n = 4, 4000
    reference = _run_script(tmp_path / "ref", epochs, n)
    victim = _run_script(tmp_path / "victim", epochs, n)
    ckpt = tmp_path / "victim" / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline and victim.poll() is None:
        if ckpt.exists() and time.time() - ckpt.stat().st_mtime < 5:
            state = torch.load(ckpt, weights_only=False)
            if state["stage_idx"] >= 1 and state["epoch"] >= 1:
                break
        time.sleep(0.2)
    assert victim.poll() is None, "the run finished before it could be killed; make it longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "victim" / "model.pt").exists()
    resumed = _run_script(tmp_path / "victim", epochs, n)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()
    ref = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    got = json.loads((tmp_path / "victim" / "metrics.json").read_text())
    assert _comparable(got) == _comparable(ref)
    a = torch.load(tmp_path / "ref" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "victim" / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_changed_config_is_refused(tmp_path: Path) -> None:
    import pytest

    from hwnn.errors import ConfigError

    ds = toy_dataset(n=1500)
    Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    with pytest.raises(ConfigError, match="different config"):
        Trainer(toy_config(epochs=2), ds, tmp_path / "r", progress=False).run()


def test_a_run_from_an_older_config_schema_still_resumes(tmp_path: Path) -> None:
    """Fields added to the config schema later (with defaults) do not make a finished or
    interrupted run look like a different config."""
    ds = toy_dataset(n=600)
    Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    path = tmp_path / "r" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    for key in ("weights", "eta", "syq_granularity", "kernel"):  # as an older hwnn wrote it
        state["config"]["model"].pop(key, None)
    torch.save(state, path)
    again = Trainer(toy_config(epochs=1), ds, tmp_path / "r", progress=False).run()
    assert again["summary_test"] is not None
