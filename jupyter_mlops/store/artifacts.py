"""Artifact storage on any fsspec URL (a local directory by default).

Layout: ``<root>/<run_id>/<relative path>``. Paths given by users or HTTP clients are checked
by :func:`safe_relative_path` so nothing outside a run's folder can be read or written.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import IO

import fsspec

from ..exceptions import InvalidParameterError, StoreError


def safe_relative_path(path: str) -> str:
    """Normalise an artifact path; refuse absolute paths and anything escaping with ``..``."""
    if not isinstance(path, str) or not path.strip():
        raise InvalidParameterError("Artifact path is empty.")
    if "\x00" in path:
        raise InvalidParameterError("Artifact path contains a NUL byte.")
    candidate = path.replace("\\", "/")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        raise InvalidParameterError(f"Artifact path must be relative: {path!r}.")
    normal = posixpath.normpath(candidate)
    if normal == ".." or normal.startswith("../") or normal == ".":
        raise InvalidParameterError(f"Artifact path leaves the run's artifact folder: {path!r}.")
    return normal


def safe_run_id(run_id: str) -> str:
    """A run id used as one folder name: no separators, not ``.``/``..``, not empty."""
    if (
        not isinstance(run_id, str)
        or not run_id.strip()
        or run_id in (".", "..")
        or any(c in run_id for c in "/\\\x00")
    ):
        raise InvalidParameterError(f"Invalid run id {run_id!r}.")
    return run_id


def _within(folder: str, target: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(target)]) == folder


class ArtifactStore:
    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.root_url)

    def run_uri(self, run_id: str) -> str:
        return f"{self.root_url}/{safe_run_id(run_id)}"

    def _full(self, run_id: str, relative: str) -> str:
        return posixpath.join(self.root, safe_run_id(run_id), safe_relative_path(relative))

    def put(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[tuple[str, int]]:
        """Copy a file or a directory tree; returns (relative path, size) of each file."""
        if not isinstance(local_path, (str, os.PathLike)) or not os.fspath(local_path):
            raise InvalidParameterError(
                f"Artifact path must be a file or directory path, got {local_path!r}."
            )
        source = Path(local_path)
        if not source.exists():
            raise InvalidParameterError(f"Artifact {str(source)!r} does not exist.")
        if not source.is_file() and not source.is_dir():
            # /dev/null, a FIFO, a socket: nothing would be stored, and no error said so.
            raise InvalidParameterError(
                f"Artifact {str(source)!r} is not a regular file or a directory."
            )
        base = safe_relative_path(artifact_path) if artifact_path else None
        stored: list[tuple[str, int]] = []
        if source.is_file():
            files = [source]
        else:
            files = sorted(p for p in source.rglob("*") if p.is_file())
        for file in files:
            relative = file.name if source.is_file() else file.relative_to(source).as_posix()
            if source.is_dir():
                relative = posixpath.join(source.name, relative)
            if base:
                relative = posixpath.join(base, relative)
            target = self._full(run_id, relative)
            try:
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                self.fs.put_file(str(file), target)
            except OSError as exc:  # unwritable root, unreadable file, full disk...
                raise StoreError(
                    f"Cannot store artifact {str(file)!r} in {self.root_url!r}: "
                    f"{exc.strerror or exc}."
                ) from None
            stored.append((relative, file.stat().st_size))
        return stored

    def put_bytes(self, run_id: str, relative: str, data: bytes) -> tuple[str, int]:
        target = self._full(run_id, relative)
        try:
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            with self.fs.open(target, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise StoreError(
                f"Cannot store artifact {relative!r} in {self.root_url!r}: {exc.strerror or exc}."
            ) from None
        return safe_relative_path(relative), len(data)

    def open(self, run_id: str, relative: str) -> IO[bytes]:
        target = self._full(run_id, relative)
        if self._is_local() and not _within(posixpath.join(self.root, run_id), target):
            # On local disk a symlink inside the run folder must not lead out of it.
            raise FileNotFoundError(relative)
        if not self.fs.isfile(target):
            raise FileNotFoundError(relative)
        return self.fs.open(target, "rb")

    def _is_local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def list(self, run_id: str) -> list[tuple[str, int]]:
        folder = posixpath.join(self.root, safe_run_id(run_id))
        if not self.fs.exists(folder):
            return []
        found = []
        local = self._is_local()
        for full, info in self.fs.find(folder, detail=True).items():
            if local and not _within(folder, full):
                continue  # a symlink leading out of the run's folder: not the run's to list
            relative = posixpath.relpath(full, folder)
            found.append((relative, int(info.get("size") or 0)))
        return sorted(found)

    def delete_run(self, run_id: str) -> None:
        """Remove a run's artifact folder and everything in it (purging a run)."""
        folder = posixpath.join(self.root, safe_run_id(run_id))
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)
