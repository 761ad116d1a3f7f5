"""What a run remembers about where it came from: git, environment, notebook path, stdout.

Everything slow here (git subprocesses, package metadata) is called from the background writer,
never from the cell being tracked.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import traceback
import types
from collections import deque
from typing import Any, TextIO

from ..config import NOTEBOOK_ENV, env
from .environment import environment_info, imported_package_versions

__all__ = [
    "StreamTail",
    "current_cell_id",
    "current_execution_count",
    "environment_info",
    "format_traceback",
    "git_info",
    "imported_package_versions",
    "notebook_path",
    "output_tail",
    "strip_ansi",
]

MAX_DIFF_BYTES = 100_000
STDOUT_TAIL_CHARS = 10_000
GIT_TIMEOUT_S = 5.0
# Several runs started within this window in one repo share one git capture.
GIT_CACHE_S = 1.0

_git_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_git_lock = threading.Lock()


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def git_info(path: str | None = None) -> dict[str, Any] | None:
    """Commit, branch, dirty flag and diff (capped at MAX_DIFF_BYTES) of the repo at ``path``."""
    cwd = os.path.abspath(path or os.getcwd())
    if os.path.isfile(cwd):
        cwd = os.path.dirname(cwd)
    if not os.path.isdir(cwd):
        return None
    with _git_lock:
        cached = _git_cache.get(cwd)
        if cached and time.monotonic() - cached[0] < GIT_CACHE_S:
            return cached[1]
    root = _git(["rev-parse", "--show-toplevel"], cwd)
    info: dict[str, Any] | None = None
    if root is not None:
        commit = (_git(["rev-parse", "HEAD"], cwd) or "").strip() or None
        branch = (_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd) or "").strip() or None
        status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
        diff = _git(["diff", "HEAD"], cwd) if commit else None
        truncated = False
        if diff is not None and len(diff.encode()) > MAX_DIFF_BYTES:
            diff = diff.encode()[:MAX_DIFF_BYTES].decode("utf-8", "ignore")
            truncated = True
        info = {
            "root": root.strip(),
            "commit": commit,
            "branch": branch,
            "dirty": bool(status.strip()),
            "diff": diff or "",
            "diff_truncated": truncated,
        }
    with _git_lock:
        _git_cache[cwd] = (time.monotonic(), info)
    return info


def notebook_path(user_ns: dict[str, Any] | None = None) -> str | None:
    """The notebook this kernel runs, as Jupyter, VS Code or ``jupyter mlops run`` tell it."""
    ns = user_ns or {}
    for name in ("__vsc_ipynb_file__", "__session__"):
        value = ns.get(name)
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    # ours (jupyter mlops run, pipelines), then Jupyter server's own
    for value in (env(NOTEBOOK_ENV), os.environ.get("JPY_SESSION_NAME")):
        if value and value.endswith(".ipynb"):
            return value
    return None


def current_execution_count(shell: Any) -> int | None:
    """The In[n] number of the cell running now.

    ``shell.execution_count`` is the *next* number on IPython 9 (it counts up before the cell
    runs) but the current one on IPython 8; the displayhook's result knows for sure.
    """
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(result, "execution_count", None)
    if isinstance(count, int):
        return count
    count = getattr(shell, "execution_count", None)
    return count if isinstance(count, int) else None


def current_cell_id(shell: Any) -> str | None:
    """Id of the notebook cell being executed, when the front end sends it (JupyterLab and
    Notebook 7 put ``cellId`` in the execute request's metadata; nbclient does not)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        if hasattr(kernel, "get_parent"):
            try:
                parent = kernel.get_parent("shell")
            except TypeError:
                parent = kernel.get_parent()
        else:
            parent = kernel._parent_header
    except Exception:
        return None
    metadata = (parent or {}).get("metadata") or {}
    cell_id = metadata.get("cellId") or metadata.get("cell_id")
    return str(cell_id) if cell_id else None


class StreamTail:
    """A text stream wrapper that passes writes through and keeps the last characters."""

    def __init__(self, stream: TextIO, limit: int = STDOUT_TAIL_CHARS) -> None:
        self._stream = stream
        self._chunks: deque[str] = deque()
        self._size = 0
        self._limit = limit

    def write(self, text: str) -> int:
        if isinstance(text, str) and text:
            self._chunks.append(text)
            self._size += len(text)
            while self._size - len(self._chunks[0]) >= self._limit and len(self._chunks) > 1:
                self._size -= len(self._chunks.popleft())
        return self._stream.write(text)

    def tail(self) -> str:
        return "".join(self._chunks)[-self._limit :]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def output_tail(stdout: str, stderr: str = "", limit: int = STDOUT_TAIL_CHARS) -> str:
    """What a run stores as its output: the stdout tail, then the stderr tail after a
    ``[stderr]`` line (as ``%%track`` and ``jupyter mlops run`` both record it)."""
    stdout, stderr = stdout[-limit:], stderr[-limit:]
    if not stderr:
        return stdout
    return f"{stdout}\n[stderr]\n{stderr}" if stdout else f"[stderr]\n{stderr}"


# CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks), as IPython's
# tracebacks and progress bars write them.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\))")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape codes: the colours stay where a front end renders them
    (the executed notebook), the store keeps plain text."""
    return _ANSI.sub("", text)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _hidden(frame: types.FrameType) -> bool:
    """Frames a user does not need to see: jupyter-mlops's own, and those that ask to be hidden
    (IPython's ``__tracebackhide__`` convention, as IPython's own display honours it)."""
    filename = os.path.abspath(frame.f_code.co_filename)
    if filename.startswith(_PACKAGE_DIR + os.sep):
        return True
    try:
        return bool(frame.f_locals.get("__tracebackhide__"))
    except Exception:
        return False


def _cell_name(filename: str) -> str | None:
    """``Cell In[3]`` for the file name IPython compiled cell 3 under, as IPython shows it."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    formatter = getattr(getattr(shell, "compile", None), "format_code_name", None)
    if formatter is None:
        return None
    try:
        named = formatter(filename)
    except Exception:
        return None
    return f"{named[0]} {named[1]}" if named else None


def format_traceback(exc: BaseException, tb: types.TracebackType | None = None) -> str:
    """The plain-text traceback of ``exc`` as a run stores it: lines joined by newlines, no
    colour codes, without jupyter-mlops's own frames, notebook cells named ``Cell In[n]``.

    Every frame is kept when hiding would leave none (an error inside jupyter-mlops itself).
    """
    tb = exc.__traceback__ if tb is None else tb
    frames = []
    walk = tb
    while walk is not None:
        frames.append(walk)
        walk = walk.tb_next
    kept = [t for t in frames if not _hidden(t.tb_frame)] or frames
    shown: types.TracebackType | None = None
    for t in reversed(kept):  # rebuild the chain; the exception's own traceback is untouched
        shown = types.TracebackType(shown, t.tb_frame, t.tb_lasti, t.tb_lineno)
    report = traceback.TracebackException(type(exc), exc, shown, compact=True)
    for summary in report.stack:
        name = _cell_name(summary.filename)
        if name is not None:
            _ = summary.line  # read the source line while the real file name finds it
            summary.filename = name
    return strip_ansi("".join(report.format()))
