"""The journal file format: records, segments, torn tails, claims."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from jupyter_mlops.store import journal as journal_module
from jupyter_mlops.store.journal import (
    FORMAT_VERSION,
    Damage,
    JournalError,
    JournalWriter,
    Position,
    claim_journal,
    list_journals,
    read_header,
    read_records,
    segments,
)

URL = "postgresql+psycopg://alice:s3cret@db.example:5432/runs"


def _ops(n: int, run_id: str = "r" * 32) -> list[tuple]:
    return [("m", run_id, "loss", float(i), 1_700_000_000_000 + i, i) for i in range(n)]


def test_records_read_back_as_written(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, URL)
    run_row = {"run_id": "a" * 32, "name": "x", "experiment_id": None, "pid": 7}
    first = [("run", run_row, [("lr", "0.1")], [], "exp"), *_ops(3)]
    second = [("m", "a" * 32, "nan", math.nan, 1, -(2**63)), ("update", "a" * 32, {"x": None})]
    journal.append(first)
    journal.append(second)
    records = list(read_records(journal.path, None))
    assert len(records) == 2 and records[0].ops == first
    assert records[1].ops[1] == second[1] and records[1].ops[0][:3] == second[0][:3]
    assert math.isnan(records[1].ops[0][3]) and records[1].ops[0][5] == -(2**63)
    assert records[0].end == records[1].offset
    header = read_header(journal.path / "000001.mlj")
    assert header["journal_id"] == journal.journal_id and header["segment"] == 1
    # the password never reaches the disk
    assert "s3cret" not in header["store"] and "db.example" in header["store"]
    assert b"s3cret" not in (journal.path / "000001.mlj").read_bytes()
    journal.remove()
    assert not journal.path.exists()


def test_reading_resumes_inside_a_record(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, URL)
    journal.append(_ops(5))
    second = journal.append(_ops(2, "b" * 32))
    start = Position(1, journal.first_position().offset, 3)
    records = list(read_records(journal.path, start))
    assert [len(r.ops) for r in records] == [2, 2]
    assert records[0].first == 3 and records[0].ops[0][5] == 3
    # positions count from the record's start, not from the resumed slice
    assert records[0].position_after(1) == Position(1, start.offset, 4)
    assert records[0].position_after(2) == Position(1, second.offset, 0)


def test_a_torn_or_corrupt_tail_ends_the_readable_part(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, URL)
    journal.append(_ops(10))
    last = journal.append(_ops(10, "c" * 32))
    journal.close()
    path = journal.path / "000001.mlj"
    data = path.read_bytes()
    path.write_bytes(data[: last.offset + 11])  # a write torn by a crash
    damage: list[Damage] = []
    records = list(read_records(journal.path, None, damage))
    assert len(records) == 1 and len(records[0].ops) == 10
    assert damage[0].offset == last.offset and damage[0].skipped == 11
    assert "incomplete record" in damage[0].message()
    # a flipped byte in the payload is caught by the checksum
    corrupt = bytearray(data)
    corrupt[last.offset + 20] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    damage = []
    assert len(list(read_records(journal.path, None, damage))) == 1
    assert damage[0].reason == "checksum mismatch"


def test_a_newer_format_is_refused_naming_the_version(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, URL)
    journal.append(_ops(1))
    journal.close()
    path = journal.path / "000001.mlj"
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 8, FORMAT_VERSION + 1)
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=f"format version {FORMAT_VERSION + 1}"):
        list(read_records(journal.path, None))


def test_segments_rotate_and_applied_ones_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 2_000)
    journal = JournalWriter(tmp_path, URL)
    for _ in range(6):
        journal.append(_ops(30))
    numbers = [n for n, _ in segments(journal.path)]
    assert len(numbers) >= 3 and numbers == list(range(1, len(numbers) + 1))
    assert sum(len(r.ops) for r in read_records(journal.path, None)) == 180
    journal.drop_segments_before(numbers[-1])
    assert [n for n, _ in segments(journal.path)] == [numbers[-1]]


def test_a_live_journal_cannot_be_claimed_and_a_released_one_can(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, URL)
    journal.append(_ops(1))
    assert claim_journal(journal.path) is None  # its process (this one) holds the lock
    [info] = list_journals(tmp_path)
    assert info.alive and info.header["pid"] > 0
    journal.close()  # as at the death of its process: the kernel releases the lock
    claim = claim_journal(journal.path)
    assert claim is not None
    assert claim_journal(journal.path) is None  # one claimant at a time
    claim.release()
    assert not list_journals(tmp_path)[0].alive


def test_an_unwritable_journal_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(JournalError, match="JUPYTER_MLOPS_JOURNAL"):
        JournalWriter(blocker / "journals", URL)


def test_journal_root_is_beside_a_sqlite_store_and_keyed_by_url_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_JOURNAL", raising=False)
    db = tmp_path / "runs.db"
    assert journal_module.journal_root(f"sqlite:///{db}") == tmp_path / "runs.db.journals"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    first = journal_module.journal_root(URL)
    assert first.parent == tmp_path / "data" / "mlops" / "journals"
    # the password is not part of the key: a changed password finds the same journals
    assert journal_module.journal_root(URL.replace("s3cret", "other")) == first
    assert journal_module.journal_root(URL.replace("/runs", "/other")) != first
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(tmp_path / "j"))
    assert journal_module.journal_root(URL).parent == tmp_path / "j"
