"""Config-driven runs over many models: tasks keyed by content, local or Dask executors, a report.

>>> from tda_activations import batch
>>> cfg = batch.load_config(batch.embedded_config_path())        # validated up front
>>> result = batch.run_batch(cfg, out="runs/demo")              # doctest: +SKIP
>>> print(result.summary())                                      # doctest: +SKIP

Public names
------------
load_config, config_from_dict, RunConfig, ConfigError   the TOML run config
embedded_config_path, shipped_configs                   configs under ``data/configs``
run_batch, RunResult, TaskRecord                        running a config (resumable)
Planner, Task, make_task, execute_task                  the task DAG
LocalExecutor, DaskExecutor, SchedulerUnreachable       where tasks run
build_report                                            ``index.html`` of a run
save_matrix, load_matrix                                matrices in open formats
"""

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
from .runner import RunResult, TaskRecord, package_versions, run_batch
from .tasks import Task, execute_task, make_task

__all__ = [
    "ConfigError",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Planner",
    "RunConfig",
    "RunResult",
    "SchedulerUnreachable",
    "Task",
    "TaskRecord",
    "build_report",
    "config_from_dict",
    "embedded_config_path",
    "execute_task",
    "load_config",
    "load_matrix",
    "make_executor",
    "make_task",
    "package_versions",
    "path_fingerprint",
    "run_batch",
    "save_matrix",
    "shipped_configs",
]
