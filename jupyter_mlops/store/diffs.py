"""Git diffs stored once, not once per run.

A run captures its git state; with a dirty working tree that includes the diff, often tens or
hundreds of kB. A sweep of 10,000 runs from one checkout would store the same diff 10,000
times (a gigabyte, and most of the sweep's time). So the run's ``git`` JSON keeps the commit,
branch and dirty flag with the diff's SHA-256 (``diff_sha256``), and table ``git_diffs``
holds each distinct diff once. A process sends a diff's text with the first run that uses
it (inside that run's ``update`` operation, under ``UPDATE_KEY``); later runs send the digest
only. Reading a run puts the text back under ``diff``, so records look as they always did.
Runs written before schema 0004 keep their diff inline, and read as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from .schema import git_diffs, runs

DIGEST_KEY = "diff_sha256"
# Key of an ``update`` operation's values that carries (digest, diff) to store once.
UPDATE_KEY = "git_diff"


def git_columns(git: dict[str, Any] | None, sent: set[str]) -> dict[str, Any]:
    """The run columns for a captured ``git`` state: ``{"git": json}``, plus the diff to
    store under ``UPDATE_KEY`` when its digest is not in ``sent`` (then added to it)."""
    if not git:
        return {"git": None}
    diff = git.get("diff")
    if not diff:
        return {"git": json.dumps(git)}
    digest = _digest(diff)
    shown = {k: v for k, v in git.items() if k != "diff"}
    shown[DIGEST_KEY] = digest
    columns: dict[str, Any] = {"git": json.dumps(shown)}
    if digest not in sent:
        columns[UPDATE_KEY] = (digest, diff)
        sent.add(digest)
    return columns


_last: tuple[str, str] | None = None  # (diff, digest): a sweep captures the same diff again


def _digest(diff: str) -> str:
    global _last
    last = _last
    if last is not None and last[0] == diff:  # identity first, else one memcmp
        return last[1]
    digest = hashlib.sha256(diff.encode("utf-8", "surrogatepass")).hexdigest()
    _last = (diff, digest)
    return digest


def with_diff(conn: Connection, git: Any) -> Any:
    """A run's stored ``git`` with its diff text back under ``diff``. A diff that is not in
    the store reads as None (its first run's update was refused, or the store was replaced
    under the process that logged it)."""
    if not isinstance(git, dict) or DIGEST_KEY not in git:
        return git
    digest = git.pop(DIGEST_KEY)
    git["diff"] = conn.execute(
        select(git_diffs.c.diff).where(git_diffs.c.digest == digest)
    ).scalar()
    return git


def digests_of(conn: Connection, run_ids: Sequence[str]) -> set[str]:
    """The diffs the given runs refer to."""
    found = set()
    for (text,) in conn.execute(select(runs.c.git).where(runs.c.run_id.in_(run_ids))):
        try:
            digest = json.loads(text).get(DIGEST_KEY) if text else None
        except (ValueError, AttributeError):
            digest = None
        if isinstance(digest, str):
            found.add(digest)
    return found


def drop_unreferenced(conn: Connection, digests: Iterable[str]) -> None:
    """Delete the given diffs that no remaining run refers to (after a purge)."""
    for digest in digests:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            continue  # never a LIKE pattern from stored text that is not a digest
        used = conn.execute(
            select(runs.c.run_id).where(runs.c.git.like(f'%"{DIGEST_KEY}": "{digest}"%')).limit(1)
        ).first()
        if used is None:
            conn.execute(delete(git_diffs).where(git_diffs.c.digest == digest))
