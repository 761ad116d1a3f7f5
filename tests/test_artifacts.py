"""Artifact storage on fsspec: layout, listing, and refusal of paths leaving a run's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import InvalidParameterError
from jupyter_mlops.store.artifacts import ArtifactStore, safe_relative_path

RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("model.pkl", "model.pkl"),
        ("a/b/../c.txt", "a/c.txt"),
        ("./x//y", "x/y"),
        ("dir\\file.txt", "dir/file.txt"),
        ("..hidden", "..hidden"),
    ],
)
def test_safe_relative_path_normalises(path: str, normal: str) -> None:
    assert safe_relative_path(path) == normal


@pytest.mark.parametrize(
    "path",
    [
        "../secret",
        "a/../../secret",
        "..",
        "/etc/passwd",
        "\\\\server\\share",
        "C:\\evil",
        "c:/evil",
        ".",
        "",
        "   ",
        "a/\x00b",
        "x/../..",
        "..\\..\\evil",
    ],
)
def test_path_traversal_is_refused(path: str) -> None:
    with pytest.raises(InvalidParameterError):
        safe_relative_path(path)


def test_put_list_open_roundtrip(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "root"))
    single = tmp_path / "model.txt"
    single.write_text("weights")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"\x89PNG")
    (folder / "sub" / "b.csv").write_text("x,y\n")

    assert store.put(RUN, single) == [("model.txt", 7)]
    assert store.put(RUN, folder, "figures") == [
        ("figures/plots/a.png", 4),
        ("figures/plots/sub/b.csv", 4),
    ]
    assert store.put_bytes(RUN, "notes/readme.md", b"hello") == ("notes/readme.md", 5)
    assert store.list(RUN) == [
        ("figures/plots/a.png", 4),
        ("figures/plots/sub/b.csv", 4),
        ("model.txt", 7),
        ("notes/readme.md", 5),
    ]
    with store.open(RUN, "model.txt") as handle:
        assert handle.read() == b"weights"
    assert (tmp_path / "root" / RUN / "figures" / "plots" / "sub" / "b.csv").exists()
    assert store.run_uri(RUN) == f"{tmp_path / 'root'}/{RUN}"
    assert store.list("f" * 32) == []
    with pytest.raises(FileNotFoundError):
        store.open(RUN, "missing.txt")
    with pytest.raises(InvalidParameterError, match="does not exist"):
        store.put(RUN, tmp_path / "nope")


def test_store_refuses_to_escape_the_run_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root))
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (root / "other-run").mkdir(parents=True)
    (root / "other-run" / "x.txt").write_text("not yours")
    source = tmp_path / "f.txt"
    source.write_text("data")

    for bad in ("../secret.txt", "../../secret.txt", "/etc/passwd", "../other-run/x.txt"):
        with pytest.raises(InvalidParameterError):
            store.open(RUN, bad)
        with pytest.raises(InvalidParameterError):
            store.put_bytes(RUN, bad, b"overwrite")
    with pytest.raises(InvalidParameterError):
        store.put(RUN, source, "../../escaped")
    # the run id is a path segment too
    for bad_run in ("..", "../other-run", "a/b", "", "/abs", "."):
        with pytest.raises(InvalidParameterError):
            store.open(bad_run, "x.txt")
        with pytest.raises(InvalidParameterError):
            store.put_bytes(bad_run, "x.txt", b"overwrite")
        with pytest.raises(InvalidParameterError):
            store.list(bad_run)
    assert secret.read_text() == "top secret"
    assert (root / "other-run" / "x.txt").read_text() == "not yours"
    assert not (tmp_path / "escaped").exists()


def test_symlink_leading_out_of_the_run_folder_is_not_opened(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root))
    (tmp_path / "secret.txt").write_text("top secret")
    store.put_bytes(RUN, "ok.txt", b"fine")
    (root / RUN / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FileNotFoundError):
        store.open(RUN, "link.txt")
    with store.open(RUN, "ok.txt") as handle:
        assert handle.read() == b"fine"
    # nor listed: the listing would tell the size of a file outside the store
    assert store.list(RUN) == [("ok.txt", 4)]
    (root / RUN / "etc").symlink_to("/etc", target_is_directory=True)
    assert store.list(RUN) == [("ok.txt", 4)]


def test_memory_filesystem(tmp_path: Path) -> None:
    store = ArtifactStore("memory://jupyter-mlops-test-artifacts")
    store.put_bytes(RUN, "a/b.txt", b"abc")
    assert store.list(RUN) == [("a/b.txt", 3)]
    with store.open(RUN, "a/b.txt") as handle:
        assert handle.read() == b"abc"


def test_log_artifact_through_the_api(tmp_store: str, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00" * 1024)
    with mlops.start_run("artifacts") as run:
        assert mlops.log_artifact(model) == ["model.bin"]
        assert mlops.log_artifact(str(model), artifact_path="models/v1") == ["models/v1/model.bin"]
        with pytest.raises(InvalidParameterError):
            mlops.log_artifact(model, artifact_path="../../outside")
        with pytest.raises(InvalidParameterError, match="does not exist"):
            mlops.log_artifact(tmp_path / "missing.bin")
    loaded = mlops.get_run(run.run_id)
    assert loaded.artifacts == [("model.bin", 1024), ("models/v1/model.bin", 1024)]
    assert (tmp_path / "artifacts" / run.run_id / "models" / "v1" / "model.bin").exists()
    assert not (tmp_path / "outside").exists()
    with pytest.raises(mlops.NoActiveRunError):
        mlops.log_artifact(model)


@pytest.mark.parametrize("path", [None, 5, ""])
def test_log_artifact_of_a_non_path_is_a_clear_error(tmp_store: str, path: object) -> None:
    with mlops.start_run(), pytest.raises(InvalidParameterError, match="must be a file or"):
        mlops.log_artifact(path)  # type: ignore[arg-type]


def test_log_artifact_of_a_special_file_is_an_error_not_nothing(
    tmp_store: str, tmp_path: Path
) -> None:
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with mlops.start_run() as run:
        for special in (fifo, Path("/dev/null")):
            with pytest.raises(InvalidParameterError, match="not a regular file or a directory"):
                mlops.log_artifact(special)
    assert mlops.get_run(run.run_id).artifacts == []


def test_an_unwritable_artifact_root_is_a_store_error(
    tmp_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.exceptions import StoreError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("JUPYTER_MLOPS_ARTIFACTS", str(blocker / "artifacts"))
    source = tmp_path / "model.txt"
    source.write_text("weights")
    with mlops.start_run() as run:
        with pytest.raises(StoreError, match="Cannot store artifact .*model.txt"):
            mlops.log_artifact(source)
        mlops.log_metric("still", 1.0)  # the run goes on
    assert mlops.get_run(run.run_id).metrics == {"still": 1.0}
