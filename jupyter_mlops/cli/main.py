"""``jupyter mlops`` / ``jupyter-mlops``: runs list/show and headless notebook runs."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from .. import wire
from ..exceptions import InvalidFilterError, MLOpsError
from ..tracking.filter_hints import with_hint
from . import manage, pipeline, sync
from .common import open_store, positive_int
from .format import format_run_text, format_runs_table
from .parameters import add_parameter_options, join_param_pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter mlops",
        # Only what exists: the commands themselves are listed below, from the parsers.
        description="jupyter-mlops: the MLOps toolkit inside Jupyter.",
    )
    parser.add_argument(
        "--store",
        help="store URL or SQLite file (default: "
        "$JUPYTER_MLOPS_STORE, config, then the Jupyter data dir)",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    # --store after the subcommand too (`runs list --store x.db`): users put options last.
    # SUPPRESS: when not given there, the top-level value (or None) stands.
    store_option = argparse.ArgumentParser(add_help=False)
    store_option.add_argument("--store", default=argparse.SUPPRESS, help="as before COMMAND")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    runs = commands.add_parser("runs", help="list and show runs")
    runs.set_defaults(print_runs_usage=runs.print_usage)
    runs_cmd = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    runs_list = runs_cmd.add_parser("list", help="list runs, newest first", parents=[store_option])
    runs_list.add_argument(
        "--experiment", "-e", action="append", help="only this experiment (repeatable)"
    )
    runs_list.add_argument(
        "--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\""
    )
    runs_list.add_argument(
        "--order-by", "-o", action="append", help="e.g. 'metrics.acc DESC' (repeatable)"
    )
    runs_list.add_argument("--limit", "-n", type=positive_int, default=None)
    runs_list.add_argument("--format", choices=("table", "json"), default="table")
    runs_show = runs_cmd.add_parser("show", help="show one run in full", parents=[store_option])
    runs_show.add_argument("run_id", help="run id or a unique prefix of it")
    runs_show.add_argument("--format", choices=("text", "json"), default="text")
    manage.add_commands(runs_cmd, store_option)

    run = commands.add_parser(
        "run", help="execute a notebook headless with papermill, tracked", parents=[store_option]
    )
    run.add_argument("notebook", help="the notebook to execute (.ipynb)")
    run.add_argument(
        "-o",
        "--output",
        help="where to write the executed notebook (default: kept only as the run's artifact)",
    )
    add_parameter_options(run)
    run.add_argument(
        "--experiment",
        "-e",
        help="experiment of the notebook run (default: the one the notebook sets, else the "
        "current one)",
    )
    run.add_argument("--name", help="name of the notebook run (default: the notebook's name)")
    run.add_argument("--kernel", "-k", help="kernel name (default: the notebook's)")
    run.add_argument("--cwd", help="working directory (default: the notebook's folder)")
    run.add_argument(
        "--timeout", type=positive_int, default=None, help="seconds a cell may run before it fails"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    sync.add_parser(commands, store_option)
    pipeline.add_parser(commands, store_option)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    # jsonschema (under nbformat and papermill) builds an IRI grammar with rfc3987_syntax at
    # import, about a second, for a format check that notebook validation never asks for.
    # This process runs no user code (kernels do), so it goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    # When this is the process's own command line (not a caller with arguments that goes on,
    # such as a test, and keeps its garbage collected): the objects made so far (the modules
    # of the CLI, SQLAlchemy) live until the process ends, so the cycle collector need not
    # walk them. Frozen, the collections during the imports to come (papermill: 0.25 ->
    # 0.21 s) and during the command skip them.
    if argv is None:
        gc.freeze()
    try:
        code = _main(argv)
        if argv is None:
            # The process ends next: the collections of the interpreter's shutdown would walk
            # every object made since (papermill's modules, ...), 0.1 s of every command.
            gc.freeze()
        sys.stdout.flush()  # inside the try: a closed pipe fails here, not at shutdown
    except BrokenPipeError:
        # `jupyter mlops runs list | head`: the reader is gone, which is not an error of ours
        # worth a traceback. Point stdout at devnull so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as git and coreutils exit
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_papermill_words(sys.argv[1:] if argv is None else argv))
    if args.version:
        from .._version import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "runs":
            return _runs(args, parser)
        if args.command == "run":
            from .run_notebook import run_notebook_command

            return run_notebook_command(args)
        if args.command == "sync":
            return sync.run(args)
        if args.command == "pipeline":
            return pipeline.run(args)
    except MLOpsError as exc:  # the one place errors become exit codes (docs/errors.md)
        print(f"jupyter mlops: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("jupyter mlops: interrupted", file=sys.stderr)
        return 130
    parser.print_help()
    return 2


def _papermill_words(argv: Sequence[str]) -> list[str]:
    """``run`` (and ``pipeline``) take papermill's ``-p NAME VALUE`` too (see
    ``cli/parameters.py``)."""
    words = list(argv)
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] == "--store" else 1  # options before COMMAND
    if i < len(words) and words[i] in ("run", "pipeline"):
        return words[: i + 1] + join_param_pairs(words[i + 1 :])
    return words


def _runs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.runs_command is None:
        args.print_runs_usage(sys.stderr)
        print("jupyter mlops runs: error: a subcommand is required (list or show)", file=sys.stderr)
        return 2
    store = open_store(args.store)
    if args.runs_command in manage.COMMANDS:
        return manage.run(args, store)
    if args.runs_command == "list":
        experiment_ids = None
        if args.experiment:
            known = {e["name"]: e["experiment_id"] for e in store.list_experiments()}
            missing = [name for name in args.experiment if name not in known]
            if missing:
                print(
                    f"jupyter mlops: error: no experiment named {missing[0]!r} "
                    f"(known: {', '.join(sorted(known)) or 'none'})",
                    file=sys.stderr,
                )
                return 2
            experiment_ids = [known[name] for name in args.experiment]
        try:
            records, _ = store.search_runs(
                experiment_ids=experiment_ids,
                filter=args.filter,
                order_by=args.order_by,
                limit=args.limit,
            )
        except InvalidFilterError as exc:
            raise with_hint(exc, args.filter) from None
        if args.format == "json":
            print(wire.dumps([wire.run_summary(r) for r in records]))
        else:
            print(format_runs_table(records))
        return 0
    record = store.get_run(store.resolve_run_id(args.run_id))
    if args.format == "json":
        print(wire.dumps(wire.run_detail(record)))
    else:
        print(format_run_text(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
