"""The database file of a SQLite store, watched: deleted or replaced under a running process.

Writes to a SQLite file that was deleted (or moved, or replaced by a restore) would go on into
the unlinked file and vanish. The writer checks the file's identity (device, inode) before
and after each transaction: a missing file is an outage (``StoreFileGone``, retried until a
database is at the path again), and another file at the path is a new store, which gets this
process's whole journal again (``StoreReplaced``).
"""

from __future__ import annotations

import os


class StoreReplaced(Exception):
    """The SQLite database file was replaced by another one (restored, or new)."""


class StoreFileGone(Exception):
    """The SQLite database file is not where the store was opened (deleted or moved)."""


def file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None when there is none."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class StoreFile:
    """The file a SQLite store was opened on (``path`` None: not a SQLite file store)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.identity = file_identity(path)

    def replacement(self) -> tuple[int, int] | None:
        """None while the file at ``path`` is the one in use; the identity of another file
        found there (``use`` it once switched to). Raises StoreFileGone when none is."""
        if self.path is None:
            return None
        identity = file_identity(self.path)
        if identity == self.identity:
            return None
        if identity is None:
            raise StoreFileGone(f"the database file {self.path} was deleted")
        return identity

    def use(self, identity: tuple[int, int]) -> None:
        self.identity = identity
