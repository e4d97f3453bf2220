"""Probes I report: mean dimension and correlation order on XOR and on the digits zoo.

Run:  .venv/bin/python benchmarks/probes_i_report.py  (a few minutes on 2 shared cores)
Writes the tables to benchmarks/results/probes_i.txt (and prints them).

What it does
------------
1. XOR (``datasets.make_xor``, 2 inputs, blobs of sd 0.25): a zoo MLP trained here; the
   correlation-order probe at every layer, and the mean dimension of the logits.
2. Digits zoo (``models.pretrained``: mlp, lenet, resnet18, densenet; seed 0): mean
   dimension of every class logit on PCA coordinates of the inputs (inverse-PCA layer) and,
   for the MLP and LeNet, on the raw pixels; next to Hoyt & Owen's 1.35-2.0 for an MNIST
   network's softmax inputs.
3. Depth profiles (MLP, LeNet): mean dimension of each layer given the input and of the
   output given each layer.
4. Along training: logit mean dimension of an MLP after 0, 1, 2, 4, 8 and 12 epochs.
5. Correlation order on the digits zoo (Gaussians fitted on the train split, accuracy on
   the test split); for ResNet-18 and DenseNet the probed layers are block outputs (clean
   cuts of the graph: no skip connection bypasses them).
6. Timing: the batched estimator against a naive one (one forward pass per swapped row),
   same numbers; ratio on the last line.
"""

from __future__ import annotations

import copy
import io
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tda_activations._atomic import atomic_write_text  # noqa: E402
from tda_activations.datasets import flat_hierarchy, load_digits, make_xor  # noqa: E402
from tda_activations.models import build_model, fit, pretrained  # noqa: E402
from tda_activations.probes.correlation_order import correlation_order  # noqa: E402
from tda_activations.probes.mean_dimension import (  # noqa: E402
    fit_pca,
    logit_mean_dimensions,
    logit_total_indices,
    mean_dimension_profile,
    product_of_marginals,
    total_indices,
)
from tda_activations.types import ImageDataset  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "probes_i.txt"
buf = io.StringIO()
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)


def say(*parts: object) -> None:
    text = " ".join(str(p) for p in parts)
    print(text, flush=True)
    buf.write(text + "\n")


