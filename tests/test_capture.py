"""What a run remembers: git commit and diff, package versions, notebook path, stdout tail."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.tracking import capture
from jupyter_mlops.tracking.capture import (
    MAX_DIFF_BYTES,
    StreamTail,
    environment_info,
    git_info,
    imported_package_versions,
    notebook_path,
)

GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.com",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run([*GIT, "init", "-q"], cwd=root, check=True)
    (root / "train.py").write_text("lr = 0.1\n")
    (root / "sub").mkdir()
    (root / "sub" / "notes.txt").write_text("hello\n")
    subprocess.run([*GIT, "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "first"], cwd=root, check=True)
    capture._git_cache.clear()
    return root


def _head(root: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_clean_repository(repo: Path) -> None:
    info = git_info(str(repo))
    assert info is not None
    assert info["commit"] == _head(repo)
    assert info["branch"] == "main"
    assert info["dirty"] is False
    assert info["diff"] == ""
    assert info["diff_truncated"] is False
    assert Path(info["root"]).resolve() == repo.resolve()


def test_dirty_diff_from_a_subdirectory_and_a_file_path(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.5\n")
    info = git_info(str(repo / "sub"))
    assert info is not None
    assert info["dirty"] is True
    assert "-lr = 0.1" in info["diff"] and "+lr = 0.5" in info["diff"]
    assert "train.py" in info["diff"]
    capture._git_cache.clear()
    by_file = git_info(str(repo / "sub" / "notes.txt"))  # a notebook's path works too
    assert by_file is not None and by_file["commit"] == info["commit"]


def test_untracked_files_do_not_make_it_dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("untracked\n")
    info = git_info(str(repo))
    assert info is not None and info["dirty"] is False


def test_diff_size_is_bounded(repo: Path) -> None:
    (repo / "train.py").write_text("".join(f"line {i} é\n" for i in range(60_000)))
    info = git_info(str(repo))
    assert info is not None
    assert info["dirty"] is True
    assert info["diff_truncated"] is True
    assert len(info["diff"].encode()) <= MAX_DIFF_BYTES
    assert len(info["diff"].encode()) > MAX_DIFF_BYTES - 10


def test_repository_without_commits(tmp_path: Path) -> None:
    subprocess.run([*GIT, "init", "-q"], cwd=tmp_path, check=True)
    capture._git_cache.clear()
    info = git_info(str(tmp_path))
    assert info is not None
    assert info["commit"] is None
    assert info["diff"] == ""


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    capture._git_cache.clear()
    assert git_info(str(tmp_path)) is None
    assert git_info(str(tmp_path / "does-not-exist")) is None


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere
    capture._git_cache.clear()
    assert git_info(str(tmp_path)) is None


def test_package_versions() -> None:
    import pandas
    import sqlalchemy

    versions = {k.lower(): v for k, v in imported_package_versions().items()}
    assert versions["pandas"] == pandas.__version__
    assert versions["sqlalchemy"] == sqlalchemy.__version__
    assert "pytest" in versions
    env = environment_info()
    assert env["python"] == sys.version.split()[0]
    assert env["executable"] == sys.executable
    assert env["packages"]


def test_notebook_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("JUPYTER_MLOPS_NOTEBOOK", "JPY_SESSION_NAME"):
        monkeypatch.delenv(var, raising=False)
    assert notebook_path({}) is None
    assert notebook_path({"__vsc_ipynb_file__": "/w/a.ipynb"}) == "/w/a.ipynb"
    assert notebook_path({"__session__": "/w/b.ipynb"}) == "/w/b.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "/w/c.ipynb")
    assert notebook_path({}) == "/w/c.ipynb"
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK", "/w/d.ipynb")
    assert notebook_path(None) == "/w/d.ipynb"
    assert notebook_path({"__session__": "console-1"}) == "/w/d.ipynb"


def test_stream_tail_passes_through_and_keeps_the_end() -> None:
    sink = io.StringIO()
    tail = StreamTail(sink, limit=10)
    assert tail.write("hello ") == 6
    tail.write("world")
    assert sink.getvalue() == "hello world"
    assert tail.tail() == "ello world"
    for i in range(1000):
        tail.write(f"{i}\n")
    assert tail.tail() == "\n997\n998\n999\n"[-10:]
    assert len(tail._chunks) < 20  # old chunks are dropped, not kept forever
    tail.write("")
    tail.flush()  # other attributes reach the wrapped stream
    assert tail.getvalue().endswith("999\n")


def test_stream_tail_with_one_huge_write() -> None:
    tail = StreamTail(io.StringIO(), limit=100)
    tail.write("x" * 10_000 + "END")
    assert tail.tail() == ("x" * 10_000 + "END")[-100:]


def test_format_traceback_is_plain_and_hides_jupyter_mlops_frames(tmp_store: str) -> None:
    import jupyter_mlops as mlops
    from jupyter_mlops.tracking.capture import format_traceback

    def user_code() -> None:
        with mlops.start_run():
            mlops.log_metric("loss", "not a number")

    with pytest.raises(ValueError) as info:
        user_code()
    text = format_traceback(info.value)
    assert text.startswith("Traceback (most recent call last):\n")
    assert "in user_code\n" in text and 'mlops.log_metric("loss", "not a number")' in text
    assert "jupyter_mlops/" not in text  # no frame of the package's files
    assert text.rstrip().endswith("must be a number, got str 'not a number'.")
    # an error inside jupyter-mlops alone keeps its frames (hiding would leave none)
    from jupyter_mlops.tracking.run import metric_value

    with pytest.raises(ValueError) as info:
        metric_value("k", None)
    assert "metric_value" in format_traceback(info.value)


def test_strip_ansi_and_output_tail() -> None:
    from jupyter_mlops.tracking.capture import output_tail, strip_ansi

    coloured = "\x1b[0;31mValueError\x1b[0m: bad \x1b]8;;file:///x\x1b\\link\x1b]8;;\x1b\\"
    assert strip_ansi(coloured) == "ValueError: bad link"
    assert output_tail("out", "") == "out"
    assert output_tail("", "err") == "[stderr]\nerr"
    assert output_tail("a" * 20, "b", limit=5) == "aaaaa\n[stderr]\nb"
