"""``%%remote TARGET`` and ``%remote add|list|close``: a thin face over ``remote``."""

from __future__ import annotations

import functools
import html
import sys
import threading
import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..exceptions import MLOpsError
from ..remote import RemoteHandle, execute, prepare, registry, run_remote_async
from ..tracking.capture import current_execution_count
from .args import MagicArgumentParser
from .errors import show_syntax_error

REMOTE_USAGE = """\
%%remote TARGET [--in a,b] [--out c,d] [--async] [--timeout S]
    Run the cell on TARGET: local, gateway:http://HOST:PORT, dask:tcp://HOST:PORT or a name.
%remote add NAME URL [--token T]
    Name a target.
%remote list
    The targets and their connections.
%remote close NAME
    Shut down NAME's kernel (or disconnect from its cluster)."""

ASYNC_TEXT_LIMIT = 20_000  # characters of output an --async cell's display keeps (the tail)
ASYNC_UPDATE_EVERY = 0.25  # seconds between updates of an --async cell's display


@functools.cache  # parsers are stateless between parses
def _cell_parser() -> MagicArgumentParser:
    parser = MagicArgumentParser(prog="%%remote")
    parser.add_argument("target")
    parser.add_argument("--in", dest="inputs", default=None, metavar="a,b")
    parser.add_argument("--out", dest="outputs", default=None, metavar="c,d")
    parser.add_argument("--async", dest="background", action="store_true")
    parser.add_argument("--timeout", type=float, default=None, metavar="S")
    return parser


class CellSink:
    """The remote cell's output under the local cell, as it comes."""

    def stream(self, name: str, text: str) -> None:
        stream = sys.stderr if name == "stderr" else sys.stdout
        stream.write(text)
        stream.flush()

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        from IPython.display import clear_output, publish_display_data

        if msg_type == "clear_output":
            clear_output(wait=bool(content.get("wait")))
            return
        publish_display_data(
            content.get("data") or {},
            content.get("metadata") or {},
            transient=content.get("transient") or None,
            update=msg_type == "update_display_data",
        )

    def relay(self, events: list[list[Any]]) -> None:  # handled by the runner
        pass

    def notice(self, text: str) -> None:
        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()


