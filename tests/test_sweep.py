"""Sweeps: spec expansion and validation, and a small sweep on local Ray that resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hwnn.errors import ConfigError
from hwnn.sweep import load_sweep, run_sweep
from hwnn.sweep.spec import set_dotted

TINY = {"name": "tiny", "data": {"task": "nid"}, "model": {"hidden": [3]},
        "train": {"float": {"epochs": 1}, "qat": {"epochs": 1},
                  "prune": {"epochs": 1, "sparsity": 0.8}}}


def _write(tmp: Path, sweep: dict) -> Path:
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_grid_overrides_and_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "name": "s", "out": str(tmp_path / "jobs"),
        "defaults": {"set": {"train.batch_size": 256}, "sim_vectors": 7,
                     "designs": [{"name": "p", "targets": ["fpga"]}]},
        "jobs": [{"name": "a", "config": "tiny.yaml", "set": {"model.hidden": [5]},
                  "grid": {"model.weight_bits": [4, 8], "train.prune.sparsity": [0.5]}},
                 {"name": "b", "config": "tiny.yaml", "steps": ["train"], "designs": [],
                  "sim_vectors": 3}]})
    _, jobs = load_sweep(path)
    assert [j.name for j in jobs] == ["a_weight_bits4_sparsity0.5", "a_weight_bits8_sparsity0.5",
                                      "b"]
    a4 = jobs[0].run_config()
    assert a4.name == jobs[0].name and a4.model.weight_bits == 4 and a4.model.hidden == [5]
    assert a4.train.batch_size == 256 and a4.train.prune.sparsity == 0.5
    assert jobs[0].sim_vectors == 7 and jobs[0].designs[0].targets == ["fpga"]
    assert jobs[2].steps == ["train"] and jobs[2].designs == [] and jobs[2].sim_vectors == 3


@pytest.mark.parametrize("sweep, message", [
    ({"name": "s", "out": "o", "jobs": [{"name": "a", "config": "nope.yaml"}]},
     "config file not found"),
    ({"name": "s", "out": "o", "jobs": [{"name": "a", "config": "tiny.yaml", "bogus": 1}]},
     "bogus"),
    ({"name": "s", "out": "o", "jobs": [{"name": "a", "config": "tiny.yaml",
                                         "set": {"model.hidden": "x"}}]}, "job a"),
    ({"name": "s", "out": "o", "jobs": [{"name": "a", "config": "tiny.yaml"},
                                        {"name": "a", "config": "tiny.yaml"}]}, "duplicate"),
    ({"name": "s", "out": "o", "defaults": {"designs": [{"name": "r", "retime": True}]},
      "jobs": [{"name": "a", "config": "tiny.yaml"}]}, "retime"),
    ({"name": "s", "out": "o", "defaults": {"designs": [{"name": "l", "leafwise": True}]},
      "jobs": [{"name": "a", "config": "tiny.yaml"}]}, "leafwise needs partition"),
    ({"name": "s", "out": "o", "defaults": {"designs": [
        {"name": "l", "leafwise": True, "partition": True, "retime": True,
         "targets": ["asic"]}]},
      "jobs": [{"name": "a", "config": "tiny.yaml"}]}, "leafwise needs"),
    ({"name": "s", "out": "o", "defaults": {"designs": [
        {"name": "p", "partition": ["fpga"], "targets": ["asic"]}]},
      "jobs": [{"name": "a", "config": "tiny.yaml"}]}, "partition lists targets"),
    ({"name": "s", "out": "o", "defaults": {"designs": [
        {"name": "l", "leafwise": True, "partition": ["fpga"]}]},
      "jobs": [{"name": "a", "config": "tiny.yaml"}]}, "leafwise needs"),
    ({"name": "s", "out": "o", "defaults": {"set": {"train.hw_aware": {"epochs": 1}}},
      "jobs": [{"name": "a", "config": "tiny.yaml", "set": {"model.weight_bits": 4}}]},
     "weight_bits: 8"),
])
def test_bad_sweeps_fail_before_running(tmp_path: Path, sweep: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sweep(_write(tmp_path, sweep))


def test_leafwise_designs_have_their_own_asic_key() -> None:
    """A leaf-by-leaf design is recorded (and looked up) under ``<label>_leafwise/asic``;
    its FPGA count keeps the plain key."""
    from hwnn.sweep.job import synth_entry_key
    from hwnn.sweep.spec import DesignSpec

    d = DesignSpec(name="p", partition=True, leafwise=True)
    assert synth_entry_key(d, "asic") == "embedded_part_leafwise/asic"
    assert synth_entry_key(d, "fpga") == "embedded_part/fpga"
    assert synth_entry_key(DesignSpec(name="p", partition=True), "asic") == "embedded_part/asic"


def test_partition_per_target_keys_and_simulates_both_forms(tmp_path: Path) -> None:
    """``partition: [fpga]``: the xc7 count comes from the partitioned Verilog, the ASIC from
    the whole design, and both Verilog forms are simulated (each sim file once)."""
    from hwnn.sweep.job import _sim_designs, synth_entry_key
    from hwnn.sweep.spec import DesignSpec, Job

    d = DesignSpec(name="p", partition=["fpga"])
    assert synth_entry_key(d, "asic") == "embedded/asic"
    assert synth_entry_key(d, "fpga") == "embedded_part/fpga"
    assert d.rtl_forms() == [False, True]
    assert DesignSpec(name="q", partition=True).rtl_forms() == [True]
    job = Job(name="j", config={}, steps=["sim"], sim_vectors=10, power_vectors=0,
              clock_ns=2.0, timeout_s=60.0,
              designs=[d, DesignSpec(name="q", partition=True, targets=["fpga"])])
    sims = [(design.name, part, path.name) for design, part, path in _sim_designs(job, tmp_path)]
    assert sims == [("p", False, "sim.json"), ("p", True, "sim_embedded_part.json")]


def test_report_of_a_partly_partitioned_design_needs_both_sims(tmp_path: Path) -> None:
    """The report's sim entry of a ``partition: [fpga]`` design combines both Verilog forms'
    simulations (partitioned simulators suffixed ``/part``) and is None while one is
    missing."""
    from hwnn.sweep.report import collect_job
    from hwnn.sweep.spec import DesignSpec, Job

    job = Job(name="j", config={}, steps=["sim"], sim_vectors=10, power_vectors=0,
              clock_ns=2.0, timeout_s=60.0, designs=[DesignSpec(name="p", partition=["fpga"])])

    def sim(name: str, mismatches: int, vectors: int) -> None:
        (tmp_path / name).write_text(json.dumps({
            "passed": mismatches == 0, "vectors": vectors,
            "simulators": {"icarus": {"mismatches": mismatches}}}))

    sim("sim.json", 0, 10)
    assert collect_job(tmp_path, job)["designs"]["p"]["sim"] is None
    sim("sim_embedded_part.json", 2, 8)
    entry = collect_job(tmp_path, job)["designs"]["p"]
    assert entry["label"] == "embedded (fpga partitioned)"
    assert entry["sim"] == {"passed": False, "vectors": 8,
                            "mismatches": {"icarus": 0, "icarus/part": 2}}


def test_a_job_cancelled_by_a_stopped_sweep_is_marked_stopped(tmp_path: Path) -> None:
    """``record_stop`` turns a ``running`` job.json into ``stopped`` (steps kept) and leaves
    finished or failed jobs alone."""
    from hwnn.sweep.job import record_stop

    for name, state in (("r", "running"), ("d", "done"), ("f", "failed")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "job.json").write_text(json.dumps(
            {"name": name, "status": state, "steps": {"train": {"seconds": 1.0}},
             "current": "synth:prop:asic"}))
        record_stop(tmp_path / name)
    running = json.loads((tmp_path / "r" / "job.json").read_text())
    assert running["status"] == "stopped" and "resume" in running["error"]
    assert running["steps"] == {"train": {"seconds": 1.0}} and "current" not in running
    assert json.loads((tmp_path / "d" / "job.json").read_text())["status"] == "done"
    assert json.loads((tmp_path / "f" / "job.json").read_text())["status"] == "failed"
    record_stop(tmp_path / "missing")  # no job.json: nothing to do


def test_restricted_steps_run_alone_and_the_rest_resumes_later(tmp_path: Path) -> None:
    """``hwnn sweep --steps train --steps export``: each job keeps those of its steps, in its
    order; finished that way it is done for the restricted sweep but not for the full one,
    so the full sweep resumes the other steps. Unknown steps are refused."""
    from hwnn.sweep import restrict_steps
    from hwnn.sweep.job import JOB_FILE, job_is_done

    path = _write(tmp_path, {"name": "s", "out": str(tmp_path / "jobs"), "jobs": [
        {"name": "a", "config": "tiny.yaml"},
        {"name": "b", "config": "tiny.yaml", "steps": ["sim", "export"]}]})
    _, jobs = load_sweep(path)
    short = restrict_steps(jobs, ["export", "train"])
    assert [j.steps for j in short] == [["train", "export"], ["export"]]
    run = tmp_path / "jobs" / "a"
    run.mkdir(parents=True)
    (run / JOB_FILE).write_text(json.dumps({"name": "a", "status": "done",
                                            "job": short[0].model_dump(mode="json")}))
    assert job_is_done(run, short[0]) and not job_is_done(run, jobs[0])
    with pytest.raises(ConfigError, match="unknown step"):
        restrict_steps(jobs, ["train", "fit"])


def test_set_dotted_refuses_a_path_through_a_value() -> None:
    tree = {"a": 1}
    with pytest.raises(ConfigError, match="not a mapping"):
        set_dotted(tree, "a.b", 2)
    set_dotted(tree, "c.d", [1])
    assert tree == {"a": 1, "c": {"d": [1]}}


def test_small_sweep_on_ray_runs_reports_and_resumes(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "name": "tiny_sweep", "out": str(tmp_path / "jobs"),
        "defaults": {"sim_vectors": 100, "set": {"train.hw_aware": {
            "epochs": 1, "n_start": 20, "tolerance": 0.5}},
            "designs": [{"name": "prop", "targets": ["fpga"]}]},
        "jobs": [{"name": "a", "config": "tiny.yaml"},
                 {"name": "b", "config": "tiny.yaml", "set": {"train.seed": 1},
                  "designs": [{"name": "prop", "targets": ["fpga"],
                               "simulators": ["icarus"]}]}]})
    spec, jobs = load_sweep(path)
    seen: list[tuple[str, str | None]] = []
    report = run_sweep(spec, jobs, parallel=2, on_update=lambda name, status, done, total:
                       seen.append((name, None if status is None else status["status"])))
    assert sorted(seen) == [("a", "done"), ("b", "done")]
    rows = {r["name"]: r for r in report["jobs"]}
    for name in ("a", "b"):
        run = tmp_path / "jobs" / name
        synth = json.loads((run / "synth.json").read_text())["designs"]["embedded/fpga"]
        row = rows[name]
        assert row["status"] == "done" and row["hw_aware"]["n"] == 20
        assert row["designs"]["prop"]["fpga"]["luts"] == synth["luts"] > 0
        assert row["designs"]["prop"]["sim"] == {"passed": True, "vectors": 100,
                                                 "mismatches": row["designs"]["prop"]["sim"][
                                                     "mismatches"]}
        assert set(row["designs"]["prop"]["sim"]["mismatches"].values()) == {0}
        if name == "b":  # the design names its simulator
            assert list(row["designs"]["prop"]["sim"]["mismatches"]) == ["icarus"]
        assert (run / "job.log").read_text().count("=== job") == 2
    md = (tmp_path / "tiny_sweep_sweep.md").read_text()
    assert "| a | done | accuracy" in md
    # a second run skips both jobs without touching them
    stamp = (tmp_path / "jobs" / "a" / "job.json").stat().st_mtime_ns
    seen.clear()
    run_sweep(spec, jobs, parallel=2, on_update=lambda name, status, done, total:
              seen.append((name, status)))
    assert sorted(seen) == [("a", None), ("b", None)]
    assert (tmp_path / "jobs" / "a" / "job.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs" / "sweeps")
                                        .glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_sweeps_load(path: Path) -> None:
    spec, jobs = load_sweep(path)
    assert spec.name == path.stem and jobs


def test_asic_results_of_an_older_flow_are_redone(tmp_path: Path) -> None:
    """A sweep resumes an ASIC result only when the mapping recipe, clock, power vectors and
    power method it was made with (and, partitioned, the stitch) are the current ones and it
    was made from the same IR; FPGA results only need the same IR."""
    from hwnn.eda.sta import POWER_METHOD_VERSION
    from hwnn.eda.stitch import STITCH_VERSION
    from hwnn.eda.yosys import ASIC_FLOW_VERSION
    from hwnn.sweep.job import _synth_done
    from hwnn.sweep.spec import Job

    job = Job(name="j", config={}, steps=["synth"], designs=[], sim_vectors=10,
              power_vectors=100, clock_ns=2.0, timeout_s=60)
    current = {"asic_flow": ASIC_FLOW_VERSION, "power_clock_mhz": 500.0, "power_vectors": 100,
               "power_vectors_method": POWER_METHOD_VERSION, "ir_fingerprint": "f1"}
    designs = {"embedded/asic": current, "generic/asic": {**current, "asic_flow": 1},
               "power_v1/asic": {k: v for k, v in current.items()
                                 if k != "power_vectors_method"},
               "old/asic": {"power_clock_mhz": 500.0, "power_vectors": 100,
                            "ir_fingerprint": "f1"},
               "slow/asic": {**current, "power_clock_mhz": 250.0},
               "part_old/asic": {**current, "partitions": 23},
               "part/asic": {**current, "partitions": 23,
                             "stitch": {"version": STITCH_VERSION}},
               "part_v1/asic": {**current, "partitions": 23, "stitch": {"version": 1}},
               "part_v0/asic": {**current, "partitions": 23, "stitch": {"version": 0}},
               "retrained/asic": {**current, "ir_fingerprint": "f0"},
               "unprinted/asic": {k: v for k, v in current.items() if k != "ir_fingerprint"},
               "embedded/fpga": {"luts": 5, "ir_fingerprint": "f1"},
               "retrained/fpga": {"luts": 5, "ir_fingerprint": "f0"}}
    (tmp_path / "synth.json").write_text(json.dumps({"designs": designs}))
    done = {key: _synth_done(tmp_path, key, job, key.split("/")[1], "f1") for key in designs}
    assert done == {"embedded/asic": True, "generic/asic": False, "power_v1/asic": False,
                    "old/asic": False, "slow/asic": False, "part_old/asic": False,
                    "part/asic": True, "part_v1/asic": True, "part_v0/asic": False,
                    "retrained/asic": False, "unprinted/asic": False,
                    "embedded/fpga": True, "retrained/fpga": False}
    assert not _synth_done(tmp_path, "missing/asic", job, "asic", "f1")
    assert not _synth_done(tmp_path, "embedded/asic", job, "asic", None)  # no IR exported


def _exported_run(run_dir: Path, seed: int = 0) -> str:
    """A run folder with an exported IR; returns its fingerprint."""
    from toy import random_ir

    from hwnn.ir import ir_fingerprint, save_ir

    run_dir.mkdir(parents=True, exist_ok=True)
    net = random_ir(seed, 5, 4, 3)
    save_ir(net, run_dir / "net.ir.json")
    return ir_fingerprint(net)


def test_finished_job_with_an_older_asic_result_is_not_done(tmp_path: Path) -> None:
    from hwnn.eda.sta import POWER_METHOD_VERSION
    from hwnn.eda.yosys import ASIC_FLOW_VERSION
    from hwnn.sweep.job import JOB_FILE, job_is_done
    from hwnn.sweep.spec import DesignSpec, Job

    job = Job(name="j", config={}, steps=["synth"], sim_vectors=10, power_vectors=100,
              clock_ns=2.0, timeout_s=60, designs=[DesignSpec(name="prop")])
    (tmp_path / JOB_FILE).write_text(json.dumps({"status": "done",
                                                 "job": job.model_dump(mode="json")}))
    fingerprint = _exported_run(tmp_path)
    entry = {"asic_flow": ASIC_FLOW_VERSION, "power_clock_mhz": 500.0, "power_vectors": 100,
             "power_vectors_method": POWER_METHOD_VERSION, "ir_fingerprint": fingerprint}
    synth = {"designs": {"embedded/asic": entry,
                         "embedded/fpga": {"luts": 3, "ir_fingerprint": fingerprint}}}
    (tmp_path / "synth.json").write_text(json.dumps(synth))
    assert job_is_done(tmp_path, job)
    synth["designs"]["embedded/asic"] = {**entry, "asic_flow": ASIC_FLOW_VERSION - 1}
    (tmp_path / "synth.json").write_text(json.dumps(synth))
    assert not job_is_done(tmp_path, job)


def test_results_of_a_retrained_network_are_redone(tmp_path: Path) -> None:
    """Retraining is not bit-reproducible: a simulation or synthesis made from another
    export of the run (another IR fingerprint) does not count as done, so a finished job
    whose network changed is simulated and synthesised again."""
    from hwnn.sweep.job import JOB_FILE, _sim_done, job_is_done
    from hwnn.sweep.spec import DesignSpec, Job

    job = Job(name="j", config={}, steps=["sim", "synth"], sim_vectors=10, power_vectors=0,
              clock_ns=2.0, timeout_s=60, designs=[DesignSpec(name="prop", targets=["fpga"])])
    (tmp_path / JOB_FILE).write_text(json.dumps({"status": "done",
                                                 "job": job.model_dump(mode="json")}))
    old = _exported_run(tmp_path, seed=0)
    sim = {"passed": True, "vectors": 10, "ir_fingerprint": old}
    (tmp_path / "sim.json").write_text(json.dumps(sim))
    (tmp_path / "synth.json").write_text(json.dumps(
        {"designs": {"embedded/fpga": {"luts": 3, "ir_fingerprint": old}}}))
    assert _sim_done(tmp_path / "sim.json", 10, old) and job_is_done(tmp_path, job)
    assert not _sim_done(tmp_path / "sim.json", 11, old)
    new = _exported_run(tmp_path, seed=1)  # the retrained network
    assert new != old
    assert not _sim_done(tmp_path / "sim.json", 10, new) and not job_is_done(tmp_path, job)
    (tmp_path / "sim.json").write_text(json.dumps({**sim, "ir_fingerprint": new}))
    assert not job_is_done(tmp_path, job)  # the synthesis is still the old network's


def test_a_job_whose_worker_dies_is_recorded_and_the_sweep_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's out-of-memory monitor kills a job's worker: ``ray.get`` raises. The sweep
    marks that job failed (keeping its finished steps) and still collects the others."""
    import types

    import hwnn.sweep.runner as runner

    class RayError(Exception):
        pass

    spec, jobs = load_sweep(_write(tmp_path, {
        "name": "s", "out": str(tmp_path / "out"), "defaults": {"steps": ["train"]},
        "jobs": [{"name": "a", "config": "tiny.yaml"}, {"name": "b", "config": "tiny.yaml"}]}))
    (tmp_path / "out" / "a").mkdir(parents=True)
    (tmp_path / "out" / "a" / "job.json").write_text(json.dumps(
        {"name": "a", "status": "running", "steps": {"train": {"seconds": 1.0}},
         "current": "export"}))

    def get(ref: str) -> dict:
        if ref == "a":
            raise RayError("1 worker(s) were killed due to the node running low on memory.")
        return {"name": "b", "status": "done", "seconds": 0.0}

    fake = types.SimpleNamespace(
        is_initialized=lambda: True, exceptions=types.SimpleNamespace(RayError=RayError),
        remote=lambda **_: (lambda fn: types.SimpleNamespace(
            remote=lambda data, run_dir: data["name"])),
        wait=lambda refs, num_returns, timeout: (refs[:1], refs[1:]), get=get,
        cancel=lambda *a, **k: None)
    monkeypatch.setattr(runner, "_ray", lambda: fake)
    seen: dict[str, str] = {}
    runner.run_sweep(spec, jobs, on_update=lambda name, st, done, total:
                     seen.update({name: st["status"]}))
    assert seen == {"a": "failed", "b": "done"}
    saved = json.loads((tmp_path / "out" / "a" / "job.json").read_text())
    assert saved["status"] == "failed" and "running low on memory" in saved["error"]
    assert saved["steps"] == {"train": {"seconds": 1.0}} and "current" not in saved


