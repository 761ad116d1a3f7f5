"""``jupyter mlops runs archive|restore|purge|rename|note|tag`` (cli/manage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.tracking import fluent


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def runs(tmp_store: str) -> dict[str, str]:
    with mlops.start_run("parent") as parent, mlops.start_run("child") as child:
        pass
    with mlops.start_run("other") as other:
        pass
    mlops.flush()
    fluent.reset()  # the CLI opens the store itself
    return {"parent": parent.run_id, "child": child.run_id, "other": other.run_id}


def stage(run_id: str) -> str:
    return mlops.get_run(run_id).lifecycle_stage


def test_archive_restore_purge(capsys: pytest.CaptureFixture[str], runs: dict) -> None:
    code, out, _ = cli(capsys, "runs", "archive", runs["parent"][:20])  # a prefix
    assert code == 0 and "2 run(s) archived" in out and runs["child"] in out
    assert (stage(runs["parent"]), stage(runs["child"])) == ("deleted", "deleted")
    code, out, _ = cli(capsys, "runs", "list")
    assert "parent" not in out and "other" in out
    code, out, _ = cli(capsys, "runs", "restore", runs["parent"], "--no-children")
    assert code == 0 and "1 run(s) restored" in out
    assert (stage(runs["parent"]), stage(runs["child"])) == ("active", "deleted")
    # purge: only archived runs, only with --yes
    code, _, err = cli(capsys, "runs", "purge", runs["other"], "--yes")
    assert code == 2 and "not archived" in err
    cli(capsys, "runs", "archive", runs["other"])
    code, out, err = cli(capsys, "runs", "purge", runs["other"])
    assert code == 2 and "Would delete" in out and "--yes" in err
    assert stage(runs["other"]) == "deleted"  # still there
    code, out, _ = cli(capsys, "runs", "purge", runs["other"], "--yes")
    assert code == 0 and "Deleted 1 run(s)" in out
    with pytest.raises(mlops.RunNotFoundError):
        mlops.get_run(runs["other"])


def test_rename_note_tag(
    capsys: pytest.CaptureFixture[str], runs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = runs["other"]
    assert cli(capsys, "runs", "rename", run_id, "best")[0] == 0
    assert mlops.get_run(run_id).name == "best"
    assert cli(capsys, "runs", "note", run_id, "# Note")[0] == 0
    assert mlops.get_run(run_id).note == "# Note"
    note = tmp_path / "note.md"
    note.write_text("from *file*\n")
    assert cli(capsys, "runs", "note", run_id, "--file", str(note))[0] == 0
    assert mlops.get_run(run_id).note == "from *file*\n"
    assert cli(capsys, "runs", "note", run_id, "--clear")[0] == 0
    assert mlops.get_run(run_id).note is None
    assert cli(capsys, "runs", "tag", run_id, "a=1", "b=x=y")[0] == 0
    assert mlops.get_run(run_id).tags == {"a": "1", "b": "x=y"}
    assert cli(capsys, "runs", "tag", run_id, "--delete", "a")[0] == 0
    assert mlops.get_run(run_id).tags == {"b": "x=y"}


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "tag", "{id}", "novalue"],
        ["runs", "tag", "{id}"],
        ["runs", "rename", "{id}", " "],
        ["runs", "note", "{id}", "--file", "/no/such/file.md"],
        ["runs", "archive", "ffffffffffff"],
        ["runs", "rename", "zz-not-hex", "x"],
    ],
)
def test_bad_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], runs: dict, argv: list[str]
) -> None:
    code, _, err = cli(capsys, *[a.replace("{id}", runs["other"]) for a in argv])
    assert code == 2 and "error" in err
    record = mlops.get_run(runs["other"])
    assert (record.name, record.tags, record.note, record.lifecycle_stage) == (
        "other",
        {},
        None,
        "active",
    )
