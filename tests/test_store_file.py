"""The watch on a SQLite store's database file (``jupyter_mlops.store.store_file``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlops.store.store_file import StoreFile, StoreFileGone, file_identity


def test_the_same_file_is_no_replacement_a_deleted_one_is_gone_a_new_one_is_used(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mlops.db"
    path.write_bytes(b"first")
    watched = StoreFile(str(path))
    assert watched.identity == file_identity(str(path)) is not None
    assert watched.replacement() is None
    path.write_bytes(b"rewritten in place")  # the same file: not a replacement
    assert watched.replacement() is None
    moved = tmp_path / "moved.db"
    path.rename(moved)
    with pytest.raises(StoreFileGone, match="was deleted"):
        watched.replacement()
    path.write_bytes(b"restored from a backup")  # another file at the path
    moved.unlink()
    new = watched.replacement()
    assert new is not None and new != watched.identity
    watched.use(new)
    assert watched.replacement() is None


def test_a_store_without_a_file_is_never_checked() -> None:
    watched = StoreFile(None)
    assert watched.identity is None and watched.replacement() is None
