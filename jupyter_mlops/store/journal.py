"""The local journal: every queued operation is appended to a file before it reaches the store.

Each process that logs owns one journal, a directory ``<journal root>/<journal id>/`` holding
a ``lock`` file (``flock``-ed by the owner for its whole life: the kernel releases it when the
process dies, however it dies) and segment files ``000001.mlj``, ``000002.mlj``, ... written
append-only by the writer thread at least every 0.1 s. A write that has reached the OS page
cache survives a SIGKILL of the process.

The store records, in the same transaction as the operations it applies, how far each
journal has been applied (table ``journal_progress``: segment, byte offset of the next record,
and how many operations of that record are already applied). So a journal can be replayed,
by its owner after an outage, by any process opening the store after the owner died, or by
``jupyter mlops sync``, and every operation is applied exactly once.

Segment file format (version 2), all integers little-endian:

  header   8 bytes  b"MLOPSJNL"
           2 bytes  format version (2; version 1 is read too: it had no ``points`` operation)
           4 bytes  length N of the JSON header
           N bytes  JSON: {"journal_id", "segment", "pid", "host", "python", "store",
                           "created"} (store: the URL without its password)
  records  4 bytes  length L of the payload
           4 bytes  CRC-32 of the payload
           L bytes  payload: Python ``marshal`` (version 4) of a list of operation tuples
                    (their layouts: ``ops.py``)

A record whose length, checksum or payload is incomplete or wrong (a torn write at a crash, a
damaged disk) ends the readable part of a segment: everything before it is applied, and the
user is told how many bytes were not readable. A new segment starts when one passes
``SEGMENT_BYTES``; segments are deleted once everything in them is committed, and the whole
journal when its process ends with everything committed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import marshal
import os
import shutil
import socket
import struct
import sys
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.engine import make_url

from ..config import JOURNAL_ENV, env
from ..exceptions import StoreError
from .ids import now_ms
from .ops import ops_weight

FORMAT_VERSION = 2
MAGIC = b"MLOPSJNL"
_HEADER = struct.Struct("<8sHI")
_RECORD = struct.Struct("<II")
SEGMENT_BYTES = 64 * 1024 * 1024
SEGMENT_SUFFIX = ".mlj"
REJECTED_FILE = "rejected.jsonl"
DAMAGED_SUFFIX = ".damaged"


class JournalError(StoreError):
    """A journal cannot be created, read or applied."""


class Position(NamedTuple):
    """Where applying a journal stands: the record at ``offset`` of ``segment``, of which
    ``done`` operations are already applied."""

    segment: int
    offset: int
    done: int


@dataclass
class Record:
    """One record read from (or just written to) a journal."""

    segment: int
    offset: int
    end: int  # offset of the next record in the same segment
    ops: list[tuple[Any, ...]] | None  # None: not kept in memory, read it back from the file
    first: int = 0  # operations of the record already applied before ``ops`` (a resume)
    weight: int = -1  # ``ops_weight`` of ``ops``; -1: not counted yet

    def size(self) -> int:
        """How much writing the record is (``ops_weight``): what batches and the memory
        bound count. 0 when its operations are not in memory and were never counted."""
        if self.weight < 0:
            self.weight = ops_weight(self.ops) if self.ops is not None else 0
        return self.weight

    def position_after(self, count: int) -> Position:
        """The position once the first ``count`` operations of ``ops`` are applied."""
        total = len(self.ops) if self.ops is not None else -1
        if count >= total:
            return Position(self.segment, self.end, 0)
        return Position(self.segment, self.offset, self.first + count)


def journal_root(store_url: str) -> Path:
    """Where the journals of the store at ``store_url`` live: ``JUPYTER_MLOPS_JOURNAL`` when
    set; beside a SQLite database (``mlops.db`` -> ``mlops.db.journals/``); else in the
    Jupyter data dir, in a folder named after the URL (without its password)."""
    override = env(JOURNAL_ENV)
    url = make_url(store_url)
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()
    if override:
        return Path(override).expanduser().resolve() / key[:16]
    if url.get_backend_name() == "sqlite" and url.database and not url.database.startswith("file:"):
        database = Path(url.database)
        return database.with_name(database.name + ".journals")
    from ..config import default_root

    return default_root() / "journals" / key[:16]


def public_url(store_url: str) -> str:
    """The URL with its password hidden (journals never hold the password)."""
    return make_url(store_url).render_as_string(hide_password=True)


class JournalWriter:
    """This process's journal: created on first use, appended to by the writer thread."""

    def __init__(self, root: Path, store_url: str) -> None:
        self.root = root
        self.store = public_url(store_url)
        self.journal_id = f"{os.getpid()}-{uuid.uuid4().hex[:16]}"
        self.path = root / self.journal_id
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.segment = 0
        self.size = 0
        self._create()

    def _create(self) -> None:
        # Made under a hidden name, locked, then renamed: another process scanning for
        # journals of dead processes must never see this one unlocked.
        hidden = self.root / f".{self.journal_id}.new"
        try:
            hidden.mkdir(parents=True)
            self._lock_fd = os.open(hidden / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, self.path)
        except OSError as exc:
            self._close_fds()
            shutil.rmtree(hidden, ignore_errors=True)
            raise JournalError(
                f"Cannot create the journal in {self.root}: {exc}. Set {JOURNAL_ENV} to a "
                "writable folder."
            ) from None
        self._open_segment(1)

    def _open_segment(self, number: int) -> None:
        header = json.dumps(
            {
                "journal_id": self.journal_id,
                "segment": number,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "python": sys.version.split()[0],
                "store": self.store,
                "created": now_ms(),
            }
        ).encode()
        path = self.path / f"{number:06d}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        data = _HEADER.pack(MAGIC, FORMAT_VERSION, len(header)) + header
        _write_all(fd, data)
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self.segment, self.size = fd, number, len(data)

    def append(self, ops: list[tuple[Any, ...]]) -> Record:
        """Append one record; returns where it is. Raises OSError (disk full, ...)."""
        payload = marshal.dumps(ops, 4)
        data = _RECORD.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self._fd is None:
                raise JournalError(f"journal {self.path} is closed")
            if self.size > SEGMENT_BYTES:
                self._open_segment(self.segment + 1)
            start = self.size
            _write_all(self._fd, data)
            self.size += len(data)
            return Record(self.segment, start, self.size, ops)

    def first_position(self) -> Position:
        return Position(1, _first_record_offset(self.path / f"{1:06d}{SEGMENT_SUFFIX}"), 0)

    def drop_segments_before(self, segment: int) -> None:
        """Delete segments that are wholly applied (never the one being written)."""
        with self._lock:
            limit = min(segment, self.segment)
        for path in sorted(self.path.glob(f"*{SEGMENT_SUFFIX}")):
            number = _segment_number(path)
            if number is not None and number < limit:
                with contextlib.suppress(OSError):
                    path.unlink()

    def remove(self) -> None:
        """Everything is applied: delete the journal and release it."""
        with self._lock:
            self._close_fds()
            shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        """Keep the files (operations not yet applied) and release the lock, so the next
        process opening the store replays them."""
        with self._lock:
            self._close_fds()

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's journal is the parent's. Closing our copies of its
        descriptors leaves the parent's lock in place (it is held while any copy is open)."""
        self._close_fds()

    def _close_fds(self) -> None:
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _segment_number(path: Path) -> int | None:
    stem = path.name[: -len(SEGMENT_SUFFIX)] if path.name.endswith(SEGMENT_SUFFIX) else ""
    return int(stem) if stem.isdigit() else None


