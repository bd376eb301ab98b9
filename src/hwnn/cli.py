"""Command-line interface (typer). Thin: parse, load the config, call the library."""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwnn.errors import HwnnError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hwnn: train hardware-efficient neural networks, measure them as logic.")
data_app = typer.Typer(no_args_is_help=True, help="Shipped datasets: verify and describe.")
app.add_typer(data_app, name="data")
console = Console()

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
              "finetune": "pruned + fine-tuned"}
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
) -> None:
    """Train the built-in demo (NID-A on UNSW-NB15, 8-bit QAT + 50 % pruning) in a few
    minutes and print its accuracy."""
    import yaml

    from hwnn.config import parse_config

    text = resources.files("hwnn").joinpath("demo_config.yaml").read_text()
    try:
        cfg = parse_config(yaml.safe_load(text), "hwnn/demo_config.yaml")
        metrics = _train(cfg, out, data_dir, progress)
    except HwnnError as err:
        _fail(err)
    _print_summary(metrics, out)


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

    net = load_ir(path)
    for layer in net.layers:
        console.print(f"{layer.name}: {layer.in_features} -> {layer.out_features}, "
                      f"{layer.nonzero_weights()} non-zero weights, acc {layer.acc_bits} bits, "
                      f"out {'int' if layer.out_signed else 'uint'}{layer.out_bits} "
                      f"{layer.activation}")
    console.print(f"wrote {path} (head: {net.head.kind})")


@app.command()
def verilog(
    run: RunDir,
    generic: Annotated[bool, typer.Option(help="generic baseline: weights in registers, "
                                          "not embedded")] = False,
    extra_stages: Annotated[int, typer.Option(min=0, help="extra register stages per layer "
                                              "(for retiming)")] = 0,
) -> None:
    """Write synthesizable Verilog-2005 of the exported IR to RUN/rtl/."""
    from hwnn.methods.logic_flow import write_verilog

    try:
        path = write_verilog(run, "generic" if generic else "embedded", extra_stages)
    except HwnnError as err:
        _fail(err)
    console.print(f"wrote {path} ({path.stat().st_size:,} bytes)")


@app.command()
def sim(
    run: RunDir,
    vectors: Annotated[int, typer.Option(min=1, help="test vectors")] = 10_000,
    generic: Annotated[bool, typer.Option(help="simulate the generic baseline")] = False,
    extra_stages: Annotated[int, typer.Option(min=0)] = 0,
    simulator: Annotated[list[str] | None, typer.Option(
        help="icarus and/or verilator (default: every one installed)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Bit-exact check: torch integer mode == IR reference == RTL simulation (sim.json)."""
    from hwnn.methods.logic_flow import simulate_run

    try:
        with console.status("simulating ..."):
            report = simulate_run(run, vectors, "generic" if generic else "embedded",
                                  extra_stages, simulator,
                                  str(data_dir) if data_dir else None)
    except HwnnError as err:
        _fail(err)
    console.print(f"torch vs IR: {report['torch_vs_ir_mismatches']} mismatches on "
                  f"{report['vectors']} vectors")
    for name, res in report["simulators"].items():
        console.print(f"{name}: {res['mismatches']} mismatches on {res['vectors']} vectors "
                      f"({res['seconds']} s)")
        if res["first_failure"]:
            console.print(f"  first failure: {res['first_failure']}")
    console.print(f"wrote {run / 'sim.json'}")
    if not report["passed"]:
        raise typer.Exit(1)


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


@data_app.command("info")
def data_info(
    name: Annotated[str, typer.Argument(help="mnist | fashion | nid | ofc | sam")],
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
