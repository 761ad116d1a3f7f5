"""Execute a notebook headless with papermill as one tracked run.

The notebook run is the parent; runs the notebook starts itself (``%%track``, ``start_run``)
become its children through ``JUPYTER_MLOPS_PARENT_RUN`` in the kernel's environment. The run
records what the notebook ran with and where:

- its parameters: the parameters cell's defaults and the given values over them, checked
  against that cell first (``parameters.py``);
- every executed cell, the tail of the notebook's stdout/stderr, and the executed notebook
  as an artifact;
- the kernel's interpreter and packages, asked of the kernel itself (``papermill_engine.py``);
- numbers and short text the notebook glued with scrapbook, as metrics and tags;
- the experiment: the one given, else the one the notebook set (``%experiment``), so the
  notebook run sits with its child runs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from ..config import HEADLESS_ENV
from ..exceptions import InvalidParameterError, NotebookExecutionError, StoreError
from ..store.diffs import git_columns
from . import fluent
from .capture import git_info, output_tail, strip_ansi
from .parameters import for_papermill, resolve_parameters
from .run import ActiveRun, parse_param_value
from .scraps import record_scraps

EXECUTED_ARTIFACT = "executed.ipynb"


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"lr=0.1"`` -> ("lr", 0.1): the value as the parameter rule reads it
    (``run.parse_param_value``: a Python literal when it is one, else text)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidParameterError(f"Parameter must be KEY=VALUE, got {text!r}.")
    if not key.isidentifier():
        raise InvalidParameterError(f"Parameter name {key!r} is not a Python identifier.")
    return key, parse_param_value(raw)


class NotebookFormatWarning(UserWarning):
    """The notebook's JSON does not follow its nbformat schema; it runs all the same, as
    papermill runs it."""


def load_notebook(path: str | os.PathLike[str]) -> nbformat.NotebookNode:
    """Read a notebook as papermill reads it: normalized (see ``normalize``), and run even when
    its JSON breaks the nbformat schema in a way the execution does not mind (a code cell
    without ``execution_count``), with a :class:`NotebookFormatWarning` saying so.

    Raises :class:`InvalidParameterError` when the file is missing or is no notebook at all.
    """
    notebook = Path(path)
    if not notebook.is_file():
        raise InvalidParameterError(f"Notebook {str(notebook)!r} does not exist.")
    try:
        # nbformat.read would log the schema errors normalize() fixes as "invalid" first.
        node = nbformat.convert(nbformat.reader.reads(notebook.read_text(encoding="utf-8")), 4)
        if not isinstance(node.get("cells"), list):
            raise ValueError("it has no list of cells")
        node = normalize(node)
    except Exception as exc:
        raise InvalidParameterError(
            f"{str(notebook)!r} is not a valid Jupyter notebook: {exc}".splitlines()[0]
        ) from None
    try:
        nbformat.validate(node)
    except nbformat.ValidationError as exc:
        warnings.warn(
            f"{str(notebook)!r} does not follow the notebook format "
            f"({str(exc).splitlines()[0]}); it runs all the same, as papermill runs it.",
            NotebookFormatWarning,
            stacklevel=2,
        )
    return node


def normalize(node: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook papermill runs is run here too. Editors write cell ids into notebooks that
    say nbformat 4.2, which the 4.2 schema refuses ('id' was unexpected); papermill upgrades
    such notebooks to 4.5. So do we, keeping the cells' own ids (papermill would replace
    them, and they are how runs point back at their cells) and adding the missing ones."""
    if node.get("nbformat") != 4 or node.get("nbformat_minor", 0) >= 5:
        return node
    if not any("id" in cell for cell in node.cells):
        upgraded = nbformat.v4.upgrade(node)
        return upgraded if upgraded is not None else node
    from nbformat.corpus.words import generate_corpus_id

    seen: set[str] = set()
    for cell in node.cells:
        cell_id = cell.get("id")
        valid = isinstance(cell_id, str) and 0 < len(cell_id) <= 64 and cell_id not in seen
        if not valid or not all(c.isalnum() or c in "-_" for c in cell_id):
            cell_id = generate_corpus_id()
            while cell_id in seen:
                cell_id = generate_corpus_id()
            cell["id"] = cell_id
        seen.add(cell_id)
    node["nbformat_minor"] = 5
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
    allow_unknown_params: bool = False,
) -> ActiveRun:
    """Run ``notebook`` with papermill as a tracked run; returns the ended run.

    ``parameters`` must be names the notebook's parameters cell defines
    (:class:`~jupyter_mlops.exceptions.UnknownParameterError` before anything runs, naming the
    ones it does), unless ``allow_unknown_params``. ``experiment`` pins the run's experiment;
    without it the run follows the experiment the notebook sets. Raises
    :class:`NotebookExecutionError` (after recording the run as FAILED) when a cell fails.
    """
    import papermill

    from .papermill_engine import ENGINE_NAME

    source = Path(notebook).resolve()
    node = load_notebook(source)
    if output is not None and not Path(output).resolve().parent.is_dir():
        raise InvalidParameterError(
            f"Output folder {str(Path(output).resolve().parent)!r} does not exist."
        )
    if cwd is not None and not Path(cwd).is_dir():
        raise InvalidParameterError(f"Working directory {str(cwd)!r} does not exist.")
    resolved = resolve_parameters(
        node, parameters, allow_unknown=allow_unknown_params, name=f"Notebook {source.name!r}"
    )
    kernel = kernel_name or node.metadata.get("kernelspec", {}).get("name")
    _check_kernel(kernel, source)
    params, tags = resolved.record()
    start_experiment = experiment or fluent.current_experiment()
    run = fluent.start_run(
        name or source.stem,
        experiment=experiment,
        params=params,
        tags=tags,
        kind="notebook",
        notebook_path=str(source),
        live=False,
        capture=False,  # the environment is the kernel's, captured in the kernel below
    )
    store = run.store
    sent = store.writer.git_diffs_sent
    run.update_later(lambda: git_columns(git_info(str(source.parent)), sent))
    env_keys = {
        "JUPYTER_MLOPS_STORE": store.url,
        "JUPYTER_MLOPS_ARTIFACTS": store.artifacts.root_url,
        fluent.PARENT_RUN_ENV: run.run_id,
        fluent.EXPERIMENT_ENV: start_experiment,
        "JUPYTER_MLOPS_NOTEBOOK": str(source),
        # No live widget: nobody watches this kernel (the cell ids our engine sends would
        # otherwise pass for a front end's, and the first tracked cell would wait seconds
        # for plotly's widget code). Runs still end with their static figure.
        HEADLESS_ENV: "1",
    }
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update({k: v for k, v in env_keys.items() if v})
    store.flush()  # the kernel's runs reference this run: it must exist first
    capture: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        out_path = Path(output).resolve() if output else Path(scratch) / source.name
        prepared = Path(scratch) / "input" / source.name
        prepared.parent.mkdir()
        # As JSON: nbformat.write would log a notebook that breaks the schema as invalid again.
        prepared.write_text(json.dumps(for_papermill(node), indent=1), encoding="utf-8")
        failure: BaseException | None = None
        try:
            papermill.execute_notebook(
                str(prepared),
                str(out_path),
                parameters=resolved.given,
                kernel_name=kernel,
                cwd=cwd or str(source.parent),
                progress_bar=progress,
                execution_timeout=timeout,
                log_output=False,
                engine_name=ENGINE_NAME,
                capture=capture,
            )
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised below
            failure = exc
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        executed = _read_if_exists(out_path)
        if executed is not None:
            _name_input(executed, out_path, source)
        executed = executed or node
        if failure is not None and _only_expected_errors(failure, executed):
            failure = None  # nbclient ran on past them, as Jupyter does
        _record_cells(run, executed)
        record_scraps(run, executed)
        run.update(environment=json.dumps(_environment(capture, kernel)))
        if experiment is None:
            _follow_notebook_experiment(run, capture, start_experiment)
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


