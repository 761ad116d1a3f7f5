"""``jupyter mlops pipeline show|run``: a thin CLI face over ``jupyter_mlops.pipeline``.

Exit codes: 0 the pipeline finished; 1 a step failed (its traceback and executed notebook are
printed; a rerun resumes from the cache); 2 bad input (nothing ran); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from .common import open_store, positive_int


def add_parser(commands: Any, store_option: argparse.ArgumentParser) -> None:
    pipeline = commands.add_parser("pipeline", help="show or run a tagged notebook as a pipeline")
    pipeline.set_defaults(print_pipeline_usage=pipeline.print_usage)
    sub = pipeline.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND")
    show = sub.add_parser(
        "show", help="the steps, their dependencies and hand-overs", parents=[store_option]
    )
    show.add_argument("notebook", help="a tagged notebook (.ipynb) or a pipeline .yaml")
    show.add_argument("--format", choices=("text", "json", "dot"), default="text")

    run = sub.add_parser("run", help="run the pipeline (cached, parallel)", parents=[store_option])
    run.add_argument("notebook", help="a tagged notebook (.ipynb) or a pipeline .yaml")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a pipeline parameter (typed as its default in the parameters cell)",
    )
    run.add_argument(
        "--jobs", "-j", type=positive_int, default=None, help="steps at once (default: cores)"
    )
    run.add_argument("--executor", choices=("local", "dask"), default="local")
    run.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port)")
    run.add_argument("--only", metavar="STEP", help="run only STEP (its inputs from the cache)")
    run.add_argument(
        "--from", dest="from_step", metavar="STEP", help="rerun STEP and everything after it"
    )
    run.add_argument("--no-cache", action="store_true", help="run every step")
    run.add_argument("--format", choices=("text", "json"), default="text")
    run.add_argument("--experiment", "-e", help="experiment of the pipeline's runs")
    run.add_argument("--cache-dir", help="where step outputs are kept")
    run.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a new kernel for every step instead of reusing warm ones",
    )
    run.add_argument("--timeout", type=positive_int, default=None, help="seconds a cell may run")
    run.add_argument("--no-progress", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    if args.pipeline_command is None:
        args.print_pipeline_usage(sys.stderr)
        print(
            "jupyter mlops pipeline: error: a subcommand is required (show or run)",
            file=sys.stderr,
        )
        return 2
    from .. import pipeline

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pipeline.load(args.notebook)
    for warning in caught:
        print(f"jupyter mlops: warning: {warning.message}", file=sys.stderr)
    if args.pipeline_command == "show":
        if args.format == "json":
            print(loaded.to_json())
        elif args.format == "dot":
            print(loaded.to_dot())
        else:
            print(loaded.to_text())
        return 0
    return _run_pipeline(args, pipeline)


def _run_pipeline(args: argparse.Namespace, pipeline: Any) -> int:
    from ..pipeline.parameters import parse_assignments

    params = parse_assignments(args.param)
    open_store(args.store)
    display = _Progress(enabled=not args.no_progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # printed by pipeline_command already
        try:
            summary = pipeline.run(
                args.notebook,
                params,
                params_as_text=True,
                jobs=args.jobs,
                executor=args.executor,
                scheduler=args.scheduler,
                only=args.only,
                from_step=args.from_step,
                no_cache=args.no_cache,
                cache_dir=args.cache_dir,
                experiment=args.experiment,
                warm_kernels=not args.fresh_kernels,
                timeout=args.timeout,
                progress=display.update,
            )
        finally:
            display.close()
    if args.format == "json":
        print(summary.to_json())
    else:
        print(_summary_text(summary))
    for step in summary.failed:
        print(f"\nStep {step.name!r} failed: {step.error}", file=sys.stderr)
        if step.traceback:
            lines = step.traceback.rstrip().splitlines()
            print("\n".join(lines[-30:]), file=sys.stderr)
        if step.notebook:
            print(f"Executed notebook: {step.notebook}", file=sys.stderr)
    if summary.failed:
        print(
            "jupyter mlops: pipeline failed; fix the step and run again (finished steps are "
            "cached).",
            file=sys.stderr,
        )
        return 1
    return 0


def _summary_text(summary: Any) -> str:
    from .format import format_number

    width = max([len(s.name) for s in summary.steps] + [4])
    lines = [
        f"Pipeline {summary.name} ({summary.run_id}) {summary.status} in "
        f"{summary.duration:.1f}s; {summary.kernels_started} kernel(s) started",
        f"  {'STEP'.ljust(width)}  {'STATUS':8} {'TIME':>7}  RUN",
    ]
    for step in summary.steps:
        duration = "-" if step.duration is None else f"{step.duration:.2f}s"
        note = f" (from {step.cached_from})" if step.cached_from else ""
        lines.append(
            f"  {step.name.ljust(width)}  {step.status:8} {duration:>7}  {step.run_id}{note}"
        )
    if summary.metrics:
        lines.append(
            "Metrics: "
            + ", ".join(f"{k}={format_number(v)}" for k, v in sorted(summary.metrics.items()))
        )
    return "\n".join(lines)


class _Progress:
    """A tqdm bar on a terminal (steps done, with running/cached/failed counts); one line per
    event otherwise, so CI logs show the order of things."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def update(self, event: str, step: Any, summary: Any) -> None:
        if not self.enabled:
            return
        counts = summary.counts()
        done = sum(counts.get(k, 0) for k in ("ran", "cached", "failed", "skipped"))
        running = [s.name for s in summary.steps if s.status == "running"]
        if not self.tty:
            extra = f" ({step.duration:.2f}s)" if event in ("ran", "failed") else ""
            print(
                f"[{done}/{len(summary.steps)}] {step.name}: {event}{extra}",
                file=sys.stderr,
                flush=True,
            )
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=len(summary.steps), unit="step", file=sys.stderr, leave=False)
        self.bar.n = done
        self.bar.set_postfix_str(
            f"running: {', '.join(running) or '-'} | cached {counts.get('cached', 0)} | "
            f"failed {counts.get('failed', 0)} | skipped {counts.get('skipped', 0)}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
