"""``%%track``, ``%track start|stop``, ``%experiment``, ``%mlops store|runs``."""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import sys
import time
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from ..config import mask_url
from ..exceptions import MLOpsError
from ..store.ids import now_ms
from ..tracking import fluent
from ..tracking.capture import (
    StreamTail,
    current_cell_id,
    current_execution_count,
    environment_info,
    format_traceback,
    notebook_path,
    output_tail,
)
from ..tracking.run import ActiveRun, parse_param_value
from .args import MagicArgumentParser, parse_key_values, single_value
from .errors import show_syntax_error

TRACK_USAGE = """\
%%track [NAME] [--experiment E] [--param k=v ...] [--tag k=v ...] [--bind] [--no-live]
    Track this cell as one run. --bind also assigns each --param as a variable of the cell.
%track start [NAME] [--experiment E] [--param k=v ...] [--tag k=v ...]
    Start a session run recording every cell executed until %track stop.
%track stop
    End the session run."""


@functools.cache  # parsers are stateless between parses; %%track runs on every cell
def _track_parser(prog: str) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=prog)
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("--experiment", "-e", default=None)
    parser.add_argument("--param", "-p", action="append", default=[], metavar="K=V")
    parser.add_argument("--tag", "-t", action="append", default=[], metavar="K=V")
    parser.add_argument("--no-live", action="store_true")
    if prog == "%%track":
        parser.add_argument("--bind", action="store_true")
    return parser


