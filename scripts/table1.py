"""Seed 000 Table I, Fig. 9 and Fig. 10 from the ``configs/sweeps/table1.yaml`` sweep, with
the JSC rows from ``configs/sweeps/jsc.yaml`` (issue 11, on the data hwnn generates).

Reads the job folders under ``results/table1/jobs`` and ``results/jsc/jobs`` (run the sweeps
first: ``hwnn sweep configs/sweeps/table1.yaml``, ``hwnn sweep configs/sweeps/jsc.yaml``; rows
whose jobs have not finished show '–', a sweep whose folder does not exist is left out) and
writes ``results/table1/{table1_vs_seed.md,table1_vs_seed.json,fig9.png,fig10.png}`` (the
sweep's own combined report, ``table1_sweep.md|json``, sits beside them).

Column meanings (ours):
* metric: test accuracy (NID, MNIST) or BER (OFC) after float training, after 8-bit QAT +
  pruning + fine-tuning ("Pruned"), and after hardware-aware training ("Prop.").
* fmax: "Base." = generic design (weights in registers, not embedded), "Retim." = weights
  embedded, one extra register stage per layer, ABC retiming; OpenSTA, Nangate45 typical.
* power: both designs at the same 500 MHz clock, switching activity from 1,000 test vectors
  simulated on the mapped netlist; "Prop." = the retimed embedded design.
* weight values: 256 for the unrestricted 8-bit network; ours = the n selected.

Usage::

    python scripts/table1.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import score, table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw
from hwnn.sweep import load_sweep, write_report
from hwnn.sweep.report import dig

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "configs" / "sweeps" / "table1.yaml"
JSC_SWEEP = ROOT / "configs" / "sweeps" / "jsc.yaml"
OUT = ROOT / "results" / "table1"
TABLE_MD = "table1_vs_seed.md"
ROWS = ("ofc_a", "ofc_b", "ofc_c", "jsc_a", "jsc_b", "jsc_c", "nid_a", "nid_b", "nid_c",
        "mnist_mlp")
# Seed 000 Table I (their Float / Pruned / Prop., fmax Base. / Retim., power Base. / Prop.,
# weight values Prop.).
SEED: dict[str, dict[str, Any]] = {
    "ofc_a": {"shape": "21, 40, 25", "float": 4.34e-4, "pruned": 5.43e-4, "prop": 5.87e-4,
              "f_base": 338, "f_ret": 568, "p_base": 543, "p_prop": 88, "n": 70},
    "ofc_b": {"shape": "21, 50, 25", "float": 3.26e-4, "pruned": 3.91e-4, "prop": 4.13e-4,
              "f_base": 322, "f_ret": 510, "p_base": 622, "p_prop": 102, "n": 80},
    "ofc_c": {"shape": "21, 50, 50", "float": 2.39e-4, "pruned": 2.61e-4, "prop": 3.26e-4,
              "f_base": 306, "f_ret": 463, "p_base": 986, "p_prop": 122, "n": 80},
    "jsc_a": {"shape": "16, 64, 16, 16, 8", "float": 0.7394, "pruned": 0.7369,
              "prop": 0.7365, "f_base": 364, "f_ret": 564, "p_base": 763, "p_prop": 181,
              "n": 80},
    "jsc_b": {"shape": "16, 64, 32, 32, 32", "float": 0.7442, "pruned": 0.7420,
              "prop": 0.7411, "f_base": 336, "f_ret": 442, "p_base": 1270, "p_prop": 299,
              "n": 100},
    "jsc_c": {"shape": "16, 64, 48, 48, 32", "float": 0.7477, "pruned": 0.7450,
              "prop": 0.7444, "f_base": 305, "f_ret": 422, "p_base": 1783, "p_prop": 432,
              "n": 110},
    "nid_a": {"shape": "593, 20", "float": 0.9089, "pruned": 0.9063, "prop": 0.9034,
              "f_base": 458, "f_ret": 538, "p_base": 349, "p_prop": 120, "n": 100},
    "nid_b": {"shape": "593, 20, 20", "float": 0.9192, "pruned": 0.9185, "prop": 0.9169,
              "f_base": 360, "f_ret": 495, "p_base": 412, "p_prop": 139, "n": 100},
    "nid_c": {"shape": "593, 25, 25", "float": 0.9207, "pruned": 0.9189, "prop": 0.9176,
              "f_base": 352, "f_ret": 481, "p_base": 496, "p_prop": 164, "n": 120},
}
SEED_FIG9_MW = {"embedded": 137, "embedded, logic shared": 115, "+ hardware-aware": 102}
#: A quantity differs "by more than a little" beyond these: relative for fmax, power and n,
#: absolute (points) for accuracy, relative for BER.
REL_LIMIT, ACC_LIMIT = 0.20, 0.01


def _rel(ours: float, seed: float) -> float:
    return abs(ours - seed) / abs(seed)


def _synth_designs(run_dir: Path) -> dict[str, Any]:
    """The ``designs`` of a job's ``synth.json`` (empty before any synthesis)."""
    path = run_dir / "synth.json"
    return json.loads(path.read_text()).get("designs", {}) if path.is_file() else {}


