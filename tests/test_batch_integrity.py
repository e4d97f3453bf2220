"""Integrity of runs: checksummed outputs verified (and repaired) on resume, task keys that
follow the code, an exclusive lock, run directories that cannot be written, a manifest never
left "running", and workers that do not outlive a killed run."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from tda_activations import _atomic
from tda_activations.batch import (
    RunDirectoryError,
    make_task,
    run_batch,
    verify_task,
)
from tda_activations.batch import codehash as cf_module
from tda_activations.batch import results as results_module
from tda_activations.batch import tasks as tasks_module
from tda_activations.batch.runner import _Lock
from tda_activations.cli.run import app

TOML = """
[run]
name = "integrity"
[data]
dataset = "digits:x2"
limit = 40
[[models]]
name = "a"
source = "tda_activations.models:MLP"
kwargs = { in_features = 256, num_classes = 10, hidden = [12, 8] }
[[models]]
name = "b"
source = "tda_activations.models:MLP"
kwargs = { in_features = 256, num_classes = 10, hidden = [10] }
[homology]
maxdim = 0
[distances]
dim = 0
metrics = ["bottleneck"]
[similarity]
measures = ["linear_cka"]
[mapper]
enabled = false
[probes]
run = []
"""


def write_config(folder: Path, text: str = TOML) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "integrity.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    cfg = write_config(root)
    result = run_batch(cfg, out=root / "run", workers=1, report=False)
    assert result.ok, result.summary()
    return cfg, result


@pytest.fixture
def run_copy(finished, tmp_path):
    cfg, result = finished
    dst = tmp_path / "run"
    shutil.copytree(result.run_dir, dst)
    return cfg, dst


def records(run_dir: Path) -> dict[str, dict]:
    return {
        str(f.parent.relative_to(run_dir)): json.loads(f.read_text())
        for f in run_dir.glob("tasks/*/*/_task.json")
    }


def test_every_output_has_its_sha256_in_the_task_record(finished):
    _, result = finished
    recs = records(result.run_dir)
    assert len(recs) == len(result.records)
    n_files = 0
    for folder, rec in recs.items():
        on_disk = {
            f.relative_to(result.run_dir / folder).as_posix()
            for f in (result.run_dir / folder).rglob("*")
            if f.is_file() and f.name != "_task.json"
        }
        assert set(rec["files"]) == on_disk and on_disk, folder
        for rel, digest in rec["files"].items():
            data = (result.run_dir / folder / rel).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest
            n_files += 1
    assert n_files > 20


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _zarr_chunk(run_dir: Path) -> Path:
    chunks = sorted(run_dir.glob("tasks/extract/a-*/store/**/points/c/0/0"))
    assert len(chunks) == 3  # one chunk of points per layer
    return chunks[0]


CORRUPTIONS = {
    "truncated zarr chunk": (
        _zarr_chunk,
        lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
    ),
    "flipped byte in diagrams.npz": (
        lambda r: min(r.glob("tasks/persistence/a_classifier-*/diagrams.npz")),
        _flip_byte,
    ),
    "flipped byte in matrix.npz": (
        lambda r: min(r.glob("tasks/distances/a_bottleneck-*/matrix.npz")),
        _flip_byte,
    ),
    "edited matrix.csv": (
        lambda r: min(r.glob("tasks/similarity/a_linear_cka-*/matrix.csv")),
        lambda f: f.write_text(f.read_text().replace("1,", "0.5,", 1)),
    ),
    "deleted file": (
        lambda r: min(r.glob("tasks/similarity-all/*/models.json")),
        lambda f: f.unlink(),
    ),
}


def _assert_same_content(path: Path, original: bytes) -> None:
    if path.suffix != ".npz":
        assert path.read_bytes() == original
        return
    # a zip member carries its write time: compare the arrays
    with (
        np.load(io.BytesIO(original), allow_pickle=False) as a,
        np.load(path, allow_pickle=False) as b,
    ):
        assert a.files == b.files
        for name in a.files:
            if name == "meta":  # JSON that records the seconds the computation took
                ma, mb = (json.loads(str(z[name])) for z in (a, b))
                ma["params"].pop("seconds"), mb["params"].pop("seconds")
                assert ma == mb
            else:
                np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_resume_verifies_and_repairs_corrupt_outputs(run_copy, case, caplog):
    cfg, run_dir = run_copy
    find, corrupt = CORRUPTIONS[case]
    target = find(run_dir)
    original = target.read_bytes()
    folder = next(p for p in target.parents if (p / "_task.json").exists())
    rel_folder = folder.relative_to(run_dir).as_posix()
    corrupt(target)
    assert not target.exists() or target.read_bytes() != original

    with caplog.at_level(logging.WARNING, logger="tda_activations"):
        result = run_batch(cfg, out=run_dir, workers=1, report=False)
    assert result.ok, result.summary()
    statuses = {r.path: r.status for r in result.records}
    assert statuses[rel_folder] == "done"  # computed again
    assert sum(s == "done" for s in statuses.values()) == 1  # nothing else
    rel_file = target.relative_to(folder).as_posix()
    warnings = [r.getMessage() for r in caplog.records if rel_folder in r.getMessage()]
    assert warnings and rel_file in warnings[0] and "computing it again" in warnings[0]
    _assert_same_content(target, original)  # repaired: what the first run wrote
    key = json.loads((folder / "_task.json").read_text())["key"]
    assert verify_task(run_dir, SimpleNamespace(path=rel_folder, key=key)) is None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["history"][-1]["repaired"][0]["task"] == rel_folder


def test_an_added_file_is_noticed(run_copy, caplog):
    cfg, run_dir = run_copy
    folder = min(run_dir.glob("tasks/persistence/b_*"))
    (folder / "stray.txt").write_text("not written by the task")
    with caplog.at_level(logging.WARNING, logger="tda_activations"):
        result = run_batch(cfg, out=run_dir, workers=1, report=False)
    assert result.ok
    assert any("stray.txt was not written by the task" in r.getMessage() for r in caplog.records)
    assert not (folder / "stray.txt").exists()


# ------------------------------------------------------------------------ code fingerprint


SIM = "tda_activations.batch.stages:similarity_block"


def test_task_key_follows_the_code_of_the_stage(monkeypatch, tmp_path):
    func = "tda_activations.batch.stages:persistence_layer"
    key = make_task("persistence", "x", func, {"layer": "l"}).key
    root = tmp_path / "tda_activations"
    shutil.copytree(cf_module._ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cf_module, "_ROOT", root)
    caches = [
        cf_module.code_fingerprint,
        cf_module.module_closure,
        cf_module._module_imports,
        cf_module._parsed,
    ]
    for c in caches:
        c.cache_clear()
    try:
        assert make_task("persistence", "x", func, {"layer": "l"}).key == key  # same code
        sim = make_task("similarity", "x", SIM).key
        rips = root / "homology" / "rips.py"
        rips.write_text(rips.read_text() + "\n# a change in the Rips code\n")
        for c in caches:
            c.cache_clear()
        assert make_task("persistence", "x", func, {"layer": "l"}).key != key
        # a stage that does not use the Rips code keeps its key
        assert make_task("similarity", "x", SIM).key == sim
        stages = root / "batch" / "stages.py"
        text = stages.read_text()
        stages.write_text(
            text.replace(
                '"""Persistence diagrams of one layer',
                '"""Persistence diagrams (edited) of one layer',
            )
        )
        for c in caches:
            c.cache_clear()
        assert make_task("similarity", "x", SIM).key == sim
        changed = make_task("persistence", "x", func, {"layer": "l"}).key
        assert changed != key
    finally:
        for c in caches:
            c.cache_clear()


