"""``jupyter mlops runs archive|restore|purge|rename|note|tag``: managing runs after the fact.

Runs are named by id or a unique prefix (as ``runs show``). Archive is a soft delete; purge
destroys archived runs only, and only with ``--yes`` (without it, it lists what it would
delete).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..exceptions import RunLifecycleError, UsageError

COMMANDS = ("archive", "restore", "purge", "rename", "note", "tag")


def add_commands(runs_cmd: Any, store_option: argparse.ArgumentParser) -> None:
    """Add the management subcommands to ``jupyter mlops runs``."""
    parents = [store_option]
    for name, verb in (("archive", "archive (soft-delete)"), ("restore", "restore archived")):
        sub = runs_cmd.add_parser(name, help=f"{verb} runs and their child runs", parents=parents)
        sub.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run id or unique prefix")
        sub.add_argument(
            "--no-children", action="store_true", help="leave the runs' child runs as they are"
        )
    purge = runs_cmd.add_parser(
        "purge", help="delete archived runs for good (with --yes)", parents=parents
    )
    purge.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    purge.add_argument(
        "--yes", action="store_true", help="really delete (without it: say what would go)"
    )
    rename = runs_cmd.add_parser("rename", help="rename a run", parents=parents)
    rename.add_argument("run_id")
    rename.add_argument("name")
    note = runs_cmd.add_parser("note", help="set a run's Markdown note", parents=parents)
    note.add_argument("run_id")
    source = note.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help="the note ('-' reads it from stdin)")
    source.add_argument("--file", type=Path, help="read the note from a file")
    source.add_argument("--clear", action="store_true", help="remove the note")
    tag = runs_cmd.add_parser("tag", help="set or delete tags of a run", parents=parents)
    tag.add_argument("run_id")
    tag.add_argument("tags", nargs="*", metavar="KEY=VALUE")
    tag.add_argument("--delete", action="append", default=[], metavar="KEY", help="repeatable")


def run(args: argparse.Namespace, store: Any) -> int:
    """Execute one management subcommand; returns the exit code."""
    command = args.runs_command
    if command in ("archive", "restore", "purge"):
        ids = [store.resolve_run_id(r) for r in args.run_ids]
        if command == "archive":
            changed = store.archive_runs(ids, children=not args.no_children)
            return _report(changed, "archived", "already archived")
        if command == "restore":
            changed = store.restore_runs(ids, children=not args.no_children)
            return _report(changed, "restored", "not archived")
        return _purge(store, ids, args.yes)
    run_id = store.resolve_run_id(args.run_id)
    if command == "rename":
        print(f"{run_id}: renamed to {store.rename_run(run_id, args.name)!r}")
    elif command == "note":
        text = None if args.clear else _note_text(args)
        store.set_note(run_id, text)
        print(f"{run_id}: note {'cleared' if not text else 'set'}")
    elif command == "tag":
        values = dict(_key_value(item) for item in args.tags)
        if not values and not args.delete:
            raise UsageError("Give KEY=VALUE tags to set and/or --delete KEY.")
        if values:
            store.set_tags(run_id, values)
        if args.delete:
            store.delete_tags(run_id, args.delete)
        print(f"{run_id}: {len(values)} tag(s) set, {len(args.delete)} deleted")
    return 0


def _purge(store: Any, ids: list[str], yes: bool) -> int:
    if not yes:
        # Check the runs are archived now, so a dry run says what --yes would say.
        listed = ", ".join(f"'{run_id}'" for run_id in ids)
        records, _ = store.search_runs(
            filter=f"run_id IN ({listed})", lifecycle="deleted", count=False
        )
        archived = {r.run_id for r in records}
        active = [run_id for run_id in ids if run_id not in archived]
        if active:
            raise RunLifecycleError(
                f"Run {active[0]} is not archived; archive it first "
                "(jupyter mlops runs archive), then purge."
            )
        print("Would delete for good (with their child runs):", *ids, sep="\n  ")
        print("Nothing deleted: add --yes to delete them.", file=sys.stderr)
        return 2
    deleted = store.purge_runs(ids)
    print(f"Deleted {len(deleted)} run(s) for good:", *deleted, sep="\n  ")
    return 0


def _report(changed: list[str], done: str, unchanged: str) -> int:
    if changed:
        print(f"{len(changed)} run(s) {done}:", *changed, sep="\n  ")
    else:
        print(f"Nothing to do: the runs are {unchanged}.")
    return 0


def _note_text(args: argparse.Namespace) -> str:
    if args.file is not None:
        try:
            return args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the note from {args.file}: {exc.strerror}.") from None
    if args.text == "-":
        return sys.stdin.read()
    return args.text


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UsageError(f"Tags are KEY=VALUE, got {item!r}.")
    return key, value
