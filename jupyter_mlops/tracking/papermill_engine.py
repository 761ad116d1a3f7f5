"""The papermill engine of tracked notebook runs (``engine_name="jupyter-mlops"``).

papermill's own nbclient engine, with two additions a tracked run needs:

- each cell's execute request carries the cell's id in its metadata (``cellId``), as
  JupyterLab sends it, so runs a cell starts (``%%track``) record which cell they came from
  (:class:`SendCellIds`, a mixin for any nbclient ``NotebookClient``: plain nbclient sends
  no cell ids);
- once the cells have run, and while the kernel is still up, the kernel is asked for its
  environment (interpreter, platform, imported package versions) and for the experiment the
  notebook set: a silent request with one ``user_expressions`` entry, which leaves the
  notebook's namespace and outputs as they were. The answer lands in the ``capture`` dict
  the caller passed (``capture["environment"]``), or ``capture["environment_error"]`` says
  why there is none.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from nbclient.util import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from .environment import kernel_probe_expression

ENGINE_NAME = "jupyter-mlops"


class SendCellIds:
    """A mixin for nbclient's ``NotebookClient`` (and papermill's) that sends each cell's id
    in its execute request's metadata (``cellId``), as JupyterLab does, so the kernel knows
    which cell runs (``%%track`` records it). Mix it in first:
    ``class Client(SendCellIds, NotebookClient)``."""

    _cell_id: str | None = None

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()  # type: ignore[misc]
        send = kc.execute

        def execute(
            code: str,
            silent: bool = False,
            store_history: bool = True,
            user_expressions: dict[str, Any] | None = None,
            allow_stdin: bool | None = None,
            stop_on_error: bool = True,
        ) -> str:
            cell_id = self._cell_id
            if cell_id is None:
                return send(
                    code, silent, store_history, user_expressions, allow_stdin, stop_on_error
                )
            # jupyter_client's execute() with the message metadata JupyterLab sends.
            content = {
                "code": code,
                "silent": silent,
                "store_history": store_history,
                "user_expressions": user_expressions or {},
                "allow_stdin": kc.allow_stdin if allow_stdin is None else allow_stdin,
                "stop_on_error": stop_on_error,
            }
            msg = kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
            kc.shell_channel.send(msg)
            return msg["header"]["msg_id"]

        kc.execute = execute
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def async_execute_cell(
        self, cell: Any, cell_index: int, *args: Any, **kwargs: Any
    ) -> Any:
        cell_id = cell.get("id")
        self._cell_id = cell_id if isinstance(cell_id, str) and cell_id else None
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)  # type: ignore[misc]
        finally:
            self._cell_id = None

    # nbclient binds the synchronous names to its own coroutine functions: rebind them.
    execute_cell = run_sync(async_execute_cell)


class TrackedNotebookClient(SendCellIds, PapermillNotebookClient):
    """papermill's notebook client, sending cell ids and capturing the kernel's environment."""

    def __init__(
        self, nb_man: Any, km: Any = None, capture: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(nb_man, km=km, **kw)
        self.capture = capture if capture is not None else {}

    def papermill_execute_cells(self) -> None:
        # papermill stops at a failing cell without raising: the kernel is still up then.
        # A dead kernel or a timeout raises past this, and nothing is asked of the kernel.
        super().papermill_execute_cells()
        self._capture_environment()

    def _capture_environment(self) -> None:
        spec = getattr(self.km, "kernel_spec", None)
        language = (getattr(spec, "language", None) or "python").lower()
        if language != "python":
            self.capture["environment_error"] = f"a {language} kernel"
            return
        try:
            msg_id = self.kc.execute(
                "",
                silent=True,
                store_history=False,
                user_expressions={"environment": kernel_probe_expression()},
            )
            reply = self.wait_for_reply(msg_id)
            result = reply["content"]["user_expressions"]["environment"]
            if result.get("status") != "ok":
                raise RuntimeError(f"{result.get('ename')}: {result.get('evalue')}")
            self.capture["environment"] = json.loads(ast.literal_eval(result["data"]["text/plain"]))
        except Exception as exc:  # the run is still recorded, without the kernel's environment
            self.capture["environment_error"] = f"{type(exc).__name__}: {exc}"


class TrackedEngine(NBClientEngine):
    """``NBClientEngine.execute_managed_notebook`` with :class:`TrackedNotebookClient`."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        capture: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        # As papermill's NBClientEngine does (it names its client class inline).
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        return TrackedNotebookClient(nb_man, capture=capture, **final_kwargs).execute()


papermill_engines.register(ENGINE_NAME, TrackedEngine)
