"""What a run remembers about where it came from: git, environment, notebook path, stdout.

Everything slow here (git subprocesses, package metadata) is called from the background writer,
never from the cell being tracked.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

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


_dist_map: dict[str, list[str]] | None = None


_versions_cache: tuple[int, dict[str, str]] | None = None


def imported_package_versions() -> dict[str, str]:
    """Versions of the distributions whose top-level modules are imported right now.

    Cached until the number of imported modules changes: thousands of runs in one loop must
    not walk package metadata thousands of times.
    """
    global _dist_map, _versions_cache
    from importlib import metadata

    module_count = len(sys.modules)
    cached = _versions_cache
    if cached is not None and cached[0] == module_count:
        return dict(cached[1])

    if _dist_map is None:
        try:
            _dist_map = metadata.packages_distributions()
        except Exception:
            _dist_map = {}
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    versions: dict[str, str] = {}
    for module in top_level:
        if module.startswith("_"):
            continue
        for dist in _dist_map.get(module, ()):
            if dist in versions:
                continue
            try:
                versions[dist] = metadata.version(dist)
            except Exception:
                continue
    result = dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))
    _versions_cache = (module_count, result)
    return dict(result)


def environment_info() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "host": platform.node(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "packages": imported_package_versions(),
    }


def notebook_path(user_ns: dict[str, Any] | None = None) -> str | None:
    """The notebook this kernel runs, as Jupyter, VS Code or ``jupyter mlops run`` tell it."""
    ns = user_ns or {}
    for name in ("__vsc_ipynb_file__", "__session__"):
        value = ns.get(name)
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    for var in ("JUPYTER_MLOPS_NOTEBOOK", "JPY_SESSION_NAME"):
        value = os.environ.get(var)
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