class AsyncSink:
    """An ``--async`` cell's output: one display under the cell that started it, updated
    from the background as output comes in, and at the end with a visible notice."""

    def __init__(self, title: str) -> None:
        from IPython.display import display

        self.title = title
        self.status = "running"
        self.parts: list[tuple[str, Any]] = []  # ("stdout"|"stderr"|"notice"|"rich", payload)
        self._lock = threading.Lock()
        self._last = 0.0
        self.handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, str]:
        with self._lock:
            parts = list(self.parts)
        text = "".join(p for kind, p in parts if kind != "rich")[-ASYNC_TEXT_LIMIT:]
        plain = f"{self.title}: {self.status}\n{text}".rstrip("\n")
        body = []
        for kind, payload in parts:
            if kind == "rich":
                if "text/html" in payload:
                    body.append(payload["text/html"])
                elif "image/png" in payload:
                    body.append(f'<img src="data:image/png;base64,{payload["image/png"]}"/>')
                elif "text/plain" in payload:
                    body.append(f"<pre>{html.escape(payload['text/plain'])}</pre>")
            else:
                style = ' style="color:#b22"' if kind in ("stderr", "notice") else ""
                body.append(f"<pre{style}>{html.escape(payload)}</pre>")
        rich = f"<b>{html.escape(self.title)}</b>: {html.escape(self.status)}" + "".join(body)
        return {"text/plain": plain, "text/html": rich}

    def _changed(self, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - self._last >= ASYNC_UPDATE_EVERY:
            self._last = now
            self.handle.update(self._bundle(), raw=True)

    def stream(self, name: str, text: str) -> None:
        with self._lock:
            if self.parts and self.parts[-1][0] == name:
                self.parts[-1] = (name, self.parts[-1][1] + text)
            else:
                self.parts.append((name, text))
        self._changed()

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type in ("display_data", "execute_result", "update_display_data"):
            with self._lock:
                self.parts.append(("rich", content.get("data") or {}))
            self._changed()

    def relay(self, events: list[list[Any]]) -> None:
        pass

    def notice(self, text: str) -> None:
        with self._lock:
            self.parts.append(("notice", text.rstrip("\n") + "\n"))
        self._changed()

    def finished(self, handle: RemoteHandle) -> None:
        if handle.error is not None:
            self.status = (
                f"FAILED: {type(handle.error).__name__}: {handle.error} "
                "(the handle's .result() raises it with the remote traceback)"
            )
            trace = getattr(handle.error.__cause__, "text", "")
            if trace:
                with self._lock:
                    self.parts.append(("stderr", trace))
        else:
            result = handle.result_
            names = ", ".join(result.assigned) if result and result.assigned else "nothing"
            duration = result.duration_s if result else 0.0
            self.status = f"done in {duration:.2f} s; assigned {names}"
        self._changed(final=True)


@magics_class
class RemoteMagics(Magics):
    # IPython's Magics declares `shell = None`; here it is always the InteractiveShell.
    shell: Any

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.handles: list[RemoteHandle] = []

    @line_cell_magic
    def remote(self, line: str, cell: str | None = None) -> Any:
        """Run a cell on another kernel, a Kernel Gateway or a Dask cluster (see below)."""
        __tracebackhide__ = True
        if cell is None:
            return self._remote_line(line)
        args = _cell_parser().parse_line(line)
        if args.timeout is not None and args.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds.")
        from ..remote.analysis import split_names

        try:
            inputs = split_names(args.inputs, "--in")
            outputs = split_names(args.outputs, "--out")
        except MLOpsError as exc:
            raise UsageError(str(exc)) from None
        count = current_execution_count(self.shell)
        options = {
            "inputs": inputs,
            "outputs": outputs,
            "timeout": args.timeout,
            "label": f"<%%remote {args.target} In[{count}]>",
            # One blank line for the magic's own: remote tracebacks then give the line
            # numbers the notebook shows.
            "transform": lambda source: "\n" + self.shell.transform_cell(source),
        }
        namespace = self.shell.user_ns
        if args.background:
            title = f"%%remote {args.target} --async (In[{count}])"
            sink = AsyncSink(title)
            try:
                handle = run_remote_async(args.target, cell, namespace, sink=sink, **options)
            except SyntaxError as exc:
                sink.status = "not started"
                sink._changed(final=True)
                return show_syntax_error(self.shell, exc)
            except BaseException:
                sink.status = "not started"
                sink._changed(final=True)
                raise
            handle.add_done_callback(sink.finished)
            self.handles.append(handle)
            return handle
        try:
            prepared = prepare(args.target, cell, namespace, **options)
        except SyntaxError as exc:  # shown as in a plain cell: where it is, not our frames
            return show_syntax_error(self.shell, exc)
        return execute(prepared, CellSink()).value

    remote.__doc__ = f"{remote.__doc__}\n\n{REMOTE_USAGE}"

    def _remote_line(self, line: str) -> Any:
        words = line.split(None, 1)
        command = words[0] if words else ""
        rest = words[1] if len(words) > 1 else ""
        targets = registry()
        try:
            if command == "add":
                parser = MagicArgumentParser(prog="%remote add")
                parser.add_argument("name")
                parser.add_argument("url")
                parser.add_argument("--token", default=None)
                args = parser.parse_line(rest)
                spec = targets.add(args.name, args.url, args.token)
                print(f"Target {spec.name!r} -> {spec.masked()}")
                return None
            if command == "list":
                if rest.strip():
                    raise UsageError("%remote list takes no arguments.")
                rows = targets.rows()
                width = max(len(r["name"]) for r in rows)
                for row in rows:
                    print(f"{row['name']:<{width}}  {row['url']}  [{row['from']}]  {row['status']}")
                return None
            if command == "close":
                name = rest.strip()
                if not name:
                    raise UsageError(f"%remote close NAME\n\n{REMOTE_USAGE}")
                if targets.close(name):
                    print(f"Closed {name!r}.")
                else:
                    print(f"{name!r} had nothing open.")
                return None
        except MLOpsError as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(f"Unknown %remote command {command!r}.\n\n{REMOTE_USAGE}")
