"""The magics in a real IPython kernel (nbclient): %%track, %track start/stop, %experiment,
%mlops store / runs, usage errors and interrupts.

One kernel serves the whole module; every test adds its own cells to one notebook and reads
the runs back from the store in this process.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

from jupyter_mlops.store import RunRecord, Store

pytestmark = pytest.mark.slow

WAIT_S = 60.0


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll until ``predicate()`` is truthy (the kernel's writer commits in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Kernel:
    """A live kernel executing cells appended to one notebook."""

    def __init__(self, client: NotebookClient, root: Path, url: str) -> None:
        self.client = client
        self.root = root
        self.url = url
        self.store = Store(url, reap=False)

    def add(self, source: str) -> int:
        self.client.nb.cells.append(nbformat.v4.new_code_cell(source))
        return len(self.client.nb.cells) - 1

    def execute(self, index: int) -> nbformat.NotebookNode:
        cell = self.client.nb.cells[index]
        return self.client.execute_cell(cell, index)

    def run(self, source: str) -> nbformat.NotebookNode:
        return self.execute(self.add(source))

    # reading back ------------------------------------------------------------------------
    def finished_run(self, name: str, store: Store | None = None) -> RunRecord:
        """The run called ``name`` once it has ended (and its capture is committed)."""
        store = store or self.store

        def ended() -> RunRecord | None:
            found, _ = store.search_runs(filter=f"name = '{name}'")
            if found and found[0].status != "RUNNING":
                record = store.get_run(found[0].run_id)
                if record.environment is not None:
                    return record
            return None

        return wait_for(ended, f"run {name!r} to end")

    def run_names(self) -> set[str]:
        return {r.name for r in self.store.search_runs()[0]}

    def flushed_run_names(self) -> set[str]:
        """The run names once the kernel's writer has committed all it was given: what a
        "no run was started" check reads (before the flush, a run may still be queued)."""
        flushed = self.run("import jupyter_mlops as _mlops\n_mlops.flush()")
        assert error_of(flushed) is None, flushed.outputs
        return self.run_names()


def text_of(cell: nbformat.NotebookNode, stream: str | None = None) -> str:
    out = []
    for output in cell.outputs:
        if output.output_type == "stream" and stream in (None, output.name):
            out.append(output.text)
        elif output.output_type in ("execute_result", "display_data") and stream is None:
            out.append(output.data.get("text/plain", ""))
    return "".join(out)


def error_of(cell: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return errors[0] if errors else None


def usage_error_of(cell: nbformat.NotebookNode) -> str | None:
    """The message of a UsageError the cell raised (IPython prints these to stderr)."""
    error = error_of(cell)
    if error is not None and error.ename == "UsageError":
        return error.evalue
    stderr = text_of(cell, "stderr")
    if "UsageError: " in stderr:
        return stderr.split("UsageError: ", 1)[1]
    return None


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    root = tmp_path_factory.mktemp("magics")
    url = f"sqlite:///{root / 'mlops.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.update(JUPYTER_MLOPS_STORE=url, JUPYTER_MLOPS_ARTIFACTS=str(root / "artifacts"))
    client = NotebookClient(
        nbformat.v4.new_notebook(),
        kernel_name="python3",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(root)}},
    )
    with client.setup_kernel(env=env):
        k = Kernel(client, root, url)
        loaded = k.run("%load_ext jupyter_mlops")
        assert error_of(loaded) is None, loaded.outputs
        yield k
        k.store.close()


# -- %%track ---------------------------------------------------------------------------------


def test_track_cell_finished(kernel: Kernel) -> None:
    cell = kernel.run(
        "%%track my-cell --param lr=0.1 --param note='a b' --tag team=vision\n"
        "import sys\n"
        "import jupyter_mlops as mlops\n"
        "print('hello from the cell')\n"
        "print('a warning', file=sys.stderr)\n"
        "for step in range(5):\n"
        "    mlops.log_metric('loss', 1 / (step + 1))\n"
        "result = 6 * 7\n"
        "result"
    )
    assert error_of(cell) is None, cell.outputs
    assert "hello from the cell" in text_of(cell, "stdout")
    assert "a warning" in text_of(cell, "stderr")
    assert "42" in text_of(cell)  # the last expression is the cell's result, as usual

    run = kernel.finished_run("my-cell")
    assert run.status == "FINISHED"
    assert run.kind == "cell"
    assert run.execution_count == cell.execution_count
    assert run.source.startswith("%%track my-cell")
    assert "result = 6 * 7" in run.source
    assert "hello from the cell" in run.stdout
    assert "a warning" in run.stdout
    assert run.params == {"lr": "0.1", "note": "a b"}
    assert run.tags == {"team": "vision"}
    assert run.metrics == {"loss": pytest.approx(0.2)}
    assert run.end_time is not None and run.end_time >= run.start_time
    (recorded,) = run.cells  # the run's cell timeline is this one cell
    assert recorded.execution_count == cell.execution_count
    assert recorded.status == "FINISHED" and recorded.source == run.source
    assert run.environment["python"]
    # the kernel runs this interpreter: its imported packages are listed with their versions
    assert run.environment["packages"]["ipykernel"] == importlib.metadata.version("ipykernel")
    assert run.environment["packages"]["SQLAlchemy"] == importlib.metadata.version("SQLAlchemy")
    # the variable the cell assigned lives on in the kernel
    assert "42" in text_of(kernel.run("result"))


def test_track_cell_default_name_and_stdout_tail(kernel: Kernel) -> None:
    cell = kernel.run("%%track\nfor i in range(20000):\n    print('line', i)")
    assert error_of(cell) is None
    run = kernel.finished_run(f"cell [{cell.execution_count}]")
    assert run.stdout.rstrip().endswith("line 19999")
    assert len(run.stdout) <= 10_000
    assert "line 0\n" not in run.stdout


def test_track_cell_exception_is_failed_and_the_cell_errors_as_usual(kernel: Kernel) -> None:
    cell = kernel.run(
        "%%track failing\n"
        "print('before the error')\n"
        "def inner():\n"
        "    raise ValueError('bad value 123')\n"
        "inner()"
    )
    error = error_of(cell)
    assert error is not None
    assert error.ename == "ValueError"
    assert error.evalue == "bad value 123"
    assert "before the error" in text_of(cell, "stdout")
    traceback_text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    # line numbers are the cell's own, as the notebook shows them (line 1 is the magic)
    assert re.search(r"-+> 5 inner\(\)", traceback_text), traceback_text
    assert re.search(r"-+> 4 +raise ValueError", traceback_text), traceback_text

    run = kernel.finished_run("failing")
    assert run.status == "FAILED"
    assert "Traceback" in run.error
    assert "ValueError: bad value 123" in run.error
    assert "before the error" in run.stdout
    assert run.execution_count == cell.execution_count
    assert [c.status for c in run.cells] == ["FAILED"]
    # the kernel is fine afterwards
    assert "ok" in text_of(kernel.run("print('ok')"))


def test_track_cell_syntax_error_is_not_a_run(kernel: Kernel) -> None:
    before = kernel.run_names()
    cell = kernel.run("%%track broken-syntax\ny = 1\nx = (1,")
    error = error_of(cell)
    assert error is not None and "SyntaxError" in error.ename
    # shown as in a plain cell: the cell's own line numbers (the magic is line 1) and none
    # of the magic's or IPython's compiler frames
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    assert re.search(r"Cell In\[\d+\], line 3", shown), shown
    assert "x = (1," in shown
    for internal in ("track.py", "compilerop", "interactiveshell", "Traceback"):
        assert internal not in shown, shown
    names = kernel.flushed_run_names()
    assert "broken-syntax" not in names
    assert names == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%%track --bogus", "unrecognized arguments: --bogus"),
        ("%%track name --param novalue", "KEY=VALUE"),
        ("%%track name --param =1", "KEY=VALUE"),
        ("%%track name --tag nothing", "KEY=VALUE"),
        ("%%track name -p lr=0.1 --param lr=0.2", "--param lr is given twice"),
        ("%%track one two", "unrecognized arguments: two"),
        ("%%track --experiment", "expected one argument"),
        ("%%track 'unclosed", "cannot split"),
    ],
)
def test_bad_track_options_are_usage_errors_and_the_cell_does_not_run(
    kernel: Kernel, line: str, message: str
) -> None:
    flag = kernel.root / "bad-option-ran.txt"
    before = kernel.run_names()
    cell = kernel.run(f"{line}\nopen({str(flag)!r}, 'w').close()\nprint('BODY RAN')")
    error = usage_error_of(cell)
    assert error is not None, cell.outputs
    assert message in error
    assert "BODY RAN" not in text_of(cell)
    assert not flag.exists()
    assert kernel.flushed_run_names() == before


def test_bad_track_line_commands(kernel: Kernel) -> None:
    for line, message in (
        ("%track sideways", "Unknown %track command"),
        ("%track", "Unknown %track command"),
        ("%track stop", "No session run is on"),
        ("%track stop now", "takes no arguments"),
        ("%track start --nope", "unrecognized arguments"),
    ):
        error = usage_error_of(kernel.run(line))
        assert error is not None and message in error, (line, error)


def test_track_cell_interrupted_is_killed(kernel: Kernel) -> None:
    flag = kernel.root / "sleeping.flag"
    index = kernel.add(
        "%%track interrupted\n"
        "import time\n"
        f"open({str(flag)!r}, 'w').close()\n"
        "for _ in range(1200):\n"
        "    time.sleep(0.1)\n"
        "print('NOT INTERRUPTED')"
    )
    failures: list[BaseException] = []

    def interrupt() -> None:
        try:
            wait_for(flag.exists, "the cell to start sleeping")
            run_sync(kernel.client.km.interrupt_kernel)()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=interrupt)
    thread.start()
    cell = kernel.execute(index)
    thread.join()
    assert failures == []
    error = error_of(cell)
    assert error is not None and error.ename == "KeyboardInterrupt"
    assert "NOT INTERRUPTED" not in text_of(cell)
    run = kernel.finished_run("interrupted")
    assert run.status == "KILLED"
    assert "KeyboardInterrupt" in run.error
    assert "ok" in text_of(kernel.run("print('ok')"))


# -- %track start / stop -----------------------------------------------------------------


def test_session_records_every_cell_in_order_including_out_of_order(kernel: Kernel) -> None:
    start = kernel.add("%track start my-session --param mode=explore")
    assign = kernel.add("x = 1")
    scale = kernel.add("x = x * 10")
    show = kernel.add("print('x is', x)")
    fail = kernel.add("y = 1 / 0")
    stop = kernel.add("%track stop")

    started = kernel.execute(start)
    assert "my-session" in text_of(started)
    # out of order: scale, then assign again, then show -> prints 1, not 10
    seen_counts = []
    for index in (assign, scale, assign, show, fail):
        executed = kernel.execute(index)
        seen_counts.append(executed.execution_count)
    assert "x is 1" in text_of(kernel.client.nb.cells[show])
    assert error_of(kernel.client.nb.cells[fail]).ename == "ZeroDivisionError"
    stopped = kernel.execute(stop)
    assert "recorded 5 cells" in text_of(stopped)

    run = kernel.finished_run("my-session")
    assert run.status == "FINISHED"
    assert run.kind == "session"
    assert run.params == {"mode": "explore"}
    cells = run.cells
    assert [c.position for c in cells] == [0, 1, 2, 3, 4]
    assert [c.source for c in cells] == [
        "x = 1",
        "x = x * 10",
        "x = 1",
        "print('x is', x)",
        "y = 1 / 0",
    ]
    assert [c.execution_count for c in cells] == seen_counts
    counts = [c.execution_count for c in cells]
    assert counts == sorted(counts) and len(set(counts)) == 5
    assert [c.status for c in cells] == ["FINISHED"] * 4 + ["FAILED"]
    assert "ZeroDivisionError" in cells[4].error
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in cells)
    assert [c.start_time for c in cells] == sorted(c.start_time for c in cells)
    # the captured source is the exact code path, with execution counts
    assert run.source.index("x = x * 10") < run.source.rindex("x = 1")
    assert f"# In[{counts[0]}]:" in run.source

    # cells after stop are not recorded; a second stop is an error
    kernel.run("z = 3")
    assert len(kernel.store.get_run(run.run_id).cells) == 5
    assert usage_error_of(kernel.run("%track stop")) is not None


def test_session_twice_is_an_error_and_track_cells_inside_are_children(kernel: Kernel) -> None:
    kernel.run("%track start outer-session")
    error = usage_error_of(kernel.run("%track start again"))
    assert error is not None and "already on" in error
    kernel.run("%%track inner-cell\nv = 1")
    kernel.run("%track stop")
    session = kernel.finished_run("outer-session")
    inner = kernel.finished_run("inner-cell")
    assert inner.parent_run_id == session.run_id
    assert "%%track inner-cell" in [c.source for c in session.cells][-1]
    assert "again" not in kernel.run_names()


# -- %experiment, %mlops ------------------------------------------------------------------


def test_experiment_magic(kernel: Kernel) -> None:
    assert error_of(kernel.run("%experiment vision")) is None
    kernel.run("%%track in-vision\npass")
    assert "'vision'" in text_of(kernel.run("%experiment"))
    assert kernel.finished_run("in-vision").experiment == "vision"
    kernel.run("%%track in-nlp --experiment nlp\npass")
    assert kernel.finished_run("in-nlp").experiment == "nlp"
    error = usage_error_of(kernel.run(f"%experiment {'x' * 300}"))
    assert error is not None and "256" in error
    kernel.run("%experiment Default")


def test_mlops_runs_output(kernel: Kernel) -> None:
    kernel.run(
        "%%track listed-run --param k=v\nimport jupyter_mlops as m\nm.log_metric('acc', 0.5)"
    )
    kernel.finished_run("listed-run")
    cell = kernel.run("%mlops runs --limit 200")
    assert error_of(cell) is None, cell.outputs
    result = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert result, cell.outputs
    assert "listed-run" in result[0].data["text/plain"]
    assert "text/html" in result[0].data and "metrics.acc" in result[0].data["text/html"]
    filtered = kernel.run("%mlops runs --filter \"params.k = 'v'\"")
    assert "listed-run" in text_of(filtered)
    assert "my-cell" not in text_of(filtered)
    for line in (
        "%mlops runs --limit 0",
        "%mlops runs --filter 'nonsense ~'",
        "%mlops frobnicate",
        "%mlops",
    ):
        assert usage_error_of(kernel.run(line)) is not None, line


def test_mlops_store_switches_the_store(kernel: Kernel) -> None:
    shown = kernel.run("%mlops store")
    assert kernel.url in text_of(shown)
    other_path = kernel.root / "other" / "second.db"
    switched = kernel.run(f"%mlops store {other_path}")
    assert error_of(switched) is None, switched.outputs
    assert f"sqlite:///{other_path}" in text_of(switched)
    kernel.run("%%track in-other-store\npass")
    other = Store(f"sqlite:///{other_path}", reap=False)
    try:
        assert kernel.finished_run("in-other-store", store=other).status == "FINISHED"
    finally:
        other.close()
    assert "in-other-store" not in kernel.run_names()

    cell = kernel.run("%mlops store mysql://me:hunter2@db/runs")
    error = usage_error_of(cell)
    assert error is not None and "***" in error
    assert "hunter2" not in str(cell.outputs)
    # a failed switch does not quietly go on with another store: tracking refuses until a
    # store is set again
    refused = kernel.run("%%track after-failed-switch\npass")
    error = usage_error_of(refused) or (error_of(refused) and error_of(refused).evalue)
    assert error and "set_store failed" in error, refused.outputs
    back = kernel.run(f"%mlops store {kernel.url}")
    assert error_of(back) is None
    kernel.run("%%track back-home\npass")
    assert kernel.finished_run("back-home").status == "FINISHED"


def test_quoted_experiment_and_store_path_lose_their_quotes(kernel: Kernel) -> None:
    """%%track --experiment "my exp" reads the name without quotes; %experiment and
    %mlops store must too, or the same words name another experiment / a path with quotes."""
    assert error_of(kernel.run('%experiment "quoted exp"')) is None
    kernel.run("%%track in-quoted\npass")
    assert kernel.finished_run("in-quoted").experiment == "quoted exp"
    kernel.run("%experiment unquoted words")
    kernel.run("%%track in-unquoted\npass")
    assert kernel.finished_run("in-unquoted").experiment == "unquoted words"
    error = usage_error_of(kernel.run("%experiment 'a' 'b'"))
    assert error is not None and "takes one value" in error
    kernel.run("%experiment Default")

    spaced = kernel.root / "with space" / "s.db"
    switched = kernel.run(f"%mlops store '{spaced}'")
    assert error_of(switched) is None and usage_error_of(switched) is None, switched.outputs
    assert spaced.exists()
    kernel.run(f"%mlops store {kernel.url}")


def test_track_cell_compile_errors_start_no_run(kernel: Kernel) -> None:
    """Errors only the compiler finds ('return' outside a function, top-level await) used to
    start a run, then fail it with the magic's frames in the traceback."""
    before = kernel.run_names()
    cell = kernel.run("%%track returns\nx = 1\nreturn x")
    error = error_of(cell)
    assert error is not None and error.ename == "SyntaxError", cell.outputs
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    assert re.search(r"Cell In\[\d+\], line 3", shown) and "track.py" not in shown, shown

    cell = kernel.run("%%track awaits\nimport asyncio\nawait asyncio.sleep(0)\nprint('BODY RAN')")
    message = usage_error_of(cell)
    assert message is not None and "top-level await" in message, cell.outputs
    assert "BODY RAN" not in text_of(cell)
    assert kernel.flushed_run_names() == before


