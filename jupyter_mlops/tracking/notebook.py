"""Execute a notebook headless with papermill as one tracked run.

The notebook run is the parent; runs the notebook starts itself (``%%track``, ``start_run``)
become its children through ``JUPYTER_MLOPS_PARENT_RUN`` in the kernel's environment. Every
executed cell is recorded on the parent run, and the executed notebook is kept as its artifact.
"""

from __future__ import annotations

import ast
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from ..exceptions import InvalidParameterError, NotebookExecutionError, StoreError
from . import fluent
from .run import ActiveRun

EXECUTED_ARTIFACT = "executed.ipynb"


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"lr=0.1"`` -> ("lr", 0.1): the value as a Python literal when it is one, else text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidParameterError(f"Parameter must be KEY=VALUE, got {text!r}.")
    if not key.isidentifier():
        raise InvalidParameterError(f"Parameter name {key!r} is not a Python identifier.")
    try:
        value: Any = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        lowered = raw.strip().lower()
        value = {"true": True, "false": False, "none": None, "null": None}.get(lowered, raw)
    if not _papermill_value(value):
        # papermill injects str, numbers, bools, None, lists and dicts; a tuple became the
        # text of the tuple, and a set or bytes failed the run after it had started.
        value = raw
    return key, value


def _papermill_value(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_papermill_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _papermill_value(v) for k, v in value.items())
    return False


def load_notebook(path: str | os.PathLike[str]) -> nbformat.NotebookNode:
    notebook = Path(path)
    if not notebook.is_file():
        raise InvalidParameterError(f"Notebook {str(notebook)!r} does not exist.")
    try:
        node = nbformat.read(notebook, as_version=4)
        nbformat.validate(node)
    except Exception as exc:
        raise InvalidParameterError(
            f"{str(notebook)!r} is not a valid Jupyter notebook: {exc}".splitlines()[0]
        ) from None
    return node


def execute_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    *,
    experiment: str | None = None,
    name: str | None = None,
    kernel_name: str | None = None,
    cwd: str | None = None,
    timeout: int | None = None,
    progress: bool = False,
) -> ActiveRun:
    """Run ``notebook`` with papermill as a tracked run; returns the ended run.

    Raises :class:`NotebookExecutionError` (after recording the run as FAILED) when a cell
    fails.
    """
    import papermill

    source = Path(notebook).resolve()
    node = load_notebook(source)
    if output is not None and not Path(output).resolve().parent.is_dir():
        raise InvalidParameterError(
            f"Output folder {str(Path(output).resolve().parent)!r} does not exist."
        )
    if cwd is not None and not Path(cwd).is_dir():
        raise InvalidParameterError(f"Working directory {str(cwd)!r} does not exist.")
    _check_kernel(kernel_name or node.metadata.get("kernelspec", {}).get("name"), source)
    params = dict(parameters or {})
    run = fluent.start_run(
        name or source.stem,
        experiment=experiment,
        params=params,
        kind="notebook",
        notebook_path=str(source),
        live=False,
    )
    store = run.store
    env_keys = {
        "JUPYTER_MLOPS_STORE": store.url,
        "JUPYTER_MLOPS_ARTIFACTS": store.artifacts.root_url,
        fluent.PARENT_RUN_ENV: run.run_id,
        fluent.EXPERIMENT_ENV: experiment or fluent.current_experiment(),
        "JUPYTER_MLOPS_NOTEBOOK": str(source),
    }
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update({k: v for k, v in env_keys.items() if v})
    store.flush()  # the kernel's runs reference this run: it must exist first
    with tempfile.TemporaryDirectory() as scratch:
        out_path = Path(output).resolve() if output else Path(scratch) / source.name
        failure: BaseException | None = None
        try:
            papermill.execute_notebook(
                str(source),
                str(out_path),
                parameters=params,
                kernel_name=kernel_name,
                cwd=cwd or str(source.parent),
                progress_bar=progress,
                execution_timeout=timeout,
                log_output=False,
            )
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised below
            failure = exc
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        executed = _read_if_exists(out_path) or node
        _record_cells(run, executed)
        artifact_error: StoreError | None = None
        if out_path.exists():
            try:
                run.log_artifact_bytes(EXECUTED_ARTIFACT, out_path.read_bytes())
            except StoreError as exc:  # the run must still end, with the notebook's status
                artifact_error = exc
    if failure is None:
        run.end("FINISHED")
        if artifact_error is not None:
            raise artifact_error
        return run
    if artifact_error is not None:
        print(f"jupyter-mlops: {artifact_error}", file=sys.stderr)
    if isinstance(failure, KeyboardInterrupt):
        run.end("KILLED", error="KeyboardInterrupt")
        raise failure
    message = _failure_message(failure)
    run.end("FAILED", error=message)
    raise NotebookExecutionError(message, run_id=run.run_id) from None


def _check_kernel(name: str | None, notebook: Path) -> None:
    """A missing kernel is the user's error: say so before a run is started, instead of a
    FAILED run whose message is the first line of jupyter_client's traceback."""
    from jupyter_client.kernelspec import KernelSpecManager

    installed = sorted(KernelSpecManager().find_kernel_specs())
    if not name:
        raise InvalidParameterError(
            f"Notebook {str(notebook)!r} names no kernel; pass --kernel NAME "
            f"(installed: {', '.join(installed) or 'none'})."
        )
    if name not in installed:
        raise InvalidParameterError(
            f"No kernel named {name!r} (installed: {', '.join(installed) or 'none'})."
        )


def _read_if_exists(path: Path) -> nbformat.NotebookNode | None:
    try:
        return nbformat.read(path, as_version=4) if path.exists() else None
    except Exception:
        return None


def _record_cells(run: ActiveRun, executed: nbformat.NotebookNode) -> None:
    """Each executed code cell becomes a cell row of the run (papermill timed each one)."""
    from datetime import datetime

    from ..store.writer import now_ms

    position = 0
    sources = []
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("papermill", {})
        status = {"completed": "FINISHED", "failed": "FAILED"}.get(meta.get("status"))
        if status is None:
            continue  # never reached (a cell above failed)
        start = meta.get("start_time")
        try:
            start_ms = int(datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() * 1000)
        except (AttributeError, ValueError):
            start_ms = now_ms()
        duration = meta.get("duration")
        error = None
        if status == "FAILED":
            error = "\n".join(
                f"{o.get('ename')}: {o.get('evalue')}"
                for o in cell.get("outputs", [])
                if o.get("output_type") == "error"
            )
        run.record_cell(
            {
                "position": position,
                "execution_count": cell.get("execution_count"),
                "cell_id": cell.get("id"),
                "source": cell.source,
                "start_time": start_ms,
                "duration_ms": None if duration is None else float(duration) * 1000.0,
                "status": status,
                "error": error,
            }
        )
        sources.append(f"# In[{cell.get('execution_count')}]:\n{cell.source}")
        position += 1
    run.update(source="\n\n".join(sources))


def _failure_message(exc: BaseException) -> str:
    try:
        from papermill.exceptions import PapermillExecutionError
    except ImportError:  # pragma: no cover
        PapermillExecutionError = ()  # type: ignore[assignment]  # noqa: N806
    if isinstance(exc, PapermillExecutionError):
        return f"Cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}\n" + "".join(
            exc.traceback if isinstance(exc.traceback, list) else []
        )
    # The exception itself first: the CLI prints the message's first line.
    return (
        "".join(traceback.format_exception_only(exc)).strip()
        + "\n\n"
        + "".join(traceback.format_exception(exc))
    )
