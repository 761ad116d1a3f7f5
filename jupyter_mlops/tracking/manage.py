"""Managing runs after the fact (``mlops.set_note``, ``mlops.archive_run``, ...).

The Python face of ``Store``'s run mutations: each call is a synchronous transaction on the
store in use, done when it returns. A run is given by its id, a unique prefix of it (as
``jupyter mlops runs show`` takes), or a run object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..exceptions import InvalidParameterError
from . import fluent

RunRef = Any  # a run id, a unique prefix of one, or an object with ``.run_id``


def resolve(run: RunRef) -> str:
    """The full id of ``run`` in the store in use."""
    run_id = getattr(run, "run_id", run)
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidParameterError(f"Expected a run id or a run, got {run!r}.")
    # an exact id, else a unique prefix; or RunNotFoundError naming the problem
    return fluent.get_store().resolve_run_id(run_id)


def _resolve_all(runs: RunRef | Iterable[RunRef]) -> list[str]:
    if isinstance(runs, str) or hasattr(runs, "run_id"):
        return [resolve(runs)]
    if not isinstance(runs, Iterable):
        raise InvalidParameterError(f"Expected a run id, a run, or a list of them, got {runs!r}.")
    ids = [resolve(r) for r in runs]
    if not ids:
        raise InvalidParameterError("No runs given.")
    return ids


def set_note(run: RunRef, note: str | None) -> None:
    """Set the Markdown note of a run (``None`` or ``""`` clears it)."""
    fluent.get_store().set_note(resolve(run), note)


def rename_run(run: RunRef, name: str) -> str:
    """Rename a run; returns the stored name."""
    return fluent.get_store().rename_run(resolve(run), name)


def set_run_tags(run: RunRef, tags: Mapping[str, Any]) -> None:
    """Set tags on any run, finished or not (``mlops.set_tag(k, v, run_id=...)``)."""
    fluent.get_store().set_tags(resolve(run), tags)


def delete_tag(run: RunRef, key: str) -> None:
    """Remove a tag from a run (nothing happens when the run does not have it)."""
    fluent.get_store().delete_tags(resolve(run), [key])


def archive_run(runs: RunRef | Iterable[RunRef], children: bool = True) -> list[str]:
    """Archive runs (MLflow's lifecycle stage ``deleted``): hidden from ``mlops.runs()`` and
    the sidebar unless asked for, and restorable. Their child runs are archived too unless
    ``children=False``. Returns the ids archived now. Nothing is destroyed."""
    return fluent.get_store().archive_runs(_resolve_all(runs), children=children)


def restore_run(runs: RunRef | Iterable[RunRef], children: bool = True) -> list[str]:
    """Bring archived runs (and their children) back; returns the ids restored now."""
    return fluent.get_store().restore_runs(_resolve_all(runs), children=children)


def purge_run(runs: RunRef | Iterable[RunRef]) -> list[str]:
    """Delete archived runs for good (rows, metric points, artifact files), children
    included. A run that is not archived is refused (``RunLifecycleError``): archive first."""
    return fluent.get_store().purge_runs(_resolve_all(runs))
