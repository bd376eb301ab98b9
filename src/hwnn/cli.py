"""Command-line interface (typer). Thin: parse, load the config, call the library."""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwnn.errors import HwnnError

if TYPE_CHECKING:
    from hwnn.logic.verilog import Style

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hwnn: train hardware-efficient neural networks, measure them as logic.")
data_app = typer.Typer(no_args_is_help=True, help="Shipped datasets: verify and describe.")
app.add_typer(data_app, name="data")
console = Console()

@app.callback()
def _options(
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="torch CPU threads (default: one per core). Use 1 when other "
        "jobs share the machine: two threads fighting for a loaded core ran 50 small "
        "training steps 35x slower (docs/usage.md)")] = None,
) -> None:
    """hwnn: train hardware-efficient neural networks, measure them as logic."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="shipped data folder (default: $HWNN_DATA_DIR, else ../shared/data "
    "next to the repository)")]


def _fail(err: Exception) -> None:
    console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _train(cfg: Any, out: Path, data_dir: Path | None, progress: bool) -> dict[str, Any]:
    from hwnn.data import load_dataset
    from hwnn.train.loop import Trainer

    if data_dir is not None:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(
            update={"data_dir": str(data_dir)})})
    t0 = time.perf_counter()
    with console.status(f"loading dataset {cfg.data.task} ..."):
        dataset = load_dataset(cfg.data.task, cfg.data.data_dir, cfg.data.seed, cfg.data.ofc)
    console.print(f"dataset {dataset.name}: input width {dataset.input_width}, "
                  f"train/val/test {len(dataset.train)}/{len(dataset.val)}/{len(dataset.test)} "
                  f"({time.perf_counter() - t0:.1f}s)")
    return Trainer(cfg, dataset, out, console=console, progress=progress).run()


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    summary = metrics["summary_test"]
    table = Table(title=f"{metrics['name']}: test {summary['metric']}")
    for col in ("stage", summary["metric"]):
        table.add_column(col)
    labels = {"float": "float", "qat": "QAT", "pruned_before_finetune": "pruned (no fine-tune)",
              "finetune": "pruned + fine-tuned",
              "hw_aware": f"hardware-aware, n = {summary.get('hw_aware_n')} cheapest values"}
    for key, label in labels.items():
        if key in summary:
            value = summary[key]
            text = f"{100 * value:.2f}%" if summary["metric"] == "accuracy" else f"{value:.3e}"
            table.add_row(label, text)
    console.print(table)
    console.print(f"run folder: {out} (metrics.json, model.pt)")


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="run config YAML (see configs/)")],
    out: Annotated[Path | None, typer.Option(help="run folder (default runs/<name>)")] = None,
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Train a network: float → QAT → prune → fine-tune. Rerun to resume."""
    from hwnn.config import load_config

    try:
        cfg = load_config(config)
        out = out or Path("runs") / cfg.name
        metrics = _train(cfg, out, data_dir, progress)
    except HwnnError as err:
        _fail(err)
    _print_summary(metrics, out)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/demo"),
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    hardware: Annotated[bool, typer.Option(help="after training: export, Verilog, synthesis "
                                           "(asic + fpga), simulation, report.md")] = True,
    sim_vectors: Annotated[int, typer.Option(min=1, help="test vectors to simulate")] = 10_000,
    power_vectors: Annotated[int, typer.Option(min=0, help="test vectors for gate-level "
                                               "power")] = 500,
) -> None:
    """The built-in demo: train a small NID network on UNSW-NB15 (8-bit QAT + 75 % pruning),
    then turn it into measured logic: IR, Verilog, Yosys/OpenSTA numbers, bit-exact
    simulation and a Markdown report (about 5 minutes on 2 cores)."""
    import yaml

    from hwnn.config import parse_config

    text = resources.files("hwnn").joinpath("demo_config.yaml").read_text()
    try:
        cfg = parse_config(yaml.safe_load(text), "hwnn/demo_config.yaml")
        metrics = _train(cfg, out, data_dir, progress)
    except HwnnError as err:
        _fail(err)
    _print_summary(metrics, out)
    if hardware:
        _demo_hardware(out, data_dir, sim_vectors, power_vectors)


