"""Probes II report: invariance by depth, equivariance, the group-invariant prototype beside the
zoo CNNs, and architecture-only metrics over the zoo.

Run from the repository root::

    .venv/bin/python benchmarks/probes_ii_report.py

Loads the zoo models trained on the embedded digits through ``pretrained`` (trained and cached
on first use), and writes everything it prints to ``benchmarks/results/probes_ii.txt``.
"""

from __future__ import annotations

import importlib.util
import io
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from tda_activations._atomic import atomic_write_text
from tda_activations.models import build_model, pretrained
from tda_activations.probes import transforms as T
from tda_activations.probes.architecture import architecture_metrics, count_parameters
from tda_activations.probes.invariance import (
    class_separability,
    equivariance,
    invariance_scores,
    layer_outputs,
)
from tda_activations.probes.prototype import fit_group_invariant_prototype

ZOO = ("mlp", "lenet", "resnet18", "densenet")
N_IMAGES = 300
OUT = Path(__file__).resolve().parent / "results" / "probes_ii.txt"

buf = io.StringIO()


def emit(text: str = "") -> None:
    print(text)
    buf.write(text + "\n")


def table(df: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    return df.to_string(index=False, float_format=lambda v: floatfmt.format(v))


def main() -> None:
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    emit(
        f"# Probes II report  ({platform.machine()}, {torch.get_num_threads()} torch thread, "
        f"torch {torch.__version__}, python {sys.version.split()[0]})"
    )
    models = {name: pretrained(name, seed=0) for name in ZOO}
    data = models["lenet"].data
    emit(
        f"data: {data.train.name} ({len(data.train)}) / {data.test.name} ({len(data.test)}); "
        f"{N_IMAGES} test images per probe"
    )
    emit("test accuracy: " + ", ".join(f"{k} {v.test_accuracy:.3f}" for k, v in models.items()))

    # ---------------------------------------------------------------- invariance by depth
    groups = {"flips": T.flip_group(), "shift±1 (circular)": T.translation_group((-1, 0, 1))}
    emit("\n## Invariance score by depth (0 = invariant, 1 = varies as much as across images)")
    inv_rows = []
    for name, tm in models.items():
        for gname, group in groups.items():
            res = invariance_scores(
                tm.model, tm.data.test, group=group, max_images=N_IMAGES, seed=0
            )
            for r in res.rows:
                inv_rows.append(
                    {
                        "model": name,
                        "group": gname,
                        "depth": r.depth,
                        "layer": r.layer,
                        "score": r.score,
                    }
                )
    inv = pd.DataFrame(inv_rows)
    wide = inv.pivot_table(
        index=["model", "depth", "layer"], columns="group", values="score"
    ).reset_index()
    emit(table(wide))

    # ---------------------------------------------------------------- equivariance
    emit(
        "\n## Equivariance to horizontal flip (Lenc-Vedaldi, ridge 1e-3; held-out residual,"
        " identity residual, accuracy with phi(gx) replaced by M_g phi(x))"
    )
    for name in ("lenet", "resnet18"):
        tm = models[name]
        res = equivariance(
            tm.model, tm.data, group=[T.hflip()], max_train=600, max_test=N_IMAGES, seed=0
        )
        df = res.to_pandas()[
            [
                "depth",
                "layer",
                "structure",
                "residual",
                "identity_residual",
                "accuracy_replaced",
                "accuracy_transformed",
            ]
        ]
        emit(f"\n{name}: accuracy on original images {res.accuracy_original:.3f}")
        emit(table(df))

    # ---------------------------------------------------------------- prototype vs CNNs
    emit(
        "\n## Group-invariant prototype (orbit mean over flips -> PCA(32) -> logistic regression)"
        " beside the zoo CNNs: class separability of whole layer outputs on test digits"
    )
    sep_rows = []
    for pooling in ("mean", "max"):
        proto = fit_group_invariant_prototype(
            data.train, group="flips", pooling=pooling, n_components=32
        )
        with torch.no_grad():
            acc = float(
                (
                    proto(torch.as_tensor(data.test.images.copy())).argmax(1).numpy()
                    == data.test.labels
                ).mean()
            )
        inv_p = invariance_scores(
            proto,
            data.test,
            group="flips",
            layers=["representation", "reduction", "classifier"],
            max_images=N_IMAGES,
        )
        sep = class_separability(
            layer_outputs(proto, data.test, layers=["representation", "reduction", "classifier"])
        )
        for r, ri in zip(sep.rows, inv_p.rows):
            sep_rows.append(
                {
                    "model": f"prototype[{pooling}]",
                    "depth": r.depth,
                    "layer": r.layer,
                    "distance_ratio": r.distance_ratio,
                    "fisher": r.fisher_criterion,
                    "flip_invariance": ri.score,
                    "test_acc": acc,
                }
            )
    for name in ("lenet", "resnet18", "densenet"):
        tm = models[name]
        sep = class_separability(layer_outputs(tm.model, tm.data.test))
        flip = {
            r.layer: r.score for r in inv[(inv.model == name) & (inv.group == "flips")].itertuples()
        }
        for r in sep.rows:
            sep_rows.append(
                {
                    "model": name,
                    "depth": r.depth,
                    "layer": r.layer,
                    "distance_ratio": r.distance_ratio,
                    "fisher": r.fisher_criterion,
                    "flip_invariance": flip.get(r.layer, float("nan")),
                    "test_acc": tm.test_accuracy,
                }
            )
    emit(table(pd.DataFrame(sep_rows)))

    # ---------------------------------------------------------------- architecture
    emit(
        "\n## Architecture-only metrics (torch.fx graph on the meta device; no data, no weight values)"
    )
    specs = [(name, build_model(name, image_size=16, seed=0), (1, 16, 16)) for name in ZOO]
    specs.append(
        (
            "resnet18 w=1 CIFAR",
            build_model("resnet18", in_channels=3, image_size=32, width=1.0, seed=0),
            (3, 32, 32),
        )
    )
    specs.append(
        (
            "densenet CIFAR",
            build_model("densenet", in_channels=3, image_size=32, seed=0),
            (3, 32, 32),
        )
    )
    specs.append(
        ("prototype[flips]", fit_group_invariant_prototype(data.train, group="flips"), (1, 16, 16))
    )
    if importlib.util.find_spec("torchvision") is not None:
        import torchvision

        for tv in ("resnet18", "vgg11", "densenet121"):
            specs.append(
                (f"torchvision {tv}", getattr(torchvision.models, tv)(weights=None), (3, 224, 224))
            )
    else:
        emit("(torchvision is not installed: its models are left out of the table)")
    summaries = []
    checks = 0
    for label, net, shape in specs:
        t0 = time.perf_counter()
        rep = architecture_metrics(net, input_shape=shape)
        s = rep.totals()
        s["model"] = label
        s["params==numel"] = rep.total_params == count_parameters(net)
        checks += int(s["params==numel"])
        s["seconds"] = time.perf_counter() - t0
        summaries.append(s)
    emit(table(pd.DataFrame(summaries), "{:.4g}"))

    emit("\n## Per-layer architecture table: CIFAR-style ResNet-18 (width 0.25, 1x16x16 digits)")
    rep = architecture_metrics(models["resnet18"].model, input_shape=(1, 16, 16))
    df = rep.to_pandas(kinds=["Conv2d", "Linear", "add"])
    df["receptive_field"] = df["receptive_field"].map(lambda r: "" if r is None else f"{r[0]}")
    df["jump"] = df["jump"].map(lambda r: "" if r is None else f"{r[0]}")
    emit(
        table(
            df[
                [
                    "layer",
                    "kind",
                    "output_dim",
                    "params",
                    "macs",
                    "receptive_field",
                    "jump",
                    "compression_ratio",
                    "cumulative_compression",
                    "log10_regions_bound",
                ]
            ],
            "{:.4g}",
        )
    )
    emit(f"\nparameter count check (ours == sum of numel): {checks}/{len(specs)} models")
    emit(f"total time: {time.perf_counter() - t_start:.1f} s")
    atomic_write_text(OUT, buf.getvalue())


if __name__ == "__main__":
    main()