def test_mlops_store_masks_credentials_of_the_artifact_url(kernel: Kernel) -> None:
    other = kernel.root / "masked" / "m.db"
    kernel.run(
        "import os\n"
        "_saved = os.environ['JUPYTER_MLOPS_ARTIFACTS']\n"
        "os.environ['JUPYTER_MLOPS_ARTIFACTS'] = 'memory://bob:hunter2@host/arts'"
    )
    try:
        shown = kernel.run(f"%mlops store {other}")
        assert error_of(shown) is None, shown.outputs
        assert "bob:***@host" in text_of(shown) and "hunter2" not in text_of(shown)
    finally:
        kernel.run("os.environ['JUPYTER_MLOPS_ARTIFACTS'] = _saved")
        kernel.run(f"%mlops store {kernel.url}")


def test_track_cell_output_follows_ipythons_semicolon_rule(kernel: Kernel) -> None:
    def results(cell: nbformat.NotebookNode) -> list[str]:
        return [o.data["text/plain"] for o in cell.outputs if o.output_type == "execute_result"]

    assert results(kernel.run("%%track\nvalue = 41\nvalue + 1")) == ["42"]
    assert results(kernel.run("%%track\nvalue + 1;")) == []
    assert results(kernel.run("%%track\nvalue + 1;  # quiet, with a note")) == []
    assert results(kernel.run("%%track\nvalue + 1  # a note; not quiet")) == ["42"]


