"""One progress mechanism for every long call: a bar with an ETA, and a cost estimate up front.

Bars come from ``tqdm.auto``: a text bar in a terminal, a widget in Jupyter.  They are
silent when

- the caller passes ``progress=False`` (every long public call takes that keyword),
- :func:`set_progress` turned them off (``set_progress(False)``), or the environment
  variable ``TDA_ACTIVATIONS_PROGRESS`` is ``0``,
- standard error is not a terminal and no notebook is running (logging to a file, CI).

Long calls also say what they will cost before they start: :func:`announce_cost` logs a
:class:`CostEstimate` (work units and seconds, from a quick calibration where the call
has one) at INFO level and shows it as the bar's description.

Library code uses it as::

    from .._progress import CostEstimate, announce_cost, progress_bar

    with progress_bar(total=len(layers), desc="persistence", unit="layer", enabled=progress) as bar:
        for layer in layers:
            ...
            bar.update(1)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "CostEstimate",
    "ProgressBar",
    "announce_cost",
    "progress_bar",
    "progress_enabled",
    "set_progress",
    "track",
]

log = logging.getLogger("tda_activations")

T = TypeVar("T")

_OVERRIDE: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Turn progress bars on or off for the whole process.

    Parameters
    ----------
    enabled
        ``True`` shows bars even when standard error is not a terminal, ``False`` hides
        them everywhere, ``None`` restores the default (shown in terminals and notebooks).
    """
    global _OVERRIDE
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"set_progress takes True, False or None, got {enabled!r}")
    _OVERRIDE = enabled


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether a bar should be shown.

    Parameters
    ----------
    enabled
        The caller's ``progress=`` argument: ``True``/``False`` decide, ``None`` follows
        :func:`set_progress`, then ``TDA_ACTIVATIONS_PROGRESS``, then whether standard
        error is a terminal or a notebook is running.
    """
    if enabled is not None:
        return bool(enabled)
    if _OVERRIDE is not None:
        return _OVERRIDE
    env = os.environ.get("TDA_ACTIVATIONS_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) or _in_notebook()


class ProgressBar:
    """A bar that may be silent; ``update(n)`` and ``set_description(text)`` always work."""

    def __init__(self, bar: Any | None) -> None:
        self._bar = bar
        self.n = 0

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` units."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def set_description(self, text: str) -> None:
        """Replace the text in front of the bar."""
        if self._bar is not None:
            self._bar.set_description_str(text)

    def set_postfix(self, text: str) -> None:
        """Replace the text after the bar (e.g. the current layer)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)


@contextmanager
def progress_bar(
    *, total: int | None, desc: str, unit: str = "it", enabled: bool | None = None
) -> Iterator[ProgressBar]:
    """A progress bar for a loop whose steps the caller counts.

    Parameters
    ----------
    total
        Number of units, or ``None`` when unknown (the bar then shows a rate).
    desc
        What is being done, shown in front of the bar.
    unit
        Name of one unit (``"layer"``, ``"image"``, ``"pair"``).
    enabled
        The caller's ``progress=`` argument (see :func:`progress_enabled`).

    Yields
    ------
    ProgressBar
        Call ``update(n)`` after each step.
    """
    if not progress_enabled(enabled):
        yield ProgressBar(None)
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    try:
        yield ProgressBar(bar)
    finally:
        bar.close()


def track(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    enabled: bool | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar.

    Parameters
    ----------
    items
        What to iterate over.
    total
        Number of items (default ``len(items)`` where it has one).
    desc, unit, enabled
        As for :func:`progress_bar`.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(total=total, desc=desc, unit=unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)


@dataclass(frozen=True)
class CostEstimate:
    """What a long call will cost, said before it starts.

    Attributes
    ----------
    what
        The call (``"layer_correspondence"``).
    units
        Number of work units.
    unit
        Name of one unit (``"layer pair"``).
    seconds
        Estimated wall time in seconds, or ``None`` where no calibration was made.
    detail
        How the estimate was made (``"calibrated on 1 layer: 0.8 s"``).
    """

    what: str
    units: int
    unit: str
    seconds: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        plural = (
            "" if self.units == 1 else "es" if self.unit.endswith(("s", "sh", "ch", "x")) else "s"
        )
        text = f"{self.what}: {self.units:,} {self.unit}{plural}"
        if self.seconds is not None:
            text += f", about {format_seconds(self.seconds)}"
        if self.detail:
            text += f" ({self.detail})"
        return text


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``1.2 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def announce_cost(estimate: CostEstimate) -> CostEstimate:
    """Log what a call will cost before it starts (INFO on the ``tda_activations`` logger).

    Returns
    -------
    CostEstimate
        The estimate, unchanged, so a call can return or record it.
    """
    log.info("%s", estimate)
    return estimate
