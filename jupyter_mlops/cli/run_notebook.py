"""``jupyter mlops run NOTEBOOK``: a thin CLI face over ``tracking.notebook``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..exceptions import InvalidParameterError, NotebookExecutionError
from ..tracking.notebook import execute_notebook, load_notebook, parse_parameter
from .main import open_store


def run_notebook_command(args: argparse.Namespace) -> int:
    parameters: dict[str, Any] = {}
    for text in args.param:
        key, value = parse_parameter(text)
        if key in parameters and parameters[key] != value:
            raise InvalidParameterError(
                f"Parameter {key} is given twice ({parameters[key]!r} and {value!r})."
            )
        parameters[key] = value
    load_notebook(args.notebook)  # fail on a bad path before touching the store
    store = open_store(args.store)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        run = execute_notebook(
            args.notebook,
            args.output,
            parameters,
            experiment=args.experiment,
            name=args.name,
            kernel_name=args.kernel,
            cwd=args.cwd,
            timeout=args.timeout,
            progress=progress,
        )
    except NotebookExecutionError as exc:
        store.flush()
        print(
            f"jupyter mlops: notebook failed (run {exc.run_id}): {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    store.flush()
    record = store.get_run(run.run_id)
    print(
        f"Run {record.name} ({record.run_id}) {record.status}: "
        f"{len(record.cells or [])} cells, {len(record.children or [])} child runs"
        + (f", output {args.output}" if args.output else "")
    )
    return 0