def _demo_hardware(out: Path, data_dir: Path | None, sim_vectors: int,
                   power_vectors: int) -> None:
    from hwnn.methods.logic_flow import export as export_ir
    from hwnn.methods.logic_flow import simulate_run, write_verilog
    from hwnn.methods.synth_flow import synth_run
    from hwnn.report import write_run_report

    dd = str(data_dir) if data_dir else None
    try:
        t0 = time.perf_counter()
        console.print(f"exported {export_ir(out)}")
        console.print(f"wrote {write_verilog(out)}")
        with console.status("synthesising for Nangate45 (Yosys + ABC, OpenSTA, gate-level "
                            "activity) ..."):
            console.print(synth_summary(synth_run(out, "asic", power_vectors=power_vectors,
                                                  data_dir=dd)))
        with console.status("synthesising for xc7 (synth_xilinx) ..."):
            console.print(synth_summary(synth_run(out, "fpga", data_dir=dd)))
        with console.status(f"simulating {sim_vectors:,} test vectors ..."):
            sim_report = simulate_run(out, sim_vectors, data_dir=dd)
        for name, res in sim_report["simulators"].items():
            console.print(f"{name}: {res['mismatches']} mismatches on {res['vectors']:,} "
                          f"vectors ({res['seconds']} s)")
        report = write_run_report(out)
    except HwnnError as err:
        _fail(err)
    console.print(f"hardware flow took {time.perf_counter() - t0:.0f} s; report: {report} "
                  f"(synth.json, sim.json beside it)")
    if not sim_report["passed"]:
        raise typer.Exit(1)


RunDir = Annotated[Path, typer.Argument(help="run folder written by `hwnn train`")]


@app.command()
def export(run: RunDir) -> None:
    """Write the integer IR (net.ir.json + net.ir.npz) of a trained run."""
    from hwnn.methods.logic_flow import export as export_ir

    try:
        path = export_ir(run)
    except HwnnError as err:
        _fail(err)
    from hwnn.ir import load_ir
    from hwnn.ir.lut import LutNetwork

    net = load_ir(path)
    if isinstance(net, LutNetwork):
        for lut in net.layers:
            console.print(f"{lut.name}: {lut.out_features} LUT neurons, fan-in {lut.fan_in} x "
                          f"{lut.in_bits} bits = {lut.address_bits}-bit tables, out "
                          f"{'int' if lut.out_signed else 'uint'}{lut.out_bits}")
        console.print(f"wrote {path} (head: {net.head.kind})")
        return
    for layer in net.layers:
        what = "kept W+/W- parameters (SAM)" if layer.kind == "sam" else "non-zero weights"
        shape = (f"{'x'.join(map(str, layer.in_shape))} -> {'x'.join(map(str, layer.out_shape()))}"
                 f" ({layer.kernel}x{layer.kernel} conv, pool {layer.pool or 1})"
                 if layer.kind == "conv" else f"{layer.in_features} -> {layer.out_features}")
        console.print(f"{layer.name}: {shape}, "
                      f"{layer.nonzero_weights()} {what}, acc {layer.acc_bits} bits, "
                      f"out {'int' if layer.out_signed else 'uint'}{layer.out_bits} "
                      f"{layer.activation}")
    console.print(f"wrote {path} (head: {net.head.kind})")


IrVariant = Annotated[str, typer.Option(
    "--ir", help="which IR: net (exported) or profiled (after `hwnn profile`)")]
Generic = Annotated[bool, typer.Option(help="generic baseline: weights in registers, not "
                                       "embedded")]
Csd = Annotated[bool, typer.Option(help="embedded weights with every product written as CSD "
                                   "shifts and adds (for designs too large for Yosys' "
                                   "multiplier arrays; see docs/usage.md)")]
