"""The Dask executor: a real LocalCluster with two worker processes gives the same results as
local processes; an unreachable scheduler is reported clearly."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

pytest.importorskip("distributed")

from tda_activations.batch import DaskExecutor, SchedulerUnreachable, run_batch  # noqa: E402

CONFIG = """
[run]
name = "dask"
[data]
dataset = "digits:x2"
limit = 70
[[models]]
name = "mlp"
zoo = "mlp"
[[models]]
name = "lenet"
zoo = "lenet"
layers = ["conv1", "conv2", "fc1"]
[homology]
maxdim = 1
[distances]
metrics = ["sliced_wasserstein"]
[similarity]
measures = ["linear_cka"]
[mapper]
n_intervals = 4
html = false
[probes]
run = ["separability"]
"""


def _results(run_dir):
    out = {}
    for f in sorted(run_dir.glob("tasks/*/*/*.npz")):
        with np.load(f, allow_pickle=False) as z:
            for name in z.files:
                if name != "meta":
                    out[f"{f.relative_to(run_dir)}:{name}"] = np.array(z[name])
    for f in sorted(run_dir.glob("tasks/*/*/*.csv")) + sorted(run_dir.glob("tasks/*/*/*/*.csv")):
        out[str(f.relative_to(run_dir))] = f.read_text()
    return out


@pytest.mark.slow
def test_local_cluster_gives_the_results_of_the_local_executor(tmp_path):
    from distributed import LocalCluster

    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent(CONFIG))
    local = run_batch(cfg, out=tmp_path / "local", workers=1, report=False)
    assert local.ok, local.summary()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask = run_batch(
            cfg, out=tmp_path / "dask", scheduler=cluster.scheduler_address, report=True
        )
        assert dask.ok, dask.summary()
        import json

        manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
        assert manifest["executor"]["executor"] == "dask" and manifest["executor"]["workers"] == 2
        hosts = {
            json.loads((tmp_path / "dask" / r.path / "_task.json").read_text())["pid"]
            for r in dask.records
        }
        assert len(hosts) == 2  # both workers ran tasks
    assert [r.key for r in dask.records] == [r.key for r in local.records]
    a, b = _results(tmp_path / "local"), _results(tmp_path / "dask")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert (tmp_path / "dask" / "index.html").exists()


def test_unreachable_scheduler_is_named(tmp_path):
    with pytest.raises(SchedulerUnreachable, match=r"tcp://127\.0\.0\.1:9.*--scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=2)


def test_cli_reports_an_unreachable_scheduler(tmp_path):
    from typer.testing import CliRunner

    from tda_activations.cli.run import app

    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent(CONFIG))
    result = CliRunner().invoke(
        app,
        [
            str(cfg),
            "--out",
            str(tmp_path / "run"),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--scheduler-timeout",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in result.output


@pytest.mark.slow
def test_own_local_cluster_keeps_glibcs_adaptive_malloc():
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_, which makes every large temporary array a
    # fresh mmap (the sliced-Wasserstein pair measured 2x slower); our cluster unsets it
    import os

    ex = DaskExecutor(n_workers=1)
    try:
        env = ex.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    finally:
        ex.close()
    assert list(env.values()) == [None]


@pytest.mark.slow
def test_a_users_workers_with_malloc_trim_set_are_named(caplog):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with caplog.at_level("WARNING", logger="tda_activations.batch.executors"):
            ex = DaskExecutor(cluster.scheduler_address)
            ex.close()
    assert "1 of 1 Dask workers run with MALLOC_TRIM_THRESHOLD_ set" in caplog.text
    assert "pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null" in caplog.text
