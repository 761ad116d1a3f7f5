"""``jupyter mlops sync``: write journals to a store (offline runs, other machines, leftovers)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..exceptions import MLOpsError


class SyncError(MLOpsError):
    """A journal named on the command line cannot be synced."""


def add_parser(commands: Any, store_option: argparse.ArgumentParser) -> None:
    sync = commands.add_parser(
        "sync",
        help="write journals (offline logging, dead processes, other machines) to the store",
        parents=[store_option],
        description="Apply journals to the store. With no JOURNAL, every journal of the "
        "store whose process has ended. A journal is a folder holding NNNNNN.mlj segments "
        "(a segment file names its folder). Each operation is applied exactly once, however "
        "often sync runs; an applied journal is deleted.",
    )
    sync.add_argument("journals", nargs="*", metavar="JOURNAL", help="journal folders to apply")
    sync.add_argument(
        "--status", action="store_true", help="list the journals not applied yet; change nothing"
    )
    sync.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.journal import claim_journal, list_journals, segments
    from ..store.replay import apply_journal, report

    # Opening the store replays its own leftover journals already; say what that did.
    store = Store(args.store, offline=False, replay=False)
    try:
        if args.status:
            return _status(store, list_journals(store.journal_root), args.format)
        paths = [_journal_folder(Path(p)) for p in args.journals] or [
            info.path for info in list_journals(store.journal_root) if not info.alive
        ]
        results = []
        for path in paths:
            if not segments(path):
                raise SyncError(f"{path} holds no journal segments (NNNNNN.mlj).")
            claim = claim_journal(path)
            if claim is None:
                raise SyncError(
                    f"journal {path} is in use: its process is still running (or another "
                    "sync is applying it). Try again once it has ended."
                )
            with claim:
                result = apply_journal(store, claim, give_up_s=60.0)
            results.append(result)
            if args.format == "text":
                report(result)
        if args.format == "json":
            print(
                json.dumps(
                    [
                        {
                            "journal": str(r.path),
                            "applied": r.applied,
                            "complete": r.complete,
                            "error": r.error,
                            "damaged_bytes": sum(d.skipped for d in r.damage),
                        }
                        for r in results
                    ],
                    indent=2,
                )
            )
        elif not results:
            print("Nothing to sync: no journal is waiting for this store.")
        else:
            done = sum(r.applied for r in results)
            print(f"Synced {len(results)} journal(s), {done} operations, to {store.display_url}.")
        return 0 if all(r.complete for r in results) else 1
    finally:
        store.close()


def _journal_folder(path: Path) -> Path:
    path = path.expanduser().resolve()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise SyncError(f"no journal at {path}")
    return path


def _status(store: Any, journals: list[Any], fmt: str) -> int:
    rows = []
    for info in journals:
        created = info.header.get("created")
        rows.append(
            {
                "journal": str(info.path),
                "pid": info.header.get("pid"),
                "host": info.header.get("host"),
                "created": created,
                "bytes": info.size,
                "state": "logging (process running)" if info.alive else "waiting for sync",
            }
        )
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"No journals waiting for {store.display_url}.")
        return 0
    print(f"Journals of {store.display_url} ({store.journal_root}):")
    for row in rows:
        when = (
            datetime.fromtimestamp(row["created"] / 1000, tz=timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            )
            if row["created"]
            else "?"
        )
        print(
            f"  {Path(row['journal']).name}  pid {row['pid']} on {row['host']}, started {when}, "
            f"{row['bytes']} bytes: {row['state']}"
        )
    return 0