# -- what a %%track run records (issue: runs record exactly what happened) ---------------------


def test_track_params_parse_and_store_as_log_param_does_and_bind_as_variables(
    kernel: Kernel,
) -> None:
    cell = kernel.run(
        "%%track one-rule --param l1_ratio=1 --param lr=0.10 --param name='big model' --bind\n"
        "import jupyter_mlops as mlops\n"
        "mlops.log_param('l1_ratio', 1.0)  # the same value as typed: not a change\n"
        "mlops.log_param('lr', 0.1)\n"
        "print(type(l1_ratio).__name__, lr, name, mlops.active_run().params['lr'])"
    )
    assert error_of(cell) is None, cell.outputs
    assert text_of(cell, "stdout").strip() == "int 0.1 big model 0.1"
    run = kernel.finished_run("one-rule")
    assert run.status == "FINISHED"
    assert run.params == {"l1_ratio": "1", "lr": "0.1", "name": "big model"}

    # a different value is still refused: params are immutable
    cell = kernel.run(
        "%%track changed --param l1_ratio=1\n"
        "import jupyter_mlops as mlops\n"
        "mlops.log_param('l1_ratio', 0.5)"
    )
    assert error_of(cell) is not None and "immutable" in error_of(cell).evalue


def test_track_run_lists_the_packages_the_cell_imported(kernel: Kernel) -> None:
    cell = kernel.run("%%track imports-late\nimport sortedcontainers\nsortedcontainers.SortedList")
    assert error_of(cell) is None, cell.outputs

    def packages() -> dict[str, str] | None:
        run = kernel.finished_run("imports-late")
        found = {p.lower(): v for p, v in run.environment["packages"].items()}
        return found if "sortedcontainers" in found else None

    assert wait_for(packages, "sortedcontainers in the run's packages")


