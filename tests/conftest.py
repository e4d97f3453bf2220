"""Test-wide settings: torch threads per test process, and a fresh cache of zoo weights per session.

- ``TDA_TEST_TORCH_THREADS`` (default 1): torch threads in each test process.  pytest-xdist
  runs two workers on two cores, so more threads per worker only oversubscribe; the suite
  is also run with 2 to show that no test depends on the thread count.
- Each test process gets its own empty weights cache in a temporary folder, removed at
  exit: results never depend on what an earlier run left behind.  The default zoo models
  load from the weights shipped with the package (identical on every machine); only
  non-default settings train, into this cache.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")

_CACHE = tempfile.mkdtemp(prefix="tda_test_cache_")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["TDA_ACTIVATIONS_CACHE"] = _CACHE

import pytest  # noqa: E402 - after the cache is set, before anything imports the package
import torch  # noqa: E402


def _threads() -> int:
    raw = os.environ.get("TDA_TEST_TORCH_THREADS", "1")
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(
            f"TDA_TEST_TORCH_THREADS must be a positive integer, got {raw!r}"
        ) from None
    if n < 1:
        raise ValueError(f"TDA_TEST_TORCH_THREADS must be a positive integer, got {raw!r}")
    return n


TORCH_THREADS = _threads()
torch.set_num_threads(TORCH_THREADS)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what a test (the CLI's ``--verbose`` callback, say) did to logging's set-up.

    The CLI configures the root logger for the process it runs in; under the test runner
    that process is shared, so without this a later test would see its INFO records.
    """
    loggers = [logging.getLogger(), logging.getLogger("tda_activations")]
    saved = [(lg, list(lg.handlers), lg.level) for lg in loggers]
    yield
    for lg, handlers, level in saved:
        for h in list(lg.handlers):
            if h not in handlers:
                lg.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in lg.handlers:
                lg.addHandler(h)
        lg.setLevel(level)