def table(df: pd.DataFrame) -> None:
    say(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # a second thread is slower than none on the shared machine
    t_all = time.perf_counter()
    say("# Probes I report: mean dimension and correlation order")
    say(
        f"machine: {platform.machine()}, {platform.system()}, torch {torch.__version__}, 1 torch thread "
        "(2-core x86_64, 24 GiB, shared)"
    )

    # ------------------------------------------------------------------ 1. XOR
    say("\n## 1. XOR: which order of correlations carries the class, layer by layer")
    (xf, yf), (xe, ye) = make_xor(2000, seed=0), make_xor(2000, seed=1)
    hier = flat_hierarchy(["same sign", "different sign"])
    train = ImageDataset(
        images=xf.reshape(-1, 2, 1, 1), labels=yf, hierarchy=hier, name="xor/train"
    )
    mlp = build_model("mlp", in_channels=2, image_size=1, num_classes=2, hidden=(32, 32), seed=0)
    mlp = fit(mlp, train, seed=0, epochs=30, lr=1e-2)
    co = correlation_order(
        mlp, (xe.astype(np.float32), ye), fit_data=(xf.astype(np.float32), yf), n_draws=2, seed=0
    )
    rho = float(np.corrcoef(xe[ye == 0].T)[0, 1])
    say(
        f"MLP 2-32-32-2 (zoo 'mlp'), 2000 fit / 2000 test points, noise sd 0.25; true accuracy "
        f"{co.true_accuracy:.3f}; {co.n_surrogates} surrogates per layer and kind"
    )
    say(
        "columns: class_means_class_covs = 1st+2nd order, class_means_pooled_cov = 1st order only, "
        "pooled_mean_class_covs = 2nd order only"
    )
    table(co.to_pandas().drop(columns=[c for c in co.to_pandas().columns if c.endswith("_se")]))
    say(
        f"Gaussian ceiling at the input: a class-covariance Gaussian (rho = {rho:.3f}) puts x1*x2 on its "
        f"class's side with probability 1/2 + asin(rho)/pi = {0.5 + np.arcsin(rho) / np.pi:.3f}"
    )
    ti = logit_total_indices(mlp, (xe.astype(np.float32), ye), features="inputs", n_rows=1000)
    tp = logit_total_indices(mlp, (xe.astype(np.float32), ye), features="pca", n_rows=1000)
    say(
        f"mean dimension of the XOR logits on the raw inputs: {ti.mean_dimensions.round(3)} "
        f"(+- {ti.mean_dimension_se.round(3)}); on PCA coordinates: {tp.mean_dimensions.round(3)} "
        f"(+- {tp.mean_dimension_se.round(3)})"
    )

    # ------------------------------------------------------------- 2. digits zoo
    say(
        "\n## 2. Digits zoo: mean dimension of the class logits (Hoyt & Owen, MNIST softmax inputs: 1.35-2.0)"
    )
    zoo = {}
    for name in ("mlp", "lenet", "resnet18", "densenet"):
        t0 = time.perf_counter()
        zoo[name] = pretrained(name, seed=0)
        say(
            f"{name}: test accuracy {zoo[name].test_accuracy:.3f}, input {zoo[name].data.test.image_shape} "
            f"(loaded/trained in {time.perf_counter() - t0:.1f} s)"
        )
    test = zoo["mlp"].data.test
    models = {k: v.model for k, v in zoo.items()}
    small = {k: zoo[k].model for k in ("mlp", "lenet")}
    basis = fit_pca(test.images)
    z_ind = product_of_marginals(basis.transform(test.images), seed=0)
    x_pcs_ind = basis.inverse_layer()(torch.from_numpy(z_ind).float()).numpy()
    x_pix_ind = product_of_marginals(test.images, seed=0)
    runs = [
        (
            "PCA coords, given data (generalised)",
            lambda: logit_mean_dimensions(models, test, features="pca", n_rows=300),
        ),
        (
            "PCA coords, independent (each shuffled)",
            lambda: logit_mean_dimensions(
                models, x_pcs_ind, features="pca", fit_data=test, n_rows=300
            ),
        ),
        (
            "pixels, given data (generalised)",
            lambda: logit_mean_dimensions(small, test, features="inputs", n_rows=200),
        ),
        (
            "pixels, independent (each shuffled)",
            lambda: logit_mean_dimensions(small, x_pix_ind, features="inputs", n_rows=200),
        ),
    ]
    frames = []
    results = {}
    for label, run in runs:
        t0 = time.perf_counter()
        res = run()
        results[label] = res
        df = res.to_pandas()
        df.insert(1, "features", label)
        frames.append(df)
        say(f"  {label}: {time.perf_counter() - t0:.1f} s")
    say(
        f"PCA: all {basis.n_components} components with non-zero variance (the 16x16 upsampled digits have "
        "rank <= 64); 300 test images for PCA coordinates, 200 for the 256 pixels:"
    )
    table(pd.concat(frames, ignore_index=True).sort_values(["model", "features"], kind="stable"))
    md_pca, md_pix = results[runs[0][0]], results[runs[2][0]]
    per_logit = pd.DataFrame(
        {name: res.mean_dimensions for name, res in zip(md_pca.models, md_pca.results)},
        index=list(md_pca.results[0].output_names),
    )
    say("\nPer-logit mean dimension on PCA coordinates:")
    say(per_logit.to_string(float_format=lambda v: f"{v:.3f}"))
    heat = md_pix.results[0].heatmap()[0]
    say(
        "\nMLP per-pixel pooled generalised total index (x100), 16x16 (the heatmap for post-hoc explanation):"
    )
    for r in heat:
        say(" ".join(f"{100 * v:4.1f}" for v in r))

    # --------------------------------------------------------- 3. depth profiles
    say("\n## 3. Depth profiles (n_rows 150, 16 PCA components per layer + residual feature)")
    for name in ("mlp", "lenet"):
        t0 = time.perf_counter()
        prof = mean_dimension_profile(zoo[name].model, test, n_rows=150, n_components=16)
        say(f"\n{name} ({time.perf_counter() - t0:.1f} s):")
        table(prof.to_pandas())

    # ------------------------------------------------------- 4. along training
    say("\n## 4. Along training: MLP logits after 0..12 epochs (Adam, lr 2e-3, batch 64, seed 0)")
    digits = load_digits(upsample=2)
    model = build_model("mlp", image_size=16, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = (
        torch.from_numpy(np.array(digits.train.images)),
        torch.from_numpy(np.array(digits.train.labels)),
    )
    gen = torch.Generator().manual_seed(0)
    checkpoints: dict[str, nn.Module] = {"epoch 0": copy.deepcopy(model).eval()}
    accs = {"epoch 0": None}
    for epoch in range(1, 13):
        model.train()
        order = torch.randperm(len(yt), generator=gen)
        for s in range(0, len(yt), 64):
            idx = order[s : s + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
        if epoch in (1, 2, 4, 8, 12):
            checkpoints[f"epoch {epoch}"] = copy.deepcopy(model).eval()
    for key, m in checkpoints.items():
        with torch.no_grad():
            accs[key] = float(
                (m(torch.from_numpy(np.array(test.images))).argmax(1).numpy() == test.labels).mean()
            )
    t0 = time.perf_counter()
    along = logit_mean_dimensions(checkpoints, test, features="pca", n_rows=300)
    df = along.to_pandas()
    df.insert(1, "test_accuracy", [accs[k] for k in df["model"]])
    say(f"({time.perf_counter() - t0:.1f} s)")
    table(df)

    # ---------------------------------------------------- 5. correlation order
    say(
        "\n## 5. Correlation order on the digits zoo (fit: 1257 train images, accuracy: 540 test images)"
    )
    cuts = {
        "mlp": None,
        "lenet": None,
        "resnet18": [
            "conv1",
            "layer1.0",
            "layer1.1",
            "layer2.0",
            "layer2.1",
            "layer3.0",
            "layer3.1",
            "layer4.0",
            "layer4.1",
            "linear",
        ],
        "densenet": [
            "conv1",
            "features.0",
            "features.1",
            "features.2",
            "features.3",
            "features.4",
            "linear",
        ],
    }
    for name, tm in zoo.items():
        t0 = time.perf_counter()
        co = correlation_order(tm.model, tm.data, layers=cuts[name], seed=0)
        say(f"\n{name}: true accuracy {co.true_accuracy:.3f} ({time.perf_counter() - t0:.1f} s)")
        table(
            co.to_pandas().drop(
                columns=[
                    c
                    for c in co.to_pandas().columns
                    if c.endswith("_se") or c in ("true_accuracy", "chance_accuracy")
                ]
            )
        )

    # ---------------------------------------------------------------- 6. timing
    say("\n## 6. Timing: batched given-data estimator vs one forward pass per swapped row")
    net = zoo["lenet"].model
    x = np.array(test.images[:40])
    t0 = time.perf_counter()
    fast = total_indices(net, x, seed=0, batch_size=512)
    t_fast = time.perf_counter() - t0

    def one_at_a_time(z: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate(
                [
                    net(torch.from_numpy(z[i : i + 1].astype(np.float32))).numpy()
                    for i in range(z.shape[0])
                ]
            )

    t0 = time.perf_counter()
    slow = total_indices(one_at_a_time, x, seed=0, batch_size=512)
    t_slow = time.perf_counter() - t0
    same = np.allclose(fast.indices, slow.indices, rtol=1e-4, atol=1e-8)
    say(
        f"LeNet, 40 rows x 256 pixels = {40 * 257} forward passes: batched {t_fast:.2f} s, "
        f"one-by-one {t_slow:.2f} s, same indices: {same}"
    )
    say(f"total report time: {time.perf_counter() - t_all:.0f} s")
    say(f"ratio (one-by-one/batched): {t_slow / t_fast:.1f}x")
    atomic_write_text(OUT, buf.getvalue())


if __name__ == "__main__":
    main()
