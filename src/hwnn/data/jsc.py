"""Jet substructure classification (JSC) data: a reproducible Pythia 8 + FastJet generator.

The hls4ml jet data set (Coleman et al., JINST 13 (2018) T01003; Duarte et al., JINST 13
(2018) P07027) used by seed 000 and LogicNets cannot be downloaded here, so hwnn makes an
equivalent one. Needs the optional extra ``hwnn[jsc]`` (``pythia8mc``, ``fastjet``; see
``scripts/build_pythia_wheel.sh``). Training never needs it: it reads the shipped features
(:mod:`hwnn.data.jsc_load`).

Events (one Pythia instance per chunk of jets, :data:`PROCESSES`): proton-proton collisions
at √s = 13 TeV, hard-process transverse momentum ``pTHat`` in ``[pthat_min, pthat_max]``
(default 950-1050 GeV), Pythia's default tune with multiparton interactions, showers and
hadronisation on:

* ``qcd``: ``HardQCD:all`` (2 → 2 QCD); a jet's class is the flavour of the outgoing parton it
  matches, gluon → ``g``, u/d/s (anti)quark → ``q``; c and b quark jets are dropped.
* ``ww`` / ``zz``: ``WeakDoubleBoson:ffbar2WW`` / ``ffbar2gmZgmZ`` (pure Z, ``WeakZ0:gmZmode
  = 2``) with the bosons forced to decay to quarks (``onIfAny = 1 2 3 4 5``) → ``w`` / ``z``.
* ``tt``: ``Top:gg2ttbar`` and ``Top:qqbar2ttbar`` with hadronic W decays → ``t``.

Jets: every visible final-state particle (neutrinos dropped, no detector) with |η| <
``eta_max`` is clustered with anti-kT, R = 0.8 (FastJet); the leading jet (highest pT) is
matched to the outgoing particles of the hard 2 → 2 process (the event record's two
outgoing partons/bosons/tops) and kept only when the nearest one is within ΔR < 0.8 and has
the process's class. Its 16 features come from :func:`hwnn.data.jsc_features.jet_features`.

Reproducible and resumable: jets are made in chunks of ``chunk_jets`` per class; chunk ``k``
of process ``p`` seeds Pythia with :func:`chunk_seed` and is written atomically to
``OUT/chunks/<p>_<k>.npz``, so a re-run skips finished chunks and a chunk always holds the
same jets. ``jobs`` worker processes run chunks in parallel. :func:`assemble` joins the
chunks into ``OUT/jsc_features.npz`` and writes ``OUT/generation.json`` (settings, versions,
seeds, times) and ``OUT/SHA256SUMS``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.data.jsc_features import FEATURES, delta_r, invariant_mass, jet_features, pt_y_phi
from hwnn.data.paths import sha256_of
from hwnn.errors import DataError

#: Class order of the labels (the hls4ml order j_g, j_q, j_w, j_z, j_t).
CLASSES: tuple[str, ...] = ("g", "q", "w", "z", "t")
FEATURES_FILE = "jsc_features.npz"
GENERATION_FILE = "generation.json"
CHECKSUM_FILE = "SHA256SUMS"
FORMAT = "hwnn.jsc.v1"

#: Pythia settings of each process and the classes its leading jets fill.
PROCESSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "qcd": (("HardQCD:all = on",), ("g", "q")),
    "ww": (("WeakDoubleBoson:ffbar2WW = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
           ("w",)),
    "zz": (("WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off",
            "23:onIfAny = 1 2 3 4 5"), ("z",)),
    "tt": (("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off",
            "24:onIfAny = 1 2 3 4 5"), ("t",)),
}
#: |PDG id| of a matched hard-process particle → class (c and b quarks: no class).
PARENT_CLASS: dict[int, str] = {21: "g", 1: "q", 2: "q", 3: "q", 24: "w", 23: "z", 6: "t"}


@dataclass(frozen=True)
class JSCSettings:
    """What is generated; stored in ``generation.json`` so the data can be remade."""

    jets_per_class: int = 100_000
    chunk_jets: int = 500
    seed: int = 0
    sqrt_s_gev: float = 13_000.0
    pthat_min_gev: float = 950.0
    pthat_max_gev: float = 1050.0
    jet_r: float = 0.8
    match_dr: float = 0.8
    eta_max: float = 5.0
    max_events_per_chunk: int = 200_000

    def __post_init__(self) -> None:
        if self.jets_per_class < 1 or self.chunk_jets < 1:
            raise DataError("jets_per_class and chunk_jets must be at least 1")
        if not 0 <= self.seed < 1000:
            raise DataError(f"seed must be in [0, 1000) (Pythia seeds are < 9e8); got "
                            f"{self.seed}")
        if not 0 < self.pthat_min_gev < self.pthat_max_gev:
            raise DataError("need 0 < pthat_min_gev < pthat_max_gev")

    def chunks(self) -> int:
        return math.ceil(self.jets_per_class / self.chunk_jets)


def chunk_seed(settings: JSCSettings, process: str, index: int) -> int:
    """Pythia's ``Random:seed`` of chunk ``index`` of ``process``: distinct for every
    (settings seed, process, chunk) up to 100,000 chunks, in ``[1, 9e8)``."""
    p = list(PROCESSES).index(process)
    if not 0 <= index < 100_000:
        raise DataError(f"chunk index {index} out of range [0, 100000)")
    return 1 + (settings.seed * len(PROCESSES) + p) * 100_000 + index


def match_class(jet_p4: np.ndarray, parents: list[tuple[int, np.ndarray]],
                match_dr: float) -> str | None:
    """Class of the hard-process particle nearest to the jet in (y, φ) when it is within
    ``match_dr``; None when none is close or the nearest has no class (c, b quarks).
    ``parents``: ``(pdg_id, (px, py, pz, E))`` of the outgoing hard-process particles."""
    if not parents:
        return None
    _, y, phi = pt_y_phi(np.vstack([jet_p4] + [p4 for _, p4 in parents]))
    dr = delta_r(y, phi)[0, 1:]
    k = int(np.argmin(dr))
    if dr[k] >= match_dr:
        return None
    return PARENT_CLASS.get(abs(parents[k][0]))


def chunk_path(out: Path, process: str, index: int) -> Path:
    return out / "chunks" / f"{process}_{index:05d}.npz"


def _pythia(settings: JSCSettings, process: str, seed: int) -> Any:
    try:
        import pythia8mc
    except ImportError as err:
        raise DataError("the JSC generator needs Pythia: run `bash "
                        "scripts/build_pythia_wheel.sh` (builds and installs pythia8mc and "
                        "fastjet, the hwnn[jsc] extra)") from err
    pythia = pythia8mc.Pythia("", False)
    lines = (f"Beams:eCM = {settings.sqrt_s_gev}",
             f"PhaseSpace:pTHatMin = {settings.pthat_min_gev}",
             f"PhaseSpace:pTHatMax = {settings.pthat_max_gev}",
             "Random:setSeed = on", f"Random:seed = {seed}", "Print:quiet = on",
             *PROCESSES[process][0])
    for line in lines:
        if not pythia.readString(line):
            raise DataError(f"Pythia refused the setting {line!r}")
    if not pythia.init():
        raise DataError(f"Pythia failed to initialise process {process}")
    return pythia


def _event_particles(pythia: Any, eta_max: float) -> np.ndarray:
    """``(N, 4)`` visible final-state particles with |η| < eta_max."""
    rows = [(prt.px(), prt.py(), prt.pz(), prt.e()) for prt in pythia.event
            if prt.isFinal() and prt.isVisible() and abs(prt.eta()) < eta_max]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _hard_outgoing(pythia: Any) -> list[tuple[int, np.ndarray]]:
    """The two outgoing particles of the hard 2 → 2 process (process record entries 5, 6)."""
    proc = pythia.process
    return [(proc[i].id(), np.array([proc[i].px(), proc[i].py(), proc[i].pz(), proc[i].e()]))
            for i in (5, 6) if i < proc.size()]


def _leading_jet(particles: np.ndarray, jet_r: float) -> np.ndarray | None:
    """Constituents ``(n, 4)`` of the highest-pT anti-kT jet, or None for an empty event."""
    import fastjet

    if len(particles) == 0:
        return None
    pjs = [fastjet.PseudoJet(*map(float, row)) for row in particles]
    for k, pj in enumerate(pjs):
        pj.set_user_index(k)
    cs = fastjet.ClusterSequence(pjs, fastjet.JetDefinition(fastjet.antikt_algorithm, jet_r))
    jets = fastjet.sorted_by_pt(cs.inclusive_jets(0.0))
    if not jets:
        return None
    idx = sorted(c.user_index() for c in jets[0].constituents())
    return particles[idx]


def generate_chunk(settings: JSCSettings, process: str, index: int, out: Path) -> dict[str, Any]:
    """Make chunk ``index`` of ``process`` (``chunk_jets`` matched jets of each of its
    classes; extra jets of a class that filled first are not kept) and write it; returns its
    statistics. Idempotent: an existing chunk file is read, not remade."""
    path = chunk_path(out, process, index)
    if path.is_file():
        with np.load(path) as f:
            return json.loads(str(f["stats"]))
    seed = chunk_seed(settings, process, index)
    classes = PROCESSES[process][1]
    pythia = _pythia(settings, process, seed)
    kept: dict[str, list[np.ndarray]] = {c: [] for c in classes}
    jet_kin: dict[str, list[tuple[float, float, float]]] = {c: [] for c in classes}
    t0 = time.perf_counter()
    events = unmatched = failed = 0
    while any(len(v) < settings.chunk_jets for v in kept.values()):
        if events >= settings.max_events_per_chunk:
            raise DataError(f"{process} chunk {index}: fewer than {settings.chunk_jets} "
                            f"matched jets per class after {events} events")
        events += 1
        if not pythia.next():
            failed += 1
            continue
        jet = _leading_jet(_event_particles(pythia, settings.eta_max), settings.jet_r)
        if jet is None:
            unmatched += 1
            continue
        jet_p4 = jet.sum(axis=0)
        cls = match_class(jet_p4, _hard_outgoing(pythia), settings.match_dr)
        if cls not in kept:
            unmatched += 1
            continue
        if len(kept[cls]) >= settings.chunk_jets:
            continue
        kept[cls].append(jet_features(jet).astype(np.float32))
        pt, y, _ = pt_y_phi(jet_p4[None, :])
        jet_kin[cls].append((float(pt[0]), float(y[0]), invariant_mass(jet)))
    stats = {"process": process, "index": index, "seed": seed, "events": events,
             "failed_events": failed, "unmatched_events": unmatched,
             "seconds": round(time.perf_counter() - t0, 2),
             "sigma_gen_mb": float(pythia.infoPython().sigmaGen())}
    arrays: dict[str, Any] = {"stats": np.array(json.dumps(stats))}
    for cls in classes:
        arrays[f"x_{cls}"] = np.stack(kept[cls])
        arrays[f"jet_{cls}"] = np.asarray(jet_kin[cls], dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return stats


def _run_chunk(args: tuple[JSCSettings, str, int, str]) -> dict[str, Any]:
    settings, process, index, out = args
    return generate_chunk(settings, process, index, Path(out))


def generate_jsc(out: str | os.PathLike[str], settings: JSCSettings, jobs: int = 1,
                 on_chunk: Callable[[dict[str, Any], int, int], None] | None = None,
                 ) -> dict[str, Any]:
    """Make every missing chunk (``jobs`` processes), then :func:`assemble`; returns the
    generation record. ``on_chunk(stats, done, total)`` is called per finished chunk."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _check_settings(root, settings)
    plan = [(p, k) for k in range(settings.chunks()) for p in PROCESSES]
    todo = [(p, k) for p, k in plan if not chunk_path(root, p, k).is_file()]
    done = len(plan) - len(todo)
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(_run_chunk, (settings, p, k, str(root))) for p, k in todo]
            for fut in as_completed(futures):
                stats = fut.result()
                done += 1
                if on_chunk is not None:
                    on_chunk(stats, done, len(plan))
    return assemble(root, settings)


