"""Regenerate the zoo weights shipped with the package (``tda_activations/assets/zoo``).

Trains every (model, seed) of ``SHIPPED_SEEDS`` at its default settings (the digits models on
the embedded digits; ``modular_addition`` on its token data at ``MODULAR_DEFAULTS``), exactly
as ``pretrained(name, seed=seed)`` would train it, with one torch thread,
and writes ``<name>-seed<seed>.pt`` (float32 state dicts) and ``manifest.json`` (SHA-256,
size, training key, settings, test accuracy, torch version).  The files are trained once
here and then loaded identically on every machine; rerun this script only when a default
setting, the data or the training procedure changes (the training key says so: a shipped
file whose key no longer matches is simply not used).

    python benchmarks/make_zoo_weights.py             # everything in SHIPPED_SEEDS
    python benchmarks/make_zoo_weights.py lenet mlp   # only these (others kept)
    python benchmarks/make_zoo_weights.py modular_addition
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time

import torch

from tda_activations._atomic import atomic_write_bytes, atomic_write_text
from tda_activations.models import _weights
from tda_activations.models.training import SHIPPED_SEEDS, train_from_scratch

log = logging.getLogger("make_zoo_weights")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="zoo models to retrain (default: all shipped)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    unknown = set(args.names) - set(SHIPPED_SEEDS)
    if unknown:
        ap.error(f"not shipped: {sorted(unknown)}; choose among {sorted(SHIPPED_SEEDS)}")
    torch.set_num_threads(1)
    folder = _weights.shipped_dir()
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    old = json.loads(manifest.read_text()) if manifest.exists() else {"entries": []}
    redo = set(args.names or SHIPPED_SEEDS)
    keep = [
        e
        for e in old["entries"]
        if e["name"] not in redo and e["seed"] in SHIPPED_SEEDS.get(e["name"], ())
    ]
    entries = []
    for name, seeds in SHIPPED_SEEDS.items():
        if name not in redo:
            continue
        for seed in seeds:
            cpu0 = time.process_time()
            tm = train_from_scratch(name, seed=seed, progress=False)
            cpu = time.process_time() - cpu0
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in tm.model.state_dict().items()}, buf)
            path = folder / f"{name}-seed{seed}.pt"
            atomic_write_bytes(path, buf.getvalue())
            entries.append(
                {
                    "file": path.name,
                    "name": name,
                    "seed": seed,
                    "key": tm.key,
                    "sha256": _weights.sha256_file(path),
                    "bytes": path.stat().st_size,
                    "settings": tm.params,
                    "test_accuracy": tm.test_accuracy,
                    "train_accuracy": tm.train_accuracy,
                    "train_seconds": round(tm.seconds, 1),
                    "train_cpu_seconds": round(cpu, 1),
                }
            )
            log.info(
                "%s seed %d: test accuracy %.4f, %.1f s (%.1f CPU s), %d bytes",
                name,
                seed,
                tm.test_accuracy,
                tm.seconds,
                cpu,
                path.stat().st_size,
            )
    entries = sorted(keep + entries, key=lambda e: (e["name"], e["seed"]))
    doc = {
        "format": _weights.MANIFEST_FORMAT,
        "torch": torch.__version__.split("+")[0],
        "threads": 1,
        "made": time.strftime("%Y-%m-%d", time.gmtime()),
        "entries": entries,
    }
    atomic_write_text(manifest, json.dumps(doc, indent=1) + "\n")
    total = sum(e["bytes"] for e in entries)
    print(f"{len(entries)} weight files, {total / 1e6:.2f} MB in all")


if __name__ == "__main__":
    main()