def test_rerun_after_a_code_change_recomputes_what_the_code_computes(run_copy, monkeypatch):
    cfg, run_dir = run_copy
    real = cf_module.code_fingerprint

    def changed(func: str) -> str:
        return real(func) + ("-v2" if func.endswith(":persistence_layer") else "")

    monkeypatch.setattr(tasks_module, "code_fingerprint", changed)
    result = run_batch(cfg, out=run_dir, workers=1, report=False)
    assert result.ok
    by_kind: dict[str, set[str]] = {}
    for r in result.records:
        by_kind.setdefault(r.kind, set()).add(r.status)
    assert by_kind["extract"] == {"cached"} and by_kind["similarity"] == {"cached"}
    assert by_kind["persistence"] == {"done"} and by_kind["distances"] == {"done"}


# ----------------------------------------------------------------------------------- lock

LOCK_SCRIPT = """
import sys, time
from pathlib import Path
from tda_activations.batch.runner import _Lock
run_dir, start = Path(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    pass
try:
    with _Lock(run_dir):
        print("got", flush=True)
        time.sleep(3)
except RuntimeError:
    print("busy", flush=True)
"""


def test_two_runs_started_at_the_same_instant_one_gets_the_lock(tmp_path):
    script = tmp_path / "lock.py"
    script.write_text(LOCK_SCRIPT)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start = time.time() + 4.0
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(run_dir), str(start)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outs) == ["busy", "busy", "busy", "got"], outs
    assert not (run_dir / "run.lock").exists()  # released by its holder


def test_stale_lock_is_taken_over_live_one_refused(tmp_path, caplog):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    lock = run_dir / "run.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "since": "then"}))
    with caplog.at_level(logging.WARNING, logger="tda_activations"), _Lock(run_dir):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert any("no longer alive" in r.getMessage() for r in caplog.records)

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid, "since": "now"}))
        with pytest.raises(RuntimeError, match=f"another run \\(pid {live.pid}"):
            _Lock(run_dir).__enter__()
        assert json.loads(lock.read_text())["pid"] == live.pid  # left alone
    finally:
        live.kill()
        live.wait()
    lock.write_text(json.dumps({"host": "elsewhere.example", "pid": 1, "since": "now"}))
    with pytest.raises(RuntimeError, match="host elsewhere.example.*delete"):
        _Lock(run_dir).__enter__()