@magics_class
class MLOpsMagics(Magics):
    # IPython's Magics declares `shell = None`; here it is always the InteractiveShell.
    shell: Any

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.session: ActiveRun | None = None
        self._session_cells = 0
        self._pending_cell: dict[str, Any] | None = None
        self._session_sources: list[str] = []

    # -- %%track / %track --------------------------------------------------------------------
    @line_cell_magic
    def track(self, line: str, cell: str | None = None) -> Any:
        __tracebackhide__ = True  # IPython hides this frame: the user sees their own cell
        if cell is None:
            return self._track_line(line)
        args = _track_parser("%%track").parse_line(line)
        return self._track_cell(line, args, cell)

    def _start(self, args: Any, **columns: Any) -> ActiveRun:
        params = parse_key_values(args.param, "--param", parse_param_value)
        if getattr(args, "bind", False):
            bad = [key for key in params if not key.isidentifier()]
            if bad:
                raise UsageError(f"--bind: param {bad[0]!r} is not a Python variable name.")
        args.values = params
        tags = parse_key_values(args.tag, "--tag")
        try:
            return fluent.start_run(
                args.name,
                experiment=args.experiment,
                params=params,
                tags=tags,
                live=False if getattr(args, "no_live", False) else None,
                notebook_path=notebook_path(self.shell.user_ns),
                execution_count=current_execution_count(self.shell),
                **columns,
            )
        except MLOpsError as exc:
            raise UsageError(str(exc)) from None

    def _track_cell(self, line: str, args: Any, cell: str) -> Any:
        __tracebackhide__ = True
        source = f"%%track {line}".rstrip() + "\n" + cell
        if args.name is None:
            args.name = f"cell [{current_execution_count(self.shell)}]"
        # Compile before starting the run: a syntax error is the user's, not a failed run.
        header = source.split("\n", 1)[0]
        code = self.shell.transform_cell(cell)
        try:
            tree = self.shell.compile.ast_parse(code)
        except SyntaxError as exc:
            return self._syntax_error(exc, header, code)
        try:
            compiled = self._compile(tree, code, header)
        except SyntaxError as exc:
            if _has_top_level_await(tree):
                raise UsageError(
                    "%%track cannot run a cell with top-level await: IPython runs cell magics "
                    "synchronously. Use `with mlops.start_run(...):` inside the cell instead."
                ) from None
            return self._syntax_error(exc, header, code, shifted=True)
        cell_id = current_cell_id(self.shell)
        run = self._start(args, kind="cell", source=source, cell_id=cell_id)
        cell_row = {
            "position": 0,
            "execution_count": current_execution_count(self.shell),
            "cell_id": cell_id,
            "source": source,
            "start_time": now_ms(),
        }
        if args.bind:
            # The values as --param parsed them (the numbers are numbers), as papermill
            # assigns a notebook's parameters.
            self.shell.user_ns.update(args.values)
        started = time.perf_counter()
        stdout, stderr = sys.stdout, sys.stderr
        tail = StreamTail(stdout)
        sys.stdout = tail
        sys.stderr = StreamTail(stderr)
        try:
            result = self._execute(*compiled)
        except BaseException as exc:
            sys.stdout, err_tail, sys.stderr = stdout, sys.stderr, stderr
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            error = format_traceback(exc)
            self._finish_cell(run, cell_row, started, status, error, _combine(tail, err_tail))
            raise
        sys.stdout, err_tail, sys.stderr = stdout, sys.stderr, stderr
        self._finish_cell(run, cell_row, started, "FINISHED", None, _combine(tail, err_tail))
        return result

    def _syntax_error(
        self, exc: SyntaxError, header: str, code: str, shifted: bool = False
    ) -> None:
        """Show a syntax error in a %%track cell as IPython shows one in a plain cell.

        Raised from here, IPython would print it with the frames of this magic and of its
        own compiler above it, and with the line number of the body (one less than the line
        the notebook shows under the magic line). So: point it at the cell as displayed,
        show it without frames, and mark the cell as failed in the execution result, which
        is what the kernel's reply (and so nbclient, papermill and CI) reads.
        """
        __tracebackhide__ = True
        count = current_execution_count(self.shell)
        filename = self.shell.compile.cache(f"{header}\n{code}", count)
        exc.filename = filename
        if exc.lineno is not None and not shifted:  # shifted: compiled with the header line
            exc.lineno += 1
            if getattr(exc, "end_lineno", None) is not None:
                exc.end_lineno += 1  # type: ignore[operator]
        show_syntax_error(self.shell, exc)

    @staticmethod
    def _finish_cell(
        run: ActiveRun,
        cell_row: dict[str, Any],
        started: float,
        status: str,
        error: str | None,
        output: str,
    ) -> None:
        """The run of a %%track cell has that one cell as its cell timeline."""
        cell_row.update(
            duration_ms=(time.perf_counter() - started) * 1000.0, status=status, error=error
        )
        run.record_cell(cell_row)
        run.update(stdout=output)
        _complete_environment(run)
        run.end(status, error=error)

    def _compile(
        self, tree: ast.Module, code: str, header: str | None = None
    ) -> tuple[Any, Any | None]:
        """The cell body compiled: the statements, and the last expression apart (or None)."""
        # Register the cell text so tracebacks show "Cell In[n], line k" with the source; with
        # the magic line on top, line k is the cell's line k as the notebook shows it.
        shown = code if header is None else f"{header}\n{code}"
        filename = self.shell.compile.cache(shown, current_execution_count(self.shell))
        if header is not None:
            ast.increment_lineno(tree, 1)
        last = None
        final = tree.body[-1] if tree.body else None
        if isinstance(final, ast.Expr) and not _ends_with_semicolon(code):
            tree.body.pop()
            last = ast.Expression(final.value)
        compiled = self.shell.compile(tree, filename, "exec")
        return compiled, None if last is None else self.shell.compile(last, filename, "eval")

    def _execute(self, statements: Any, last: Any | None) -> Any:
        """Run the cell body in the user namespace; the value of a last expression is returned
        so IPython displays it as the cell's output (as ``%%time`` does)."""
        __tracebackhide__ = True
        namespace = self.shell.user_ns
        exec(statements, namespace)  # noqa: S102 - executing the user's own cell is the point
        if last is not None:
            return eval(last, namespace)  # noqa: S307
        return None

    def _track_line(self, line: str) -> Any:
        words = line.split(None, 1)
        command = words[0] if words else ""
        rest = words[1] if len(words) > 1 else ""
        if command == "start":
            args = _track_parser("%track start").parse_line(rest)
            return self.start_session(args)
        if command == "stop":
            if rest.strip():
                raise UsageError(f"%track stop takes no arguments.\n\n{TRACK_USAGE}")
            return self.stop_session(report=True)
        raise UsageError(f"Unknown %track command {command!r}.\n\n{TRACK_USAGE}")

    def start_session(self, args: Any) -> None:
        if self.session is not None:
            raise UsageError(
                f"A session run is already on ({self.session.name!r}); %track stop it first."
            )
        if args.name is None:
            args.name = f"session [{current_execution_count(self.shell)}]"
        args.no_live = True
        self.session = self._start(args, kind="session")
        self._session_cells = 0
        self._session_sources = []
        self._pending_cell = None
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        print(
            f"Tracking session run {self.session.name!r} ({self.session.run_id}); "
            "%track stop ends it."
        )

    def stop_session(self, report: bool = False) -> None:
        session = self.session
        if session is None:
            if report:
                raise UsageError("No session run is on; start one with %track start [NAME].")
            return
        for name, callback in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(name, callback)
        self.session = None
        session.update(source="\n\n".join(self._session_sources))
        _complete_environment(session)
        if session.status == "RUNNING":
            session.end("FINISHED")
        if report:
            print(
                f"Session run {session.name!r} ({session.run_id}) recorded "
                f"{self._session_cells} cells."
            )

    def _pre_run_cell(self, info: Any) -> None:
        if self.session is None:
            return
        self._pending_cell = {
            "source": getattr(info, "raw_cell", "") or "",
            "cell_id": getattr(info, "cell_id", None) or current_cell_id(self.shell),
            "start": time.perf_counter(),
            "start_time": now_ms(),
        }

    def _post_run_cell(self, result: Any) -> None:
        pending, self._pending_cell = self._pending_cell, None
        session = self.session
        if session is None or pending is None:
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if error is None:
            status = "FINISHED"
        elif isinstance(error, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        # The result knows the cell's In[n] on every IPython version.
        count = getattr(result, "execution_count", None)
        if not isinstance(count, int):
            count = current_execution_count(self.shell)
        row = {
            "position": self._session_cells,
            "execution_count": count,
            "cell_id": pending["cell_id"],
            "source": pending["source"],
            "start_time": pending["start_time"],
            "duration_ms": (time.perf_counter() - pending["start"]) * 1000.0,
            "status": status,
            "error": None if error is None else format_traceback(error),
        }
        self._session_cells += 1
        self._session_sources.append(f"# In[{count}]:\n{pending['source']}")
        session.record_cell(row)

    # -- %experiment, %mlops -----------------------------------------------------------------
    @line_magic
    def experiment(self, line: str) -> None:
        name = single_value(line, "%experiment")
        if not name:
            print(f"Current experiment: {fluent.current_experiment()!r}")
            return
        try:
            fluent.set_experiment(name)
        except MLOpsError as exc:
            raise UsageError(str(exc)) from None

    @line_magic
    def mlops(self, line: str) -> Any:
        words = line.split(None, 1)
        command = words[0] if words else ""
        rest = words[1].strip() if len(words) > 1 else ""
        usage = (
            "%mlops store [URL]    show or set the run store\n"
            "%mlops runs [--experiment E] [--filter EXPR] [--order-by EXPR] [--limit N]"
        )
        if command == "store":
            rest = single_value(rest, "%mlops store")
            if rest:
                try:
                    store = fluent.set_store(rest)
                except MLOpsError as exc:
                    raise UsageError(str(exc)) from None
            else:
                store = fluent.get_store()
            # An fsspec URL may carry credentials too (sftp://user:password@host/...).
            print(f"Store: {store.display_url}\nArtifacts: {mask_url(store.artifacts.root_url)}")
            return None
        if command == "runs":
            parser = MagicArgumentParser(prog="%mlops runs")
            parser.add_argument("--experiment", "-e", default=None)
            parser.add_argument("--filter", "-f", default=None)
            parser.add_argument("--order-by", "-o", default=None)
            parser.add_argument("--limit", "-n", type=int, default=50)
            args = parser.parse_line(rest)
            if args.limit < 1:
                raise UsageError("--limit must be a positive integer.")
            try:
                return fluent.runs(
                    experiment=args.experiment,
                    filter=args.filter,
                    order_by=args.order_by or "start_time DESC",
                    limit=args.limit,
                )
            except MLOpsError as exc:
                raise UsageError(str(exc)) from None
        raise UsageError(f"Unknown %mlops command {command!r}.\n\n{usage}")


def _ends_with_semicolon(code: str) -> bool:
    """IPython's rule for a quiet last expression: ``x;  # note`` is quiet, ``x  # a;`` is not
    (a plain ``endswith(";")`` gets both wrong)."""
    check = getattr(DisplayHook, "semicolon_at_end_of_expression", None)
    if check is not None:
        return bool(check(code))
    return code.rstrip().endswith(";")


def _has_top_level_await(tree: ast.Module) -> bool:
    """True when ``await``/``async for``/``async with`` appear outside any function."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _combine(out: StreamTail, err: Any) -> str:
    return output_tail(out.tail(), err.tail() if isinstance(err, StreamTail) else "")


def _complete_environment(run: ActiveRun) -> None:
    """Capture the environment again as the run ends: a cell that imports scikit-learn ran
    with scikit-learn, though it was not imported when the run started (off the cell's
    thread, after the capture made at the start)."""
    run.update_later(lambda: {"environment": json.dumps(environment_info())})