def _check_settings(root: Path, settings: JSCSettings) -> None:
    """Refuse to mix chunks made with other settings into ``root``."""
    path = root / "settings.json"
    mine = asdict(settings)
    if path.is_file():
        theirs = json.loads(path.read_text())
        same = {k: v for k, v in theirs.items() if k != "jets_per_class"} == {
            k: v for k, v in mine.items() if k != "jets_per_class"}
        if not same:
            raise DataError(f"{root} holds chunks made with other settings ({path}); use "
                            "another output folder or the same settings")
    atomic_write_bytes(path, (json.dumps(mine, indent=2) + "\n").encode())


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("pythia8mc", "fastjet", "numpy", "hwnn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def assemble(root: Path, settings: JSCSettings) -> dict[str, Any]:
    """Join the first ``jets_per_class`` jets of every class, chunk by chunk in index order,
    into ``jsc_features.npz`` (``x`` float32 (N, 16) in :data:`FEATURES` order, ``y`` int8
    class index in :data:`CLASSES` order, ``jet`` float32 (N, 3): ungroomed pT, rapidity,
    mass), write ``generation.json`` and ``SHA256SUMS``; returns the generation record."""
    xs: dict[str, list[np.ndarray]] = {c: [] for c in CLASSES}
    kin: dict[str, list[np.ndarray]] = {c: [] for c in CLASSES}
    chunks: list[dict[str, Any]] = []
    for k in range(settings.chunks()):
        for process, (_, classes) in PROCESSES.items():
            with np.load(chunk_path(root, process, k)) as f:
                chunks.append(json.loads(str(f["stats"])))
                for c in classes:
                    xs[c].append(f[f"x_{c}"])
                    kin[c].append(f[f"jet_{c}"])
    n = settings.jets_per_class
    x = np.concatenate([np.concatenate(xs[c])[:n] for c in CLASSES])
    jet = np.concatenate([np.concatenate(kin[c])[:n] for c in CLASSES])
    y = np.repeat(np.arange(len(CLASSES), dtype=np.int8), n)
    path = root / FEATURES_FILE
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, x=x, y=y, jet=jet, features=np.array(FEATURES),
                        classes=np.array(CLASSES))
    os.replace(tmp, path)
    digest = sha256_of(path)
    record = {
        "format": FORMAT, "settings": asdict(settings), "versions": _versions(),
        "processes": {p: {"pythia": list(s), "classes": list(c)}
                      for p, (s, c) in PROCESSES.items()},
        "features": list(FEATURES), "classes": list(CLASSES),
        "jets": {c: n for c in CLASSES}, "sha256": {FEATURES_FILE: digest},
        "events": {p: sum(s["events"] for s in chunks if s["process"] == p) for p in PROCESSES},
        "cpu_seconds": {p: round(sum(s["seconds"] for s in chunks if s["process"] == p), 1)
                        for p in PROCESSES},
        "chunks": chunks,
    }
    atomic_write_bytes(root / GENERATION_FILE, (json.dumps(record, indent=2) + "\n").encode())
    atomic_write_bytes(root / CHECKSUM_FILE, f"{digest}  {FEATURES_FILE}\n".encode())
    return record