def _first_record_offset(path: Path) -> int:
    with open(path, "rb") as handle:
        head = handle.read(_HEADER.size)
        if len(head) < _HEADER.size:
            raise JournalError(f"{path} is not a journal segment (too short)")
        magic, version, length = _HEADER.unpack(head)
        if magic != MAGIC:
            raise JournalError(f"{path} is not a jupyter-mlops journal segment")
        if version > FORMAT_VERSION:
            raise JournalError(
                f"{path} has journal format version {version}; this jupyter-mlops reads up to "
                f"{FORMAT_VERSION}. Upgrade jupyter-mlops to apply it."
            )
        return _HEADER.size + length


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a segment file."""
    offset = _first_record_offset(path)
    with open(path, "rb") as handle:
        handle.seek(_HEADER.size)
        return json.loads(handle.read(offset - _HEADER.size))


@dataclass
class Damage:
    """An unreadable tail: where it starts and how many bytes were skipped."""

    segment_path: Path
    offset: int
    skipped: int
    reason: str

    def message(self) -> str:
        return (
            f"jupyter-mlops: journal segment {self.segment_path} has {self.skipped} unreadable "
            f"bytes at offset {self.offset} ({self.reason}; a write torn by a crash?). "
            "Everything before them was applied; the segment is kept as "
            f"{self.segment_path.name}{DAMAGED_SUFFIX}."
        )


def segments(journal: Path) -> list[tuple[int, Path]]:
    found = [(_segment_number(p), p) for p in journal.glob(f"*{SEGMENT_SUFFIX}")]
    return sorted((n, p) for n, p in found if n is not None)


def read_records(
    journal: Path, start: Position | None, damage: list[Damage] | None = None
) -> Iterator[Record]:
    """Records of ``journal`` from ``start`` (None: the beginning), in order. A damaged tail
    ends its segment; it is reported in ``damage``."""
    for number, path in segments(journal):
        if start is not None and number < start.segment:
            continue
        first = _first_record_offset(path)
        offset, skip = first, 0
        if start is not None and number == start.segment:
            offset, skip = max(first, start.offset), start.done
        for record in _segment_records(number, path, offset, damage):
            if skip and record.ops is not None:
                record.ops, record.first, record.weight = record.ops[skip:], skip, -1
                skip = 0
            yield record


def read_record(journal: Path, segment: int, offset: int) -> Record:
    """The one record at ``offset`` of ``segment`` (read back after it left memory)."""
    path = journal / f"{segment:06d}{SEGMENT_SUFFIX}"
    for record in _segment_records(segment, path, offset, None):
        return record
    raise JournalError(f"no whole record at offset {offset} of {path}")


def _segment_records(
    number: int, path: Path, offset: int, damage: list[Damage] | None
) -> Iterator[Record]:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        while offset < size:
            head = handle.read(_RECORD.size)
            reason = None
            if len(head) < _RECORD.size:
                reason = "incomplete record header"
            else:
                length, crc = _RECORD.unpack(head)
                payload = handle.read(length)
                if len(payload) < length:
                    reason = "incomplete record"
                elif zlib.crc32(payload) != crc:
                    reason = "checksum mismatch"
                else:
                    try:
                        ops = marshal.loads(payload)
                    except (EOFError, ValueError, TypeError) as exc:
                        reason = f"undecodable record: {exc}"
                    else:
                        end = offset + _RECORD.size + length
                        yield Record(number, offset, end, ops)
                        offset = end
                        continue
            if damage is not None:
                damage.append(Damage(path, offset, size - offset, reason))
            return


# -- journals of other processes ---------------------------------------------------------------


@dataclass
class JournalInfo:
    """A journal found in a journal root."""

    path: Path
    journal_id: str
    header: dict[str, Any]
    alive: bool  # its process still holds the lock
    size: int  # bytes of its segments


def list_journals(root: Path) -> list[JournalInfo]:
    """The journals under ``root`` (those of live processes too), oldest first."""
    found: list[JournalInfo] = []
    if not root.is_dir():
        return found
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue
        parts = segments(path)
        header: dict[str, Any] = {}
        if parts:
            with contextlib.suppress(OSError, ValueError, JournalError):
                header = read_header(parts[0][1])
        size = sum(p.stat().st_size for _, p in parts if p.exists())
        claim = claim_journal(path)
        alive = claim is None
        if claim is not None:
            claim.release()
        found.append(JournalInfo(path, path.name, header, alive, size))
    found.sort(key=lambda info: (info.header.get("created", 0), info.journal_id))
    return found


class Claim:
    """The lock of a journal whose process is gone, held while it is replayed."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """The journal is applied: delete it, then release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_journal(path: Path) -> Claim | None:
    """The journal's lock when no process holds it (its owner is gone), else None."""
    try:
        fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return Claim(path, fd)


def keep_damaged(damage: list[Damage]) -> None:
    """Keep damaged segments beside the journal folder, so nothing is destroyed unseen."""
    for item in damage:
        target = item.segment_path.parent.parent / (
            f"{item.segment_path.parent.name}-{item.segment_path.name}{DAMAGED_SUFFIX}"
        )
        with contextlib.suppress(OSError):
            shutil.copy2(item.segment_path, target)


def record_rejected(root: Path, entries: list[dict[str, Any]]) -> Path:
    """Append refused operations to ``<journal root>/rejected.jsonl``; returns its path."""
    path = root / REJECTED_FILE
    root.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, default=repr) + "\n")
    return path