ExtraStages = Annotated[int, typer.Option(min=0, help="extra register stages per layer "
                                          "(for retiming)")]
Partition = Annotated[bool, typer.Option(help="one Verilog module per neuron, synthesised one "
                                         "by one (for designs too large for one Yosys run; "
                                         "embedded/csd only; see docs/usage.md)")]


def _style(generic: bool, csd: bool) -> Style:
    if generic and csd:
        _fail(HwnnError("--generic and --csd exclude each other: the generic baseline has no "
                        "constant products to rewrite"))
    return "generic" if generic else "csd" if csd else "embedded"


@app.command()
def verilog(run: RunDir, generic: Generic = False, csd: Csd = False,
            extra_stages: ExtraStages = 0, ir: IrVariant = "net",
            partition: Partition = False) -> None:
    """Write synthesizable Verilog-2005 of the exported IR to RUN/rtl/."""
    from hwnn.methods.logic_flow import write_verilog

    style = _style(generic, csd)
    try:
        path = write_verilog(run, style, extra_stages, ir, partition)
    except HwnnError as err:
        _fail(err)
    console.print(f"wrote {path} ({path.stat().st_size:,} bytes)")


@app.command()
def sim(
    run: RunDir,
    vectors: Annotated[int, typer.Option(min=1, help="test vectors")] = 10_000,
    generic: Generic = False,
    csd: Csd = False,
    extra_stages: ExtraStages = 0,
    simulator: Annotated[list[str] | None, typer.Option(
        help="icarus and/or verilator (default: every one installed)")] = None,
    ir: IrVariant = "net",
    data_dir: DataDir = None,
    partition: Partition = False,
) -> None:
    """Bit-exact check: torch integer mode == IR reference == RTL simulation (sim.json)."""
    from hwnn.methods.logic_flow import simulate_run

    style = _style(generic, csd)
    try:
        with console.status("simulating ..."):
            report = simulate_run(run, vectors, style,
                                  extra_stages, simulator,
                                  str(data_dir) if data_dir else None, ir,
                                  partition=partition)
    except HwnnError as err:
        _fail(err)
    note = "" if report["torch_vs_ir_required_equal"] else " (profiled IR: informational)"
    console.print(f"torch vs IR: {report['torch_vs_ir_mismatches']} mismatches on "
                  f"{report['vectors']} vectors{note}")
    for name, res in report["simulators"].items():
        console.print(f"{name}: {res['mismatches']} mismatches on {res['vectors']} vectors "
                      f"({res['seconds']} s)")
        if res["first_failure"]:
            console.print(f"  first failure: {res['first_failure']}")
    console.print(f"wrote {report['path']}")
    if not report["passed"]:
        raise typer.Exit(1)


