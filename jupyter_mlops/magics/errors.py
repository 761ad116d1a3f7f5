"""Showing errors of magic cells as IPython shows those of plain cells."""

from __future__ import annotations

from typing import Any


def show_syntax_error(shell: Any, exc: SyntaxError) -> None:
    """Show ``exc`` without the frames of the magic and of IPython's compiler, and mark the
    cell as failed in the execution result (what the kernel's reply, and so nbclient,
    papermill and CI, read). ``exc`` should already name the cell and line as displayed."""
    __tracebackhide__ = True
    result = getattr(shell.displayhook, "exec_result", None)
    if result is None:  # not inside run_cell (called directly): a plain raise is all
        raise exc.with_traceback(None)
    try:
        raise exc.with_traceback(None)
    except SyntaxError:
        shell.showsyntaxerror()
    result.error_in_exec = exc
