"""``jupyter mlops run NOTEBOOK``: a thin CLI face over ``tracking.notebook``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from typing import TYPE_CHECKING

from ..exceptions import NotebookExecutionError
from ..tracking.notebook import NotebookFormatWarning, execute_notebook, load_notebook
from .common import open_store
from .parameters import collect_parameters

if TYPE_CHECKING:
    from ..store import RunRecord, Store


def run_notebook_command(args: argparse.Namespace) -> int:
    parameters = collect_parameters(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NotebookFormatWarning)
        load_notebook(args.notebook)  # fail on a bad path before touching the store
    for warning in caught:
        print(f"jupyter mlops: warning: {warning.message}", file=sys.stderr)
    store = open_store(args.store)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotebookFormatWarning)  # said once, above
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
                allow_unknown_params=args.allow_unknown_params,
            )
    except NotebookExecutionError as exc:
        store.flush()
        print(
            f"jupyter mlops: notebook failed (run {exc.run_id}): {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return exc.exit_code
    store.flush()
    record = store.get_run(run.run_id)
    print(
        f"Run {record.name} ({record.run_id}) {record.status} in experiment "
        f"{record.experiment!r}: {len(record.cells or [])} cells, "
        f"{len(record.children or [])} child runs"
        + _elsewhere(store, record)
        + (f", output {args.output}" if args.output else "")
    )
    return 0


def _elsewhere(store: Store, record: RunRecord) -> str:
    """Child runs in other experiments than the notebook run's, said plainly."""
    counts = Counter(store.get_run(child).experiment for child in record.children or [])
    counts.pop(record.experiment, None)
    if not counts:
        return ""
    return " (" + ", ".join(f"{n} in {name!r}" for name, n in sorted(counts.items())) + ")"