def _only_expected_errors(failure: BaseException, executed: nbformat.NotebookNode) -> bool:
    """True when papermill failed the run only for errors of cells tagged ``raises-exception``.

    Jupyter's convention (nbclient, nbconvert) is that such a cell is expected to raise, and
    execution goes on; papermill runs on past it too, then fails the notebook all the same.
    """
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(failure, PapermillExecutionError):
        return False
    errored = [
        cell
        for cell in executed.cells
        if any(o.get("output_type") == "error" for o in cell.get("outputs", []) or [])
        or cell.get("metadata", {}).get("papermill", {}).get("exception") is True
    ]
    return bool(errored) and all(
        "raises-exception" in (cell.get("metadata", {}).get("tags") or []) for cell in errored
    )


def _name_input(executed: nbformat.NotebookNode, out_path: Path, source: Path) -> None:
    """papermill names the file it read as the input: that is our prepared copy; name the
    user's notebook instead."""
    meta = executed.metadata.get("papermill")
    if isinstance(meta, dict) and meta.get("input_path") != str(source):
        meta["input_path"] = str(source)
        nbformat.write(executed, out_path)


def _environment(capture: Mapping[str, Any], kernel: str | None) -> dict[str, Any]:
    """The kernel's environment as the kernel reported it; when it could not (a kernel that
    died, another language), what the kernel spec says, marked as such."""
    found = capture.get("environment")
    env: dict[str, Any]
    if isinstance(found, dict):
        env = {k: v for k, v in found.items() if k != "experiment"}
        env.update(kernel=kernel, captured_in="kernel")
        return env
    env = {"kernel": kernel, "host": platform.node(), "captured_in": "kernelspec"}
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(kernel or "")
        env["language"] = spec.language
        if spec.argv and os.path.isabs(spec.argv[0]):
            env["executable"] = spec.argv[0]
    except Exception:
        pass
    if capture.get("environment_error"):
        env["capture_error"] = capture["environment_error"]
    return env