def test_a_job_running_or_finished_in_another_process_is_not_run_again(tmp_path: Path) -> None:
    """Two sweep processes that name the same job: the one that finds the job's lock held
    skips it without writing; one that finds it done when its worker starts returns the
    recorded status without running a step."""
    import fcntl

    from hwnn.sweep.job import JOB_FILE, JOB_LOCK, JOB_LOG, run_job
    from hwnn.sweep.spec import Job

    job = Job(name="j", config={}, steps=["train"], sim_vectors=10, power_vectors=0,
              clock_ns=2.0, timeout_s=60, designs=[])
    recorded = {"name": "j", "status": "running", "steps": {}}
    (tmp_path / JOB_FILE).write_text(json.dumps(recorded))
    with open(tmp_path / JOB_LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        status = run_job(job.model_dump(mode="json"), str(tmp_path))
    assert status["status"] == "skipped" and "another process" in status["error"]
    assert json.loads((tmp_path / JOB_FILE).read_text()) == recorded
    assert not (tmp_path / JOB_LOG).exists()

    done = {"name": "j", "status": "done", "steps": {"train": {"seconds": 3.0}},
            "job": job.model_dump(mode="json"), "seconds": 3.0}
    (tmp_path / JOB_FILE).write_text(json.dumps(done))
    status = run_job(job.model_dump(mode="json"), str(tmp_path))
    assert status["status"] == "done" and status["steps"] == done["steps"]
    assert json.loads((tmp_path / JOB_FILE).read_text()) == done
    assert not (tmp_path / JOB_LOG).exists()


def test_a_resumed_job_keeps_the_times_of_its_earlier_steps(tmp_path: Path) -> None:
    """A stopped job run again skips the steps it finished; its ``job.json`` still records
    how long they took (they made the results on disk)."""
    from hwnn.sweep.job import JOB_FILE, run_job
    from hwnn.sweep.spec import Job

    job = Job(name="j", config={}, steps=["sim"], sim_vectors=10, power_vectors=0,
              clock_ns=2.0, timeout_s=60, designs=[])
    earlier = {"train": {"seconds": 3.0}, "sim:prop": {"seconds": 5.0}}
    (tmp_path / JOB_FILE).write_text(json.dumps(
        {"name": "j", "status": "stopped", "steps": earlier}))
    status = run_job(job.model_dump(mode="json"), str(tmp_path))
    assert status["status"] == "done" and status["steps"] == earlier
    assert json.loads((tmp_path / JOB_FILE).read_text())["steps"] == earlier
