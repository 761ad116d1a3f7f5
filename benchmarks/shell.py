"""An in-process IPython ``InteractiveShell``, as a kernel runs cells (without the ZMQ part)."""

from __future__ import annotations

from typing import Any

from .common import clock


def make_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no ~/.ipython history database
    return InteractiveShell.instance(config=config)


def run_cell(shell: Any, source: str) -> int:
    """Run one cell as a notebook would (execution count advances); returns its duration (ns)."""
    start = clock()
    result = shell.run_cell(source, store_history=True)
    elapsed = clock() - start
    if not result.success:
        raise RuntimeError(
            f"benchmark cell failed: {source!r}: "
            f"{result.error_in_exec or result.error_before_exec!r}"
        )
    return elapsed