def test_track_traceback_is_plain_and_hides_jupyter_mlops_frames(kernel: Kernel) -> None:
    cell = kernel.run(
        "%%track hidden-frames\n"
        "def load(path):\n"
        "    raise FileNotFoundError(path)\n"
        "load('data.csv')"
    )
    assert error_of(cell) is not None
    run = kernel.finished_run("hidden-frames")
    assert run.error.startswith("Traceback (most recent call last):\n"), run.error
    assert "jupyter_mlops" not in run.error, run.error
    assert "\x1b" not in run.error
    assert f'File "Cell In[{cell.execution_count}]", line 4, in <module>' in run.error
    assert "load('data.csv')" in run.error  # the source line is shown under its frame
    assert run.error.rstrip().endswith("FileNotFoundError: data.csv")
    assert run.cells[0].error == run.error


def test_log_artifact_leaves_no_stray_output(kernel: Kernel) -> None:
    (kernel.root / "notes.txt").write_text("hello")
    cell = kernel.run(
        "%%track with-artifact\nimport jupyter_mlops as mlops\nmlops.log_artifact('notes.txt')"
    )
    assert error_of(cell) is None, cell.outputs
    assert [o for o in cell.outputs if o.output_type == "execute_result"] == []
    assert dict(kernel.finished_run("with-artifact").artifacts) == {"notes.txt": 5}


def test_mlops_runs_hints_to_quote_a_date(kernel: Kernel) -> None:
    cell = kernel.run("%mlops runs --filter 'params.start_date = 2020-01-01'")
    message = usage_error_of(cell)
    assert message is not None and "quote dates" in message and "'2020-01-01'" in message