def differences(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per row and quantity where ours differs from the seed by more than
    :data:`REL_LIMIT` / :data:`ACC_LIMIT`, with the reason (facts about the two setups)."""
    out = []
    for r in rows:
        seed = SEED.get(r["name"])
        if seed is None:
            continue
        name = r["name"].replace("_", "-").upper()
        synth = _synth_designs(ROOT / r["run_dir"])
        if r["prop"] is not None:
            if r["metric"] == "ber":
                if _rel(r["prop"], seed["prop"]) > REL_LIMIT:
                    out.append(
                        f"{name} BER ({r['prop']:.2e} vs {seed['prop']:.2e}): our OFC data come "
                        "from our own IM/DD link simulation (`hwnn.data.ofc`: 56 GBd, 4.5 km, "
                        "34 dB SNR), not the seed's dataset, so BER levels are not comparable; "
                        f"the rise Float → Prop. is x{r['prop'] / r['float']:.2f} here, "
                        f"x{seed['prop'] / seed['float']:.2f} in the seed.")
            elif r["name"].startswith("jsc") and abs(r["prop"] - seed["prop"]) > ACC_LIMIT:
                out.append(
                    f"{name} accuracy ({100 * r['prop']:.2f} % vs {100 * seed['prop']:.2f} %): "
                    "the hls4ml jet dataset cannot be downloaded here; ours is generated by "
                    "`hwnn.data.jsc` (Pythia 8.3, FastJet anti-kT 0.8, our soft-drop and "
                    "energy-correlator code), a different generator chain, so accuracies are "
                    "not comparable with the seed's; the change Float → Prop. is "
                    f"{100 * (r['prop'] - r['float']):+.2f} points here, "
                    f"{100 * (seed['prop'] - seed['float']):+.2f} in the seed.")
            elif abs(r["prop"] - seed["prop"]) > ACC_LIMIT:
                width = r["shape"].split(",")[0]
                out.append(
                    f"{name} accuracy ({100 * r['prop']:.2f} % vs {100 * seed['prop']:.2f} %): "
                    "only the UNSW-NB15 testing file is available here, so our train/val/test "
                    "sets are a random 60/20/20 split of it (one distribution; our encoder "
                    f"gives {width} inputs, the seed's 593); the change Float → Prop. is "
                    f"{100 * (r['prop'] - r['float']):+.2f} points here, "
                    f"{100 * (seed['prop'] - seed['float']):+.2f} in the seed.")
        if r["f_base"] is not None and _rel(r["f_base"], seed["f_base"]) > REL_LIMIT:
            out.append(
                f"{name} fmax Base. ({r['f_base']:.0f} vs {seed['f_base']} MHz): same "
                "Nangate45 library, but the seed synthesised with Synopsys Design Compiler and we "
                "with Yosys 0.23 + ABC (no DesignWare-style multiplier generators; OpenSTA, "
                "typical corner), so the generic multiply-add paths differ; the retimed "
                "embedded design is the comparable number "
                f"({_num(r['f_ret'], '.0f')} vs {seed['f_ret']} MHz).")
        if r["p_base"] is not None and _rel(r["p_base"], seed["p_base"]) > REL_LIMIT:
            base = (synth.get("generic/asic") or synth.get("generic_part/asic")
                    or synth.get("generic_part_leafwise/asic") or {})
            ffs = base.get("flip_flops")
            out.append(
                f"{name} power Base. ({r['p_base']:.0f} vs {seed['p_base']} mW): ours holds "
                f"every weight, bias and scale in a flip-flop ({_num(ffs, ',d')} FFs in all), "
                "clocked at 500 MHz with activity from 1,000 real test vectors; the seed gives "
                "neither its clock nor its activity source, so only the drop within one setup "
                "compares.")
        if r["p_ret"] is not None and _rel(r["p_ret"], seed["p_prop"]) > REL_LIMIT:
            ff_ret = synth.get("embedded_e1_retimed/asic", {}).get("flip_flops")
            ff_prop = synth.get("embedded/asic", {}).get("flip_flops")
            out.append(
                f"{name} power Prop. ({r['p_ret']:.1f} vs {seed['p_prop']} mW): the same clock "
                "and activity caveat as Base.; ours is the retimed design "
                f"({_num(ff_ret, ',d')} FFs, against {_num(ff_prop, ',d')} and "
                f"{_num(r['p_prop'], '.1f')} mW without the extra stage and retiming).")
        if r["n"] is not None and _rel(r["n"], seed["n"]) > REL_LIMIT:
            out.append(
                f"{name} weight values ({r['n']} vs {seed['n']}): the search starts at n = 40 "
                "and adds 10 only while validation misses the tolerance; ours recovered at "
                f"n = {r['n']} on our data (validation curve: fig10.png).")
    return out


def _num(v: Any, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def _ratio(new: float | None, old: float | None, lower_better: bool) -> str:
    if new is None or old is None or old == 0:
        return "–"
    change = (old - new) / old if lower_better else (new - old) / old
    return f"{100 * change:.1f} %"


def _shape(job: dict[str, Any], run_dir: Path) -> str:
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (
        run_dir / "metrics.json").is_file() else None
    if metrics is None:
        return "–"
    cfg = (run_dir / "config.yaml").read_text()
    import yaml

    hidden = yaml.safe_load(cfg)["model"]["hidden"]
    ds = metrics["dataset"]
    return ", ".join(str(x) for x in [ds["input_width"], *hidden])


def table1_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    jobs = {j["name"]: j for j in report["jobs"]}
    rows = []
    for name in ROWS:
        job = jobs.get(name)
        if job is None:
            continue
        s = job["summary_test"] or {}
        d = job["designs"]
        base, prop, ret = d.get("base", {}), d.get("prop", {}), d.get("retimed", {})
        sims = [x.get("sim") for x in (base, prop, ret) if x]
        gate = [dig(x, "asic", "gate_level_vs_ir_mismatches") for x in (base, prop, ret)]
        rows.append({
            "name": name, "status": job["status"], "metric": s.get("metric"),
            "run_dir": job["run_dir"],
            "shape": _shape(job, ROOT / job["run_dir"]) if job["summary_test"] else "–",
            "float": s.get("float"), "pruned": s.get("finetune"), "prop": s.get("hw_aware"),
            "n": dig(job, "hw_aware", "n"),
            "f_base": dig(base, "asic", "fmax_mhz"), "f_prop": dig(prop, "asic", "fmax_mhz"),
            "f_ret": dig(ret, "asic", "fmax_mhz"),
            "p_base": vector_power_mw(dig(base, "asic")),
            "p_prop": vector_power_mw(dig(prop, "asic")),
            "p_ret": vector_power_mw(dig(ret, "asic")),
            "a_base": dig(base, "asic", "area_um2"), "a_prop": dig(prop, "asic", "area_um2"),
            "a_ret": dig(ret, "asic", "area_um2"),
            "l_base": dig(base, "fpga", "luts"), "l_prop": dig(prop, "fpga", "luts"),
            "partitioned_base": (dig(base, "asic", "partitions") or 0) > 1,
            "leafwise_base": dig(base, "asic", "timing_power_flow") == "leafwise",
            "power_withheld": any(power_withheld(dig(x, "asic")) for x in (base, prop, ret)),
            "sims_passed": None if not sims or any(x is None for x in sims)
            else all(x["passed"] for x in sims),
            "gate_mismatches": (None if all(g is None for g in gate)
                                else sum(g for g in gate if g is not None)),
        })
    return rows


def markdown(rows: list[dict[str, Any]], fig9: list[dict[str, Any]]) -> str:
    lines = ["# Seed 000 Table I reproduced", "",
             "Made by `hwnn sweep configs/sweeps/table1.yaml` then `python scripts/table1.py` "
             "(column definitions in the script's docstring). One training seed per row "
             "(the seed averages 10). Seed numbers in the rows marked 'seed'.", ""]
    head = ["network", "neurons / layer", "Float", "Pruned", "Prop.", "fmax Base.",
            "fmax Retim.", "Improv.", "power Base. mW", "power Prop. mW", "Drop",
            "values Base.", "values Prop."]
    body = []
    for r in rows:
        m = r["metric"] or "accuracy"
        body.append([r["name"], r["shape"],
                     *(score(m, r[k]) if r[k] is not None else "–"
                       for k in ("float", "pruned", "prop")),
                     _num(r["f_base"], ".0f"), _num(r["f_ret"], ".0f"),
                     _ratio(r["f_ret"], r["f_base"], lower_better=False),
                     _num(r["p_base"], ".1f"), _num(r["p_ret"], ".1f"),
                     _ratio(r["p_ret"], r["p_base"], lower_better=True), "256",
                     _num(r["n"], "d")])
        seed = SEED.get(r["name"])
        if seed is not None:
            m = "ber" if r["name"].startswith("ofc") else "accuracy"
            body.append([f"{r['name']} (seed)", seed["shape"],
                         *(score(m, seed[k]) for k in ("float", "pruned", "prop")),
                         str(seed["f_base"]), str(seed["f_ret"]),
                         _ratio(seed["f_ret"], seed["f_base"], lower_better=False),
                         str(seed["p_base"]), str(seed["p_prop"]),
                         _ratio(seed["p_prop"], seed["p_base"], lower_better=True), "256",
                         str(seed["n"])])
    lines += table(head, body)
    diffs = differences(rows)
    if diffs:
        lines += ["", "## Where ours differs from the seed, and why", "",
                  f"Listed where a quantity differs by more than {100 * REL_LIMIT:.0f} % "
                  f"(accuracy: {100 * ACC_LIMIT:.0f} point). Setup shared by every row: one "
                  "training run (the seed averages 10), Yosys + ABC and OpenSTA instead of "
                  "Design Compiler.",
                  ""]
        lines += [f"- {d}" for d in diffs]
    lines += ["", "## Area, LUT6 and the non-retimed embedded design", "",
              "Nangate45 area (µm²) and xc7 LUT6 (`synth_xilinx -nodsp`); 'sims' = RTL of every "
              "design simulated on 10^4 test vectors against the IR, 'gate' = mismatches of the "
              "mapped netlists on the 1,000 power vectors. mnist_mlp: products in CSD "
              "shift-add form (style `csd`; the `x * c` form needs > 13 GB in Yosys here), "
              "each neuron synthesised on its own and the netlist stitched (`--partition`: no "
              "logic shared between neurons, retiming within a neuron); on one "
              "MNIST neuron the CSD form measured 19 % less area and 11 % fewer LUT6 than "
              "`x * c` (docs/usage.md).", ""]
    split = [r["name"] for r in rows if r["partitioned_base"] and not r["leafwise_base"]]
    leafwise = [r["name"] for r in rows if r["leafwise_base"]]
    notes = []
    if split:
        notes.append(f"Generic (Base.) designs synthesised one neuron at a time and stitched: "
                     f"{', '.join(split)} (whole, they do not fit the 8 GiB tool cap; each "
                     "neuron reads its slice of the weight chain, the chain registers are "
                     "mapped with the glue).")
    if leafwise:
        notes.append(f"Generic (Base.) designs synthesised one neuron at a time and analysed "
                     f"leaf by leaf (`--leafwise`: timing, power and the gate-level check per "
                     f"neuron, fmax the slowest, power and area the sums, no cells shared "
                     f"between neurons): {', '.join(leafwise)} (its flat netlist would not fit "
                     "in memory for OpenSTA; docs/usage.md compares both flows on JSC-C: "
                     "+0.1 % area, +3.8 % fmax, +2.3 % power).")
    if notes:
        lines[-1:-1] = ["", " ".join(notes) + " The other Base. designs were mapped whole."]
    head = ["network", "area Base.", "area Prop.", "area Retim.", "LUT6 Base.", "LUT6 Prop.",
            "fmax Prop. (not retimed)", "power Prop. (not retimed) mW", "sims", "gate"]
    body = [[r["name"], _num(r["a_base"], ",.0f"), _num(r["a_prop"], ",.0f"),
             _num(r["a_ret"], ",.0f"), _num(r["l_base"], ",d"), _num(r["l_prop"], ",d"),
             _num(r["f_prop"], ".0f"), _num(r["p_prop"], ".1f"),
             "–" if r["sims_passed"] is None else ("pass" if r["sims_passed"] else "FAIL"),
             _num(r["gate_mismatches"], "d")] for r in rows]
    lines += table(head, body)
    lines += ["", "## Fig. 9: OFC-A, generic → weights embedded → + hardware-aware training", "",
              "All three at 500 MHz, activity from 1,000 test vectors, no retiming. Seed (its "
              "Fig. 9a): embedded 137 mW → 115 mW (logic shared) → 102 mW (hardware-aware).", ""]
    lines += table(["design", "power mW", "area µm²", "LUT6"],
                   [[f["label"], _num(f["power"], ".1f"), _num(f["area"], ",.0f"),
                     _num(f["luts"], ",d")] for f in fig9])
    if any(r["power_withheld"] for r in rows) or any(f["power_withheld"] for f in fig9):
        lines += ["", STALE_POWER_NOTE]
    return "\n".join(lines) + "\n"


def fig9_data(report: dict[str, Any]) -> list[dict[str, Any]]:
    jobs = {j["name"]: j for j in report["jobs"]}
    picks = [("generic (weights in registers)", "ofc_a", "base"),
             ("weights embedded (8-bit)", "ofc_a_8bit", "prop"),
             ("+ hardware-aware training", "ofc_a", "prop")]
    out = []
    for label, job, design in picks:
        d = dig(jobs.get(job), "designs", design) or {}
        out.append({"label": label, "power": vector_power_mw(dig(d, "asic")),
                    "power_withheld": power_withheld(dig(d, "asic")),
                    "area": dig(d, "asic", "area_um2"), "luts": dig(d, "fpga", "luts")})
    return out


def plot_fig9(data: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    labels = [d["label"].replace(" (", "\n(") for d in data]
    for ax, key, unit in ((axes[0], "power", "power (mW) at 500 MHz"),
                          (axes[1], "area", "area (µm²)")):
        values = [d[key] or 0 for d in data]
        ax.bar(range(len(values)), values, color=["gray", "tab:blue", "tab:green"])
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_ylabel(unit)
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    fig.suptitle("OFC-A (Nangate45): generic → embedded → hardware-aware (seed Fig. 9)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fig10_data(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    curves = {}
    for job in report["jobs"]:
        hw = job.get("hw_aware")
        if hw and len(hw["trials"]) > 2:
            curves[job["name"]] = sorted(
                ({"n": t["n"], "val": t["val"], "test": t["test"],
                  "area": (t.get("weights") or {}).get("multiplier_area_um2"),
                  "selected": t["n"] == hw["n"]} for t in hw["trials"]), key=lambda t: t["n"])
    return curves


def plot_fig10(curves: dict[str, list[dict[str, Any]]], metrics: dict[str, str],
               path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (name, pts) in zip(axes[0], curves.items(), strict=True):
        n = [p["n"] for p in pts]
        ax.plot(n, [p["test"] for p in pts], "o-", label="test")
        ax.plot(n, [p["val"] for p in pts], "s--", label="validation")
        sel = [p for p in pts if p["selected"]]
        if sel:
            ax.axvline(sel[0]["n"], color="k", lw=0.8, ls=":", label=f"chosen n={sel[0]['n']}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("number of selected weight values n")
        ax.set_ylabel(metrics.get(name, "accuracy"))
        ax.set_title(name)
        if metrics.get(name) == "ber":
            ax.set_yscale("log")
        twin = ax.twinx()
        twin.plot(n, [p["area"] for p in pts], "^-", color="tab:red", alpha=0.6)
        twin.set_ylabel("summed multiplier area (µm², table)", color="tab:red")
        ax.legend(fontsize=8)
    fig.suptitle("Accuracy / BER and multiplier area vs n (seed Fig. 10)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def combined_report() -> dict[str, Any]:
    """Table I's sweep report, plus the JSC sweep's jobs when its folder exists (each sweep
    also rewrites its own ``<name>_sweep.{md,json}``)."""
    spec, jobs = load_sweep(SWEEP)
    report = write_report(spec, jobs)
    jsc_spec, jsc_jobs = load_sweep(JSC_SWEEP)
    if Path(jsc_spec.out).is_dir():
        report["jobs"] += write_report(jsc_spec, jsc_jobs)["jobs"]
    return report


def main() -> None:
    report = combined_report()
    rows = table1_rows(report)
    fig9 = fig9_data(report)
    curves = fig10_data(report)
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(OUT / TABLE_MD, markdown(rows, fig9).encode())
    atomic_write_bytes(OUT / "table1_vs_seed.json", (json.dumps(
        {"rows": rows, "seed": SEED, "fig9": fig9, "seed_fig9_mw": SEED_FIG9_MW,
         "fig10": curves}, indent=2) + "\n").encode())
    plot_fig9(fig9, OUT / "fig9.png")
    metrics = {r["name"]: r["metric"] for r in rows}
    plot_fig10(curves, metrics, OUT / "fig10.png")
    print(f"wrote {OUT / TABLE_MD}")


if __name__ == "__main__":
    main()
