"""Plain-text rendering of runs for the terminal: ``jupyter mlops runs list`` and ``runs show``,
and the numbers of ``pipeline run``'s summary."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from ..store import RunRecord
from ..tracking.capture import strip_ansi
from ..tracking.parameters import GIVEN_TAG, UNCHECKED_TAG


def format_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start: int, end: int | None) -> str:
    if end is None:
        return "-"
    seconds = (end - start) / 1000
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m"


def format_number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _one_line(text: str) -> str:
    """A name with a newline or tab (allowed in names and keys) must not break the table."""
    return "".join(" " if c in "\r\n\t\v\f" else c for c in text)


def varying_params(records: Sequence[RunRecord]) -> list[str]:
    """The param keys whose value differs between the runs (missing counts as a value), in
    first-seen order: what tells the runs of a sweep apart."""
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r.params))
    return [k for k in keys if len({r.params.get(k) for r in records}) > 1]


def format_runs_table(
    records: Sequence[RunRecord], metric_limit: int = 3, param_limit: int = 3
) -> str:
    if not records:
        return "No runs."
    varying = varying_params(records)
    header = ["RUN_ID", "NAME", "EXPERIMENT", "STATUS", "START (UTC)", "DURATION"]
    header += ["PARAMS"] if varying else []
    header += ["METRICS"]
    rows = []
    for r in records:
        own = [k for k in varying if k in r.params]
        params = ", ".join(f"{k}={r.params[k]}" for k in own[:param_limit]) + (
            ", ..." if len(own) > param_limit else ""
        )
        metrics = ", ".join(
            f"{k}={format_number(v)}" for k, v in sorted(r.metrics.items())[:metric_limit]
        )
        if len(r.metrics) > metric_limit:
            metrics += ", ..."
        rows.append(
            [
                r.run_id,
                _one_line(r.name),
                _one_line(r.experiment),
                r.status,
                format_time(r.start_time),
                format_duration(r.start_time, r.end_time),
                *([_one_line(params)] if varying else []),
                _one_line(metrics),
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    capped = {1: 40, 2: 40, 6: 60} if varying else {1: 40, 2: 40}
    widths = [min(w, capped.get(i, w)) for i, w in enumerate(widths)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def format_run_text(r: RunRecord) -> str:
    out = [
        f"Run {r.name}  ({r.run_id})",
        f"  experiment : {r.experiment}",
        f"  status     : {r.status}",
        f"  kind       : {r.kind}",
        f"  started    : {format_time(r.start_time)} UTC",
        f"  duration   : {format_duration(r.start_time, r.end_time)}",
    ]
    if r.parent_run_id:
        out.append(f"  parent     : {r.parent_run_id}")
    if r.notebook_path:
        out.append(
            f"  notebook   : {r.notebook_path}"
            + (f" (cell In[{r.execution_count}])" if r.execution_count else "")
        )
    if r.git:
        out.append(
            f"  git        : {r.git.get('commit')} on {r.git.get('branch')}"
            + (" (dirty)" if r.git.get("dirty") else "")
        )
    if r.environment:
        env = r.environment
        kernel = f" (kernel {env['kernel']})" if env.get("kernel") else ""
        out.append(f"  python     : {env.get('python')} on {env.get('host')}{kernel}")
        if env.get("executable"):
            out.append(f"  executable : {env['executable']}")
    if r.params:
        out.append("Params:")
        out += [f"  {k} = {v}{_param_origin(r, k)}" for k, v in sorted(r.params.items())]
    if r.tags:
        out.append("Tags:")
        out += [f"  {k} = {v}" for k, v in sorted(r.tags.items())]
    if r.metrics:
        out.append("Metrics (latest):")
        out += [f"  {k} = {format_number(v)}" for k, v in sorted(r.metrics.items())]
    if r.cells:
        out.append(f"Cells ({len(r.cells)}):")
        for c in r.cells:
            first = (c.source.strip().splitlines() or [""])[0][:70]
            out.append(
                f"  #{c.position} In[{c.execution_count}] {c.status} "
                f"{(c.duration_ms or 0):.0f}ms  {first}"
            )
    if r.source:
        out.append("Source:")
        out += [f"  {line}" for line in r.source.splitlines()]
    if r.error:
        out.append("Error:")
        # Runs stored before tracebacks were kept plain may hold colour codes.
        out += [f"  {line}" for line in strip_ansi(r.error).rstrip().splitlines()[-15:]]
    if r.artifacts:
        out.append("Artifacts:")
        out += [f"  {path}  ({size} bytes)" for path, size in r.artifacts]
    if r.children:
        out.append(f"Child runs: {', '.join(r.children)}")
    return "\n".join(out)


def _param_origin(r: RunRecord, key: str) -> str:
    """`` (-p)`` / `` (default)`` for a notebook run's params: given, or the parameters cell's
    default; `` (-p, unchecked)`` for a value the notebook's parameters cell does not define."""
    if GIVEN_TAG not in r.tags and UNCHECKED_TAG not in r.tags:
        return ""
    given = set(r.tags.get(GIVEN_TAG, "").split(","))
    if key in set(r.tags.get(UNCHECKED_TAG, "").split(",")):
        return "  (-p, unchecked)"
    return "  (-p)" if key in given else "  (default)"
