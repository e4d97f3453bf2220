"""The exact-H1 frontier: the largest activation cloud each engine turns into exact H0+H1.

Clouds: the zoo MLP's first hidden layer (256 ReLU features) on augmented digits (every
digit shifted by one pixel in 9 directions, plus pixel noise: 16,173 images), the first
``n`` of one random draw (see ``_homology_common.augmented_digit_clouds``).

Engines, each as a user would call it for exact H0+H1 of a point cloud, each run in its own
subprocess under an address-space limit (``resource.setrlimit(RLIMIT_AS)``: 14 GiB or 80%
of the memory available when it starts, whichever is less, so that a crash or an
out-of-memory stays in that process on a shared machine; the limit is printed) and
a wall-clock limit (an engine that fails at one size is not run at the larger ones):

* ripser.py: ``ripser(x, maxdim=1)``;
* giotto-ph: ``ripser_parallel(x, maxdim=1, n_threads=1)``;
* GUDHI: ``gudhi.sklearn.RipsPersistence(homology_dimensions=[0, 1], n_jobs=1)`` (its Ripser);
* ours: ``tda_activations.homology.persistence(x, maxdim=1)``, default settings (memory
  check on: it refuses rather than crashes); ``--engines ours-unchecked`` passes
  ``memory_limit=None`` (only the address-space limit then guards the machine), to measure
  what a cloud the check refuses really needs.

For each (engine, n): wall and CPU time, peak resident memory, H1 bar count, and the
bottleneck distance (GUDHI's) of its H1 diagram to ours (float32 rounding of the peers' distances
gives ~1e-6).  Beyond ours's frontier the certified approximation is shown:
``persistence(x, on_too_large="subsample")`` records the greedy subsample and the
bottleneck error bound ``2 * covering radius`` with the diagram.

Run: ``.venv/bin/python benchmarks/bench_h1_frontier.py [--sizes 1000,2000,5000,10000]
[--engines ripser,giotto-ph,gudhi,ours] [--limit-gib 14] [--timeout 900] [--max-shift 1]``

``--calibrate`` instead measures what the memory model of
``tda_activations.homology.large`` charges per edge: for clouds of several shapes
(activations, a Gaussian cloud in 512 dimensions, a uniform cube, a noisy circle), the
peak resident memory of GUDHI's Ripser (the default engine) on our float32 matrix, to the
enclosing radius (a full run) and to the H1 shortcut's threshold (a truncated run), each
in its own process, divided by the edges under the threshold.  The last line prints the
largest full-run and truncated-run costs next to the model's charges.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ENGINES = ("ripser", "giotto-ph", "gudhi", "ours")


def _peak_gib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _child(engine: str, n: int, cloud_path: str, out_path: str, limit_gib: float) -> None:
    """Run one engine on the first n points; write diagrams + facts (runs in a subprocess)."""
    resource.setrlimit(resource.RLIMIT_AS, (int(limit_gib * 2**30),) * 2)
    x = np.load(cloud_path)[:n]
    from gph import ripser_parallel
    from gudhi.sklearn import RipsPersistence
    from ripser import ripser

    from tda_activations.homology import persistence

    t, c = time.perf_counter(), time.process_time()  # imports excluded
    facts: dict = {}
    if engine == "ripser":
        dgms = ripser(x, maxdim=1)["dgms"]
    elif engine == "giotto-ph":
        dgms = ripser_parallel(x, maxdim=1, n_threads=1)["dgms"]
    elif engine == "gudhi":
        dgms = RipsPersistence(homology_dimensions=[0, 1], n_jobs=1).fit_transform([x])[0]
    else:
        sub = engine == "ours-subsample"
        # "ours-unchecked": memory_limit=None, only the address-space limit guards the machine
        limit = None if engine == "ours-unchecked" else "auto"
        dg = persistence(
            x, maxdim=1, on_too_large="subsample" if sub else "raise", memory_limit=limit
        )
        dgms = dg.dgms
        facts = {
            k: dg.params.get(k)
            for k in (
                "exact",
                "engine_threshold",
                "enclosing_radius",
                "edges_in_filtration",
                "memory_estimate_gib",
            )
        }
        if "subsample" in dg.params:
            facts["subsample"] = dg.params["subsample"]
    facts.update(wall=time.perf_counter() - t, cpu=time.process_time() - c, peak_gib=_peak_gib())
    np.savez(
        out_path,
        h1=np.asarray(dgms[1], dtype=np.float64).reshape(-1, 2),
        facts=np.array(json.dumps(facts)),
    )


def _run(engine: str, n: int, cloud_path: str, tmp: str, limit_gib: float, timeout: float) -> dict:
    from tda_activations.homology.large import available_memory

    # never more than 80% of what is available now: other people's jobs share the machine
    limit_gib = min(limit_gib, 0.8 * available_memory() / 2**30)
    out = os.path.join(tmp, f"{engine}-{n}.npz")
    cmd = [sys.executable, __file__, "--child", engine, str(n), cloud_path, out, str(limit_gib)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {
            "status": f"timed out after {timeout:.0f} s",
            "wall": time.perf_counter() - t,
            "limit": limit_gib,
        }
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not os.path.exists(out):
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1][:90]
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        return {"status": f"failed ({how}: {tail})", "wall": wall, "limit": limit_gib}
    with np.load(out) as z:
        facts = json.loads(str(z["facts"]))
        return {"status": "ok", "h1": np.array(z["h1"]), "limit": limit_gib, **facts}


def main() -> None:
    import gudhi
    from _homology_common import augmented_digit_clouds, machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,2000,5000,10000")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--limit-gib", type=float, default=14.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--beyond", type=int, default=16173, help="n for the certified approximation")
    ap.add_argument(
        "--max-shift",
        type=int,
        default=1,
        help="digits shifted by up to this many pixels (1: 16,173 images, 2: 44,925)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    print(f"machine: {machine()}")
    clouds = augmented_digit_clouds(max(max(sizes), args.beyond), max_shift=args.max_shift)
    x = clouds["features.2"]
    print(
        f"cloud: zoo MLP features.2 (ReLU, {x.shape[1]} features) on augmented digits "
        f"(shifts up to {args.max_shift} pixel(s)); "
        f"address-space limit per run min({args.limit_gib:g} GiB, 80% of the memory available "
        f"at its start) and {args.timeout:.0f} s wall per run"
    )
    print(
        f"{'engine':10s} {'n':>6s} {'status':>8s} {'wall s':>8s} {'cpu s':>8s} {'peak GiB':>8s} "
        f"{'H1 bars':>7s} {'bottleneck to ours':>18s} {'limit GiB':>9s}"
    )
    frontier = {e: 0 for e in engines}
    failed: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cloud.npy")
        np.save(path, x)
        # ours first, so that each peer's line can give its distance to ours as it comes
        order = sorted(engines, key=lambda e: not e.startswith("ours"))
        for n in sizes:
            ref = None
            for e in order:
                if e in failed:  # an engine that failed at a smaller n is not run again
                    continue
                r = _run(e, n, path, tmp, args.limit_gib, args.timeout)
                if r["status"] != "ok":
                    failed.add(e)
                    print(
                        f"{e:10s} {n:6d} {r['status']} after {r['wall']:.0f} s "
                        f"(address-space limit {r['limit']:.1f} GiB)",
                        flush=True,
                    )
                    continue
                frontier[e] = max(frontier[e], n)
                if e.startswith("ours"):
                    ref, bott = r["h1"], "(reference)"
                else:
                    # GUDHI's (Hera's) bottleneck: near-linear memory on diagrams of 30,000 bars
                    bott = "" if ref is None else f"{gudhi.bottleneck_distance(r['h1'], ref):.1e}"
                print(
                    f"{e:10s} {n:6d} {'exact':>8s} {r['wall']:8.1f} {r['cpu']:8.1f} "
                    f"{r['peak_gib']:8.2f} {len(r['h1']):7d} {bott:>18s} {r['limit']:9.1f}",
                    flush=True,
                )
                if e.startswith("ours") and r.get("edges_in_filtration") is not None:
                    print(
                        f"{'':17s} {r['edges_in_filtration']:,} edges up to the engine's "
                        f"threshold {r['engine_threshold']:.3g} (enclosing radius "
                        f"{r['enclosing_radius']:.3g}); memory estimate "
                        f"{r['memory_estimate_gib']:.2f} GiB",
                        flush=True,
                    )
        if args.beyond:
            r = _run("ours-subsample", args.beyond, path, tmp, args.limit_gib, args.timeout)
            if r["status"] == "ok" and "subsample" in r:
                s = r["subsample"]
                print(
                    f"beyond: ours at n={args.beyond} with on_too_large='subsample': greedy "
                    f"subsample of {s['n_points']} points, bottleneck error bound "
                    f"{s['bottleneck_bound']:.3g} recorded with the diagram; {r['wall']:.0f} s, "
                    f"peak {r['peak_gib']:.2f} GiB"
                )
            elif r["status"] == "ok":
                print(
                    f"beyond: ours at n={args.beyond} is exact ({r['wall']:.0f} s, peak "
                    f"{r['peak_gib']:.2f} GiB, {len(r['h1'])} H1 bars)"
                )
            else:
                print(f"beyond: ours at n={args.beyond}: {r['status']}")
    print(
        "largest n with exact H1 within the limit: "
        + ", ".join(f"{e} {frontier[e] or 'none'}" for e in engines)
    )
    peers = max((frontier[e] for e in engines if e != "ours"), default=0)
    if "ours" in frontier and peers:
        print(f"ratio (largest exact-H1 cloud, ours / best peer): {frontier['ours'] / peers:.1f}x")
    elif frontier.get("ours") and len(engines) > 1:
        print(
            "ratio (largest exact-H1 cloud, ours / best peer): inf (every peer failed at every "
            f"size; ours exact up to {frontier['ours']:,} points)"
        )


def _calibrate_child(path: str, n: int, kind: str) -> None:
    """One engine run on our float32 matrix of the first n distinct points (in a subprocess)."""
    import importlib

    from tda_activations._distances import pairwise_distances

    rips = importlib.import_module("tda_activations.homology.rips")
    x = np.load(path)[:n].astype(np.float64)
    x = x[np.sort(np.unique(x, axis=0, return_index=True)[1])]
    n = len(x)
    mat = pairwise_distances(x, dtype=np.float32)
    radius = rips.enclosing_radius(mat)
    if kind == "full":
        t = radius
    else:  # the threshold persistence's H1 shortcut would use
        t = rips._shortcut_threshold(rips.h1_birth_bound(mat), mat.dtype)
    edges = rips._edges_below(mat, t)
    with open("/proc/self/clear_refs", "w") as fh:  # reset the high-water mark
        fh.write("5")
    base = _peak_gib()
    c = time.process_time()
    raw = rips.BACKENDS["gudhi"](mat, 1, t, 2)
    cpu = time.process_time() - c
    h1 = np.asarray(raw[1]).reshape(-1, 2)
    print(
        json.dumps(
            {
                "n": n,
                "edges": edges,
                "fraction": edges / (n * (n - 1) / 2),
                "engine_gib": _peak_gib() - base,
                "cpu": cpu,
                "alive": int(np.isinf(h1[:, 1]).sum()),
                # persistence keeps a truncated run only below 0.9 x the enclosing radius
                # and with no H1 bar alive at its threshold (else it runs to the radius)
                "kept": kind == "full"
                or (t < rips._SHORTCUT_MAX_FRACTION * radius and not np.isinf(h1[:, 1]).any()),
            }
        )
    )


def calibrate() -> None:
    """Per-edge memory of the engine runs the model charges for (see the module notes)."""
    from _homology_common import augmented_digit_clouds, machine

    from tda_activations.homology import large

    print(f"machine: {machine()}")
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, 5000)
    clouds = {
        "activations (zoo MLP features.2, 256-D)": augmented_digit_clouds(8000)["features.2"],
        "Gaussian, 512-D": rng.normal(size=(4000, 512)),
        "uniform cube, 3-D": rng.uniform(size=(5000, 3)),
        "noisy circle, 2-D": np.c_[np.cos(theta), np.sin(theta)]
        + rng.normal(scale=0.05, size=(5000, 2)),
    }
    plan = {
        "activations (zoo MLP features.2, 256-D)": [
            ("full", 2000),
            ("full", 5000),
            ("full", 8000),
            ("truncated", 8000),
        ],
        "Gaussian, 512-D": [("full", 2000), ("full", 4000), ("truncated", 4000)],
        "uniform cube, 3-D": [("full", 2000), ("full", 5000), ("truncated", 5000)],
        "noisy circle, 2-D": [("full", 1000), ("full", 2000), ("truncated", 5000)],
    }
    print(
        f"{'cloud':40s} {'run':9s} {'n':>5s} {'edges':>11s} {'of pairs':>8s} "
        f"{'engine GiB':>10s} {'B/edge':>7s} {'cpu s':>6s} {'H1 alive':>8s}"
    )
    worst = {"full": 0.0, "truncated": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for name, x in clouds.items():
            path = os.path.join(tmp, "cloud.npy")
            np.save(path, np.asarray(x, dtype=np.float64))
            for kind, n in plan[name]:
                cmd = [sys.executable, __file__, "--calibrate-child", path, str(n), kind]
                out = subprocess.run(cmd, check=False, capture_output=True, text=True)
                if out.returncode:
                    print(f"{name:40s} {kind:9s} {n:5d} failed: {out.stderr.strip()[-80:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                per_edge = r["engine_gib"] * 2**30 / max(r["edges"], 1)
                if r["kept"]:
                    worst[kind] = max(worst[kind], per_edge)
                else:
                    kind = "(retried)"  # persistence would not keep this truncated run
                print(
                    f"{name:40s} {kind:9s} {r['n']:5d} {r['edges']:11,d} {r['fraction']:8.1%} "
                    f"{r['engine_gib']:10.3f} {per_edge:7.0f} {r['cpu']:6.1f} {r['alive']:8d}",
                    flush=True,
                )
    print("(retried): a truncated run persistence would not keep (its threshold reaches 0.9 x the")
    print("enclosing radius, or an H1 bar is alive there); it is then run to the radius, as 'full'")
    print(
        f"largest per-edge cost measured: full {worst['full']:.0f} B, truncated "
        f"{worst['truncated']:.0f} B; charged by the model: full {large._BYTES_PER_EDGE:.0f} B, "
        f"truncated {large._BYTES_PER_EDGE_SHORTCUT:.0f} B"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--calibrate-child":
        _calibrate_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--calibrate":
        calibrate()
    else:
        main()
