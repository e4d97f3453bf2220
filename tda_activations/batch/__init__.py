"""Config-driven runs over many models: tasks keyed by content, local or Dask executors, a report.

>>> from tda_activations import batch
>>> cfg = batch.load_config(batch.embedded_config_path())        # validated up front
>>> result = batch.run_batch(cfg, out="runs/demo")              # doctest: +SKIP
>>> print(result.summary())                                      # doctest: +SKIP

Public names
------------
load_config, config_from_dict, RunConfig, ConfigError   the TOML run config
embedded_config_path, shipped_configs                   configs under ``tda_activations/data/configs``
run_batch, RunResult, TaskRecord, RunDirectoryError     running a config (resumable)
check_trust, code_references, CodeReference             what code a config would import
code_fingerprint                                        the code a task's key depends on
Planner, Task, make_task, execute_task                  the task DAG
LocalExecutor, DaskExecutor, SchedulerUnreachable       where tasks run
build_report                                            ``index.html`` of a run
save_matrix, load_matrix                                matrices in open formats
"""

from .codehash import code_fingerprint
from .config import (
    ConfigError,
    RunConfig,
    config_from_dict,
    embedded_config_path,
    load_config,
    shipped_configs,
)
from .executors import DaskExecutor, Executor, LocalExecutor, SchedulerUnreachable, make_executor
from .plan import Planner, path_fingerprint
from .report import build_report
from .results import load_matrix, save_matrix
from .runner import RunDirectoryError, RunResult, TaskRecord, package_versions, run_batch
from .tasks import Task, execute_task, file_checksums, make_task, verify_task
from .trust import CodeReference, check_trust, code_references

__all__ = [
    "CodeReference",
    "ConfigError",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Planner",
    "RunConfig",
    "RunDirectoryError",
    "RunResult",
    "SchedulerUnreachable",
    "Task",
    "TaskRecord",
    "build_report",
    "check_trust",
    "code_fingerprint",
    "code_references",
    "config_from_dict",
    "embedded_config_path",
    "execute_task",
    "file_checksums",
    "load_config",
    "load_matrix",
    "make_executor",
    "make_task",
    "package_versions",
    "path_fingerprint",
    "run_batch",
    "save_matrix",
    "shipped_configs",
    "verify_task",
]