def _follow_notebook_experiment(
    run: ActiveRun, capture: Mapping[str, Any], start_experiment: str
) -> None:
    """No experiment was given: the notebook run moves to the experiment the notebook set
    (``%experiment wine``, ``mlops.set_experiment``), where its child runs are."""
    found = capture.get("environment")
    chosen = found.get("experiment") if isinstance(found, dict) else None
    if not chosen or chosen == start_experiment:
        return
    try:
        experiment_id = run.store.experiment_id(chosen)
    except Exception:  # an odd name the kernel accepted and we do not: stay where it started
        return
    run.experiment_id = experiment_id
    run.update(experiment_id=experiment_id)


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
    """Each executed code cell becomes a cell row of the run (papermill timed each one); the
    cells' stdout and stderr become the run's output tail."""
    from datetime import datetime

    from ..store.ids import now_ms

    position = 0
    sources = []
    stdout: list[str] = []
    stderr: list[str] = []
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
        errors = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                (stderr if out.get("name") == "stderr" else stdout).append(text)
            elif out.get("output_type") == "error":
                errors.append(error_text(out))
        run.record_cell(
            {
                "position": position,
                "execution_count": cell.get("execution_count"),
                "cell_id": cell.get("id"),
                "source": cell.source,
                "start_time": start_ms,
                "duration_ms": None if duration is None else float(duration) * 1000.0,
                "status": status,
                "error": "\n".join(errors) if errors else None,
            }
        )
        sources.append(f"# In[{cell.get('execution_count')}]:\n{cell.source}")
        position += 1
    run.update(source="\n\n".join(sources), stdout=output_tail("".join(stdout), "".join(stderr)))


def error_text(output: Mapping[str, Any]) -> str:
    """An error output of a notebook as plain text: its traceback lines (IPython's, coloured
    for the front end) joined by newlines, without the colour codes."""
    lines = output.get("traceback") or []
    if not lines:
        return f"{output.get('ename')}: {output.get('evalue')}"
    return strip_ansi("\n".join(lines))


def _failure_message(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError  # a dependency

    if isinstance(exc, PapermillExecutionError):
        lines = exc.traceback if isinstance(exc.traceback, list) else []
        return f"Cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}\n" + error_text(
            {"ename": exc.ename, "evalue": exc.evalue, "traceback": lines}
        )
    # The exception itself first: the CLI prints the message's first line.
    return strip_ansi(
        "".join(traceback.format_exception_only(exc)).strip()
        + "\n\n"
        + "".join(traceback.format_exception(exc))
    )