@app.command()
def profile(
    run: RunDir,
    quantile: Annotated[float | None, typer.Option(
        min=0.0, max=0.49, help="drop this share of outliers on each side of every neuron's "
        "range (e.g. 1e-4); default: keep the full observed range")] = None,
    overflow: Annotated[str, typer.Option(help="saturate or wrap outside the profiled "
                                          "range")] = "saturate",
    train_samples: Annotated[int | None, typer.Option(
        min=1, help="profile on the first N training inputs (default: all)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Adder bit-width profiling (seed 000 §III-B): size every neuron's adder to the range the
    training data uses; writes profiled.ir.json and profile.json."""
    from hwnn.methods.profiling import profile_run

    if overflow not in ("saturate", "wrap"):
        _fail(HwnnError(f"--overflow must be saturate or wrap, got {overflow!r}"))
    try:
        with console.status("profiling accumulators ..."):
            report = profile_run(run, quantile, overflow,  # type: ignore[arg-type]
                                 train_samples, str(data_dir) if data_dir else None)
    except HwnnError as err:
        _fail(err)
    table = Table(title=f"adder widths, {report['train_samples']:,} training inputs"
                  + (f", quantile {quantile:g}" if quantile else ""))
    for col in ("layer", "layer acc bits", "worst case / neuron", "profiled / neuron",
                "adder bits saved"):
        table.add_column(col)
    for la in report["layers"]:
        table.add_row(la["layer"], str(la["layer_acc_bits"]),
                      "{}..{}".format(*la["worst_case_bits"]),
                      "{}..{}".format(*la["profiled_bits"]), str(la["bits_saved"]))
    console.print(table)
    test = report["test"]
    metric = "accuracy" if "accuracy" in test["worst_case"] else "ber"
    console.print(f"test {metric}: worst case {test['worst_case'][metric]:.6g}, profiled "
                  f"{test['profiled'][metric]:.6g} ({test['changed_outputs']} of "
                  f"{test['vectors']:,} outputs changed)")
    console.print(f"wrote {report['profiled_ir']} and {run / 'profile.json'}")


@app.command()
def synth(
    run: RunDir,
    target: Annotated[str, typer.Option(help="asic (Nangate45: area, fmax, power) or fpga "
                                        "(xc7 LUT6/FF/CARRY)")] = "asic",
    generic: Generic = False,
    csd: Csd = False,
    extra_stages: ExtraStages = 0,
    retime: Annotated[bool, typer.Option(help="let ABC retime the registers (asic)")] = False,
    ir: IrVariant = "net",
    clock_ns: Annotated[float, typer.Option(
        min=0.01, help="clock period for power (and ABC's delay target), ns")] = 2.0,
    power_vectors: Annotated[int, typer.Option(
        min=0, help="test vectors for gate-level activity (0: vectorless only)")] = 1000,
    dsp: Annotated[bool, typer.Option(help="fpga: allow DSP48 blocks (default: LUTs "
                                      "only)")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="per-tool timeout, s")] = 3600,
    data_dir: DataDir = None,
    partition: Partition = False,
    jobs: Annotated[int, typer.Option(min=1, help="--partition: Yosys processes at a time "
                                      "(each within the tool memory cap); with --leafwise "
                                      "also the neurons of a layer analysed at once")] = 1,
    leafwise: Annotated[bool, typer.Option(
        help="--partition, asic: timing, power and the gate-level check one neuron at a time "
             "(no flat netlist; for designs whose flat netlist does not fit in memory)")
    ] = False,
) -> None:
    """Synthesise one design of a run (Yosys/ABC, OpenSTA, Icarus) into RUN/synth.json."""
    from hwnn.methods.synth_flow import synth_run

    if target not in ("asic", "fpga"):
        _fail(HwnnError(f"--target must be asic or fpga, got {target!r}"))
    style = _style(generic, csd)
    try:
        with console.status(f"synthesising ({target}) ...") as status:
            def progress(done: int, total: int, module: str) -> None:
                status.update(f"synthesising ({target}): {done}/{total} modules done "
                              f"(last {module})")

            entry = synth_run(run, target, style,  # type: ignore[arg-type]
                              extra_stages, ir, retime, clock_ns, 0.5, power_vectors, dsp,
                              timeout, str(data_dir) if data_dir else None, partition, jobs,
                              progress, leafwise)
    except HwnnError as err:
        _fail(err)
    console.print(synth_summary(entry))
    console.print(f"wrote {entry['path']} (logs in {Path(entry['verilog']).parent})")


def synth_summary(entry: dict[str, Any]) -> str:
    """One line per synthesis entry."""
    if entry["target"] == "fpga":
        return (f"fpga: {entry['luts']:,} LUTs, {entry['flip_flops']:,} FFs, "
                f"{entry['carry4']:,} CARRY4, {entry['dsp']} DSP ({entry['seconds']} s)")
    text = (f"asic: {entry['area_um2']:,.1f} um^2, {entry['cells']:,} cells, "
            f"{entry['flip_flops']:,} FFs, fmax {entry['fmax_mhz']:.1f} MHz, power @ "
            f"{entry['power_clock_mhz']:g} MHz:")
    if "power_vectorless_mw" in entry:
        text += f" {entry['power_vectorless_mw']:.3f} mW vectorless,"
    if entry.get("timing_power_flow") == "leafwise":
        text += " leaf by leaf,"
    if "power_vectors_mw" in entry:
        text += (f" {entry['power_vectors_mw']:.3f} mW from {entry['power_vectors']} test "
                 f"vectors (netlist vs IR mismatches: {entry['gate_level_vs_ir_mismatches']})")
    return text + f" ({entry['seconds']} s)"


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="sweep YAML (see configs/sweeps/)")],
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (default: start a local Ray with --jobs cores)")] = None,
    jobs: Annotated[int | None, typer.Option(min=1, help="jobs at once on local Ray "
                                             "(default: all cores)")] = None,
    only: Annotated[list[str] | None, typer.Option(help="run only this job (repeatable)")] = None,
    steps: Annotated[list[str] | None, typer.Option(
        help="run only this step of each job: train, export, sim or synth (repeatable; the "
             "others resume on a later run without --steps)")] = None,
    report_only: Annotated[bool, typer.Option(help="rebuild the combined report, run "
                                              "nothing")] = False,
) -> None:
    """Run many train -> export -> sim -> synth jobs as Ray tasks; resumes finished jobs."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hwnn.sweep import load_sweep, restrict_steps, run_sweep, write_report

    try:
        spec, job_list = load_sweep(file)
        if steps:
            job_list = restrict_steps(job_list, steps)
    except HwnnError as err:
        _fail(err)
    if report_only:
        report = write_report(spec, job_list)
        console.print(f"report: {', '.join(report['paths'])}")
        return
    console.print(f"sweep {spec.name}: {len(job_list)} jobs -> {spec.out} (per-job logs: "
                  f"{spec.out}/<job>/job.log)")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("jobs", total=len(only) if only else len(job_list))

        def update(name: str, status: dict[str, Any] | None, done: int, total: int) -> None:
            text = ("done earlier" if status is None else
                    f"{status['status']} in {status.get('seconds', 0):.0f} s"
                    + (f": {status['error']}" if status.get("error") else ""))
            progress.console.print(f"{name}: {text}", highlight=False, soft_wrap=True)
            progress.update(task, completed=done, total=total)

        try:
            report = run_sweep(spec, job_list, address=address, parallel=jobs, only=only,
                               on_update=update)
        except HwnnError as err:
            _fail(err)
        except KeyboardInterrupt:
            console.print("[yellow]sweep stopped[/]: the running jobs were cancelled; run the "
                          "same command again to resume them")
            raise typer.Exit(130) from None
    failed = [r["name"] for r in report["jobs"] if r["status"] == "failed"]
    console.print(f"report: {', '.join(report['paths'])}")
    if failed:
        console.print(f"[bold red]{len(failed)} job(s) failed:[/] {', '.join(failed)}")
        raise typer.Exit(1)


@app.command("sam-hardware")
def sam_hardware(
    run: RunDir,
    out: Annotated[Path, typer.Option(help="new run folder for the pruned integer network")],
    threshold: Annotated[int | None, typer.Option(
        help="remove W+/W- activated fewer than this many times over the validation signals "
        "(1: only the never-activated ones, seed 001's accuracy-0.95 point)")] = None,
    max_loss: Annotated[float | None, typer.Option(
        help="instead: the largest threshold whose validation accuracy stays within this of "
        "the unpruned network (seed 001: 0.05)")] = None,
    bits: Annotated[int | None, typer.Option(
        help="SAM input/parameter/output bits (default: the run's model.act_bits)")] = None,
    percentile: Annotated[float, typer.Option(
        help="input calibration: the scale covers this percentile of |x|")] = 100.0,
) -> None:
    """Prune a trained SAM run by activation rate and quantize it to integers (seed 001
    §III-D + post-training quantization) into a new run folder that `hwnn export`,
    `verilog`, `sim` and `synth` take."""
    from hwnn.methods.sam_hardware import REPORT, make_hardware_run

    try:
        default = 1 if threshold is None and max_loss is None else threshold
        rep = make_hardware_run(run, out, default, max_loss, bits, percentile)
    except HwnnError as err:
        _fail(err)
    console.print(f"threshold {rep['threshold']}: kept {rep['kept_parameters']:,} of "
                  f"{rep['total_parameters']:,} parameters; test accuracy float (pruned) "
                  f"{rep['test_accuracy_pruned_float']:.4f}, integer "
                  f"{rep['test_accuracy_integer']:.4f} ({rep['bits']}-bit)")
    console.print(f"wrote {out} ({REPORT}); next: hwnn export {out}")


@app.command("relu-pred")
def relu_pred(
    run: RunDir,
    max_loss: Annotated[float, typer.Option(
        help="keep the smallest N_L whose validation accuracy loss is under this (seed 003: "
        "0.01)")] = 0.01,
    images: Annotated[int | None, typer.Option(
        "--images", min=1, help="use the first N images of the validation and test splits "
        "(default: all)")] = None,
    data_dir: DataDir = None,
) -> None:
    """ReLU prediction on a trained 8-bit CNN run (seed 003): N_L search for the
    power-of-two ApproxConv, accuracy of Prop-1/2 and SignConnect-1/2, skipped convolutions
    per layer; writes RUN/relu_pred.json and the IR of each variant (RUN/prop1.ir.json, ...)."""
    from hwnn.methods.logic_flow import export as export_ir
    from hwnn.methods.relu_pred import RESULT_FILE, export_predicted, relu_prediction_study
    from hwnn.train.io import atomic_write_json

    try:
        with console.status("ReLU prediction ...") as status:
            result = relu_prediction_study(
                run, max_loss, data_dir=str(data_dir) if data_dir else None, n=images,
                progress=lambda msg: status.update(f"ReLU prediction: {msg}"))
    except HwnnError as err:
        _fail(err)
    atomic_write_json(run / RESULT_FILE, result)
    try:
        irs = [export_ir(run), *export_predicted(run, result).values()]
    except HwnnError as err:
        _fail(err)
    table = Table("variant", "N_L", "bits", "val acc", "test acc", "skipped (test)")
    base = result["baseline"]
    table.add_row("Baseline", "-", "-", f"{base['val_accuracy']:.2%}",
                  f"{base['test_accuracy']:.2%}", "0")
    for name, v in result["variants"].items():
        if "test_accuracy" not in v:
            table.add_row(name, "-", "-", "-", "-", v.get("note", ""))
            continue
        outputs = sum(c["outputs"] for c in v["counts"].values())
        skipped = sum(c["skipped"] for c in v["counts"].values())
        table.add_row(name, str(v.get("n_levels", "-")), str(v["weight_bits"]),
                      f"{v['val_accuracy']:.2%}", f"{v['test_accuracy']:.2%}",
                      f"{skipped / outputs:.1%} of conv outputs")
    console.print(table)
    console.print(f"wrote {run / RESULT_FILE} and {', '.join(p.name for p in irs)}")


@app.command()
def stream(
    run: RunDir,
    variant: Annotated[str, typer.Option(
        help="IR variant: net (exact baseline) or a ReLU-prediction variant written by "
        "`hwnn relu-pred` (prop1, prop2, signconnect1, signconnect2)")] = "net",
    target: Annotated[str | None, typer.Option(
        help="also synthesise: asic (Nangate45 area, fmax, power from test images) or fpga "
        "(LUT6)")] = None,
    sim_images: Annotated[int, typer.Option(
        min=0, help="RTL simulation on the first N test images (0: skip)")] = 100,
    simulator: Annotated[str, typer.Option(help="verilator or icarus")] = "verilator",
    per_digit: Annotated[int, typer.Option(
        min=1, help="asic power: this many test images of every digit")] = 2,
    clock_ns: Annotated[float, typer.Option(help="power clock period (seed 003: 100 MHz)")
                        ] = 10.0,
    jobs: Annotated[int, typer.Option(min=1, help="Yosys processes at a time")] = 1,
    power: Annotated[bool, typer.Option(
        help="asic: measure power (compiled gate-level simulation of the netlist + OpenSTA)")
    ] = True,
    operand_isolation: Annotated[bool, typer.Option(
        help="control design: a shared operand register that loads complete windows only "
        "in the layers without prediction (results under VARIANT_isolated)")] = False,
    data_dir: DataDir = None,
) -> None:
    """The CNN's conv layers as a streaming accelerator (seed 003 §V): Verilog, RTL
    simulation against the IR reference, and optionally synthesis with measured power
    (RUN/stream_sim.json, RUN/stream_synth.json)."""
    from hwnn.methods.stream_flow import stream_sim, stream_synth

    if target not in (None, "asic", "fpga"):
        _fail(HwnnError(f"--target must be asic or fpga, got {target!r}"))
    if simulator not in ("verilator", "icarus"):
        _fail(HwnnError(f"--simulator must be verilator or icarus, got {simulator!r}"))
    dd = str(data_dir) if data_dir else None
    try:
        if sim_images:
            with console.status(f"RTL simulation of {sim_images} images ({simulator}) ..."):
                sim = stream_sim(run, variant, sim_images, simulator,  # type: ignore[arg-type]
                                 dd, operand_isolation)
            console.print(f"{variant}: RTL vs IR on {sim['images']} images: "
                          f"{sim['mismatching_pixels']} mismatching of "
                          f"{sim['output_pixels']:,} output pixels; torch integer mode vs "
                          f"IR: {sim['torch_vs_ir_mismatching_images']} mismatching images; "
                          f"latency {sim['latency_cycles']} cycles")
        if target is not None:
            with console.status(f"synthesising ({target}) ...") as status:
                entry = stream_synth(
                    run, variant, target, per_digit, clock_ns, jobs, data_dir=dd,  # type: ignore[arg-type]
                    progress=lambda done, total, module: status.update(
                        f"synthesising ({target}): {done}/{total} units (last {module})"),
                    power=power, operand_isolation=operand_isolation)
            if target == "fpga":
                console.print(f"fpga: {entry['luts']:,} LUTs, {entry['flip_flops']:,} FFs")
            elif "dynamic_power_mw" not in entry:
                console.print(f"asic: {entry['area_um2']:,.0f} um^2, {entry['cells']:,} cells, "
                              f"fmax {entry['fmax_mhz']:.1f} MHz (power not measured)")
            else:
                console.print(
                    f"asic: {entry['area_um2']:,.0f} um^2, fmax {entry['fmax_mhz']:.1f} MHz, "
                    f"dynamic power {entry['dynamic_power_mw']:.3f} mW at "
                    f"{entry['power_clock_mhz']:g} MHz ({entry['power_images']} images), "
                    f"{entry['dynamic_energy_per_image_nj']:.3f} nJ/image, gate-level "
                    f"mismatches {entry['gate_level_vs_ir_mismatching_pixels']}")
    except HwnnError as err:
        _fail(err)


@app.command("filter-prune")
def filter_prune(
    file: Annotated[Path, typer.Argument(help="filter-pruning study YAML (see "
                                         "configs/filter_prune/)")],
    part: Annotated[list[str] | None, typer.Option(
        help="run only this part: ranking or hardware (repeatable; default: all the study "
        "gives); the other parts' earlier results are kept")] = None,
) -> None:
    """Iterative filter pruning + fine-tuning from a trained network (seed 002 ch. 4);
    resumes finished iterations; writes OUT/filter_prune.json."""
    from hwnn.methods.filter_prune import RESULTS, load_study, run_study

    try:
        study, _, _ = load_study(file)
        run_study(file, console, parts=part)
    except HwnnError as err:
        _fail(err)
    console.print(f"results: {Path(study.out) / RESULTS}")


@data_app.command("verify")
def data_verify(data_dir: DataDir = None) -> None:
    """Check the SHA-256 of every shipped data file."""
    from hwnn.data.paths import resolve_data_dir, verify_all

    try:
        root = resolve_data_dir(data_dir)
    except HwnnError as err:
        _fail(err)
    rows = verify_all(root)
    for relpath, ok, message in rows:
        mark = "[green]ok[/]" if ok else "[bold red]FAIL[/]"
        console.print(f"{mark}  {relpath}" + ("" if ok else f"  {message}"), highlight=False,
                      soft_wrap=True)
    bad = [r for r in rows if not r[1]]
    if bad:
        console.print(f"[bold red]{len(bad)} of {len(rows)} files failed[/] in {root}")
        raise typer.Exit(1)
    console.print(f"all {len(rows)} files verified in {root}")


@data_app.command("generate-jsc")
def data_generate_jsc(
    out: Annotated[Path, typer.Argument(help="output folder (resumes the chunks in it)")],
    jets_per_class: Annotated[int, typer.Option(min=1, help="matched jets per class")] = 100_000,
    chunk_jets: Annotated[int, typer.Option(min=1, help="jets per class per chunk")] = 500,
    seed: Annotated[int, typer.Option(min=0, max=999, help="generation seed")] = 0,
    jobs: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Generate the JSC jets with Pythia 8 + FastJet (hwnn.data.jsc; needs hwnn[jsc])."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from hwnn.data.jsc import JSCSettings, generate_jsc

    try:
        settings = JSCSettings(jets_per_class=jets_per_class, chunk_jets=chunk_jets, seed=seed)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("chunks", total=settings.chunks() * 4)

            def update(stats: dict[str, Any], done: int, total: int) -> None:
                progress.update(task, completed=done, description=(
                    f"chunks (last: {stats['process']} #{stats['index']}, "
                    f"{stats['events']} events, {stats['seconds']:.0f} s)"))

            record = generate_jsc(out, settings, jobs=jobs, on_chunk=update)
    except HwnnError as err:
        _fail(err)
    console.print(f"{sum(record['jets'].values()):,} jets in {Path(out) / 'jsc_features.npz'} "
                  f"(sha256 {next(iter(record['sha256'].values()))[:16]}...), "
                  f"{sum(record['cpu_seconds'].values()):.0f} CPU s")


@data_app.command("info")
def data_info(
    name: Annotated[str, typer.Argument(help="mnist | fashion | nid | ofc | sam | jsc")],
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Sizes, input width and class balance of a dataset (OFC: also the linear-FFE BER)."""
    from hwnn.data import DATASETS, load_dataset
    from hwnn.train.build import dataset_summary

    if name not in DATASETS:
        _fail(HwnnError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}"))
    try:
        with console.status(f"loading {name} ..."):
            dataset = load_dataset(name, data_dir)
    except HwnnError as err:
        _fail(err)
    summary = dataset_summary(dataset)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    table = Table(title=f"dataset {name}", show_header=False)
    table.add_row("kind", summary["kind"])
    table.add_row("input width", str(summary["input_width"]))
    iq = summary["input_quant"]
    table.add_row("input code", f"{'int' if iq['signed'] else 'uint'}{iq['bits']}, scale "
                  f"{iq['scale'] if iq['scale'] is not None else 'learned (power of two)'}")
    table.add_row("outputs", str(summary["num_outputs"]))
    for split, size in summary["sizes"].items():
        table.add_row(f"{split} size", f"{size:,}")
    for split, counts in summary["class_balance"].items():
        table.add_row(f"{split} classes", " ".join(str(c) for c in counts))
    for key, value in summary["info"].items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