def test_cli_lock_held_is_one_line_exit_2(finished, tmp_path):
    cfg, _ = finished
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    import socket

    (run_dir / "run.lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": os.getppid(), "since": "now"})
    )
    res = CliRunner().invoke(app, [str(cfg), "--out", str(run_dir), "--quiet", "-j", "1"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.strip().startswith("error: another run")
    assert len(res.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ unwritable run folders


def _cli_one_line(cfg: Path, out: Path) -> str:
    res = CliRunner().invoke(
        app, [str(cfg), "--out", str(out), "--quiet", "-j", "1", "--no-report"]
    )
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_out_is_a_file_or_under_a_file(finished, tmp_path):
    cfg, _ = finished
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file, not a folder" in _cli_one_line(cfg, afile)
    assert f"{afile} is a file" in _cli_one_line(cfg, afile / "sub" / "run")
    with pytest.raises(RunDirectoryError, match="is a file"):
        run_batch(cfg, out=afile, workers=1)
    assert afile.read_text() == "x"


def test_log_file_that_cannot_be_written(finished, tmp_path):
    cfg, _ = finished
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = CliRunner().invoke(
        app, [str(cfg), "--out", str(tmp_path / "run"), "-q", "--log-file", str(afile / "run.log")]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.strip().startswith(f"error: --log-file {afile / 'run.log'} cannot be written")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="permissions do not stop root (or a non-POSIX system)",
)
def test_out_read_only(finished, tmp_path):
    cfg, _ = finished
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert "Permission denied" in _cli_one_line(cfg, ro)
        assert "Permission denied" in _cli_one_line(cfg, ro / "run")
    finally:
        ro.chmod(0o755)


def _enospc(path, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_disk_full_read_only_fs_one_line_exit_2(finished, tmp_path, monkeypatch):
    cfg, _ = finished
    monkeypatch.setattr(_atomic, "atomic_write_bytes", _enospc)
    monkeypatch.setattr(results_module, "atomic_write_bytes", _enospc)
    line = _cli_one_line(cfg, tmp_path / "full")
    assert "No space left on device" in line and "free some space" in line

    def erofs(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(_atomic, "atomic_write_bytes", erofs)
    assert "Read-only file system" in _cli_one_line(cfg, tmp_path / "ro")
    assert not (tmp_path / "ro" / "run.lock").exists()


def test_disk_full_at_the_end_leaves_a_failed_manifest_not_running(finished, tmp_path, monkeypatch):
    cfg, _ = finished
    real = _atomic.atomic_write_bytes
    seen_states = []

    def fill_up(path, data):
        p = Path(path)
        if p.name == "manifest.json" and p.parent == tmp_path / "run":
            state = json.loads(data)["state"]
            seen_states.append(state)
            if state in ("complete", "incomplete"):  # the disk fills as the run ends
                _enospc(path, data)
        elif p.suffix in (".npz", ".csv", ".png", ".pdf"):
            _enospc(path, data)  # and task outputs fail on the way
        return real(path, data)

    monkeypatch.setattr(_atomic, "atomic_write_bytes", fill_up)
    monkeypatch.setattr(results_module, "atomic_write_bytes", fill_up)
    with pytest.raises(RunDirectoryError, match="No space left on device"):
        run_batch(cfg, out=tmp_path / "run", workers=1, report=False)
    assert "running" in seen_states
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert "No space left on device" in manifest["failure"]
    failed = [t for t in manifest["tasks"] if t["status"] == "failed"]
    assert failed and all("No space left on device" in t["error"] for t in failed)
    assert not (tmp_path / "run" / "run.lock").exists()
    assert not list((tmp_path / "run").glob("tasks/*/.*partial"))


# -------------------------------------------------------------- workers outlive no parent

RUN_SCRIPT = """
import sys
from tda_activations.batch import run_batch
if __name__ == "__main__":
    run_batch(sys.argv[1], out=sys.argv[2], workers=2, report=False)
"""


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(stat.parent.name))
    return out


def _descendants(pid: int) -> set[int]:
    tree, out, todo = _children(), set(), [pid]
    while todo:
        for c in tree.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_minus_nine_of_the_runner_ends_its_workers(tmp_path):
    cfg = write_config(
        tmp_path, TOML.replace("limit = 40", "limit = 300").replace("maxdim = 0", "maxdim = 1")
    )
    script = tmp_path / "run.py"
    script.write_text(RUN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cfg), str(tmp_path / "run")],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {
                p
                for p in _descendants(proc.pid)
                if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
            }
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None and len(workers) >= 2, "no worker processes were seen"
        os.kill(proc.pid, signal.SIGKILL)  # the runner only, not its process group
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        survivors = [p for p in workers if _alive(p)]
        assert not survivors, f"worker processes {survivors} outlived the killed run"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
