"""Applying journals left behind: by dead processes (at every store opening), offline runs
and other machines (``jupyter mlops sync``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .journal import (
    Claim,
    Damage,
    JournalError,
    JournalInfo,
    Position,
    claim_journal,
    keep_damaged,
    list_journals,
    read_records,
)
from .schema import journal_progress
from .writer import ReplayStopped, Writer

if TYPE_CHECKING:
    from .store import Store

# How long a replay retries a store that is unavailable before leaving the journal for later.
REPLAY_GIVE_UP_S = 30.0


@dataclass
class ReplayResult:
    """What applying one journal did."""

    path: Path
    applied: int = 0
    complete: bool = False
    error: str | None = None
    damage: list[Damage] = field(default_factory=list)


@dataclass
class _Ref:
    journal_id: str
    path: Path


def applied_position(store: Store, journal_id: str) -> Position | None:
    """How far ``journal_id`` is applied to ``store`` (None: not at all)."""
    assert store.engine is not None
    p = journal_progress.c
    with store.engine.connect() as conn:
        row = conn.execute(
            select(p.segment, p.offset, p.record_ops).where(p.journal_id == journal_id)
        ).first()
    return Position(*row) if row else None


def apply_journal(
    store: Store, claim: Claim, *, give_up_s: float = REPLAY_GIVE_UP_S
) -> ReplayResult:
    """Apply the claimed journal to ``store`` from where it was left; delete it when done."""
    path = claim.path
    result = ReplayResult(path)
    journal_id = path.name
    try:
        start = applied_position(store, journal_id)
    except SQLAlchemyError as exc:
        result.error = f"cannot read the store: {exc}"
        return result
    writer = Writer(
        store.engine,
        journal_root=store.journal_root,
        store_url=store.url,
        sqlite_path=store.sqlite_path,
        interval=store.writer.interval,
        batch_size=store.writer.batch_size,
    )
    writer.give_up_at = time.monotonic() + give_up_s
    try:
        result.applied = writer.replay(
            _Ref(journal_id, path), read_records(path, start, result.damage)
        )
    except ReplayStopped as exc:
        result.error = f"the store stayed unavailable ({exc}); the journal is kept"
        return result
    except (OSError, JournalError) as exc:
        result.error = f"cannot read the journal: {exc}"
        return result
    if result.damage:
        keep_damaged(result.damage)
    claim.remove()
    result.complete = True
    return result


def replay_orphans(store: Store, *, quiet: bool = False) -> list[ReplayResult]:
    """Apply the journals that dead processes left beside ``store`` (each exactly once: a
    journal is claimed with its lock, which only a dead owner has released)."""
    results: list[ReplayResult] = []
    root = store.journal_root
    if root is None or not root.is_dir():
        return results
    for candidate in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        claim = claim_journal(candidate)
        if claim is None:
            continue  # its process is alive (or another process is replaying it)
        with claim:
            result = apply_journal(store, claim)
        results.append(result)
        if not quiet:
            report(result)
    return results


def report(result: ReplayResult) -> None:
    import sys

    for damage in result.damage:
        print(damage.message(), file=sys.stderr)
    if result.error:
        print(f"jupyter-mlops: journal {result.path}: {result.error}", file=sys.stderr)
    elif result.applied:
        print(
            f"jupyter-mlops: wrote {result.applied} logged operations that a process left "
            f"in the journal {result.path}",
            file=sys.stderr,
        )


def journal_status(store_root: Path | None) -> list[JournalInfo]:
    """The journals not yet applied under a store's journal root."""
    return list_journals(store_root) if store_root is not None else []
