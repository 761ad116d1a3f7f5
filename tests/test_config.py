"""Store URL resolution (in the order of docs/public-surface.md), normalisation and masking:
``jupyter_mlops.config``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.config import (
    default_root,
    mask_url,
    normalize_store_url,
    resolve_artifacts_url,
    resolve_store_url,
)
from jupyter_mlops.exceptions import InvalidStoreURLError, StoreUnreachableError
from jupyter_mlops.tracking import fluent


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No store/artifact env vars; Jupyter config and data dirs inside ``tmp_path``."""
    for name in (
        "JUPYTER_MLOPS_STORE",
        "JUPYTER_MLOPS_ARTIFACTS",
        "JUPYTER_MLOPS_EXPERIMENT",
        "JUPYTER_MLOPS_PARENT_RUN",
    ):
        monkeypatch.delenv(name, raising=False)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config_dir))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    fluent.reset()
    yield tmp_path
    fluent.reset()


def _write_config(config_dir: Path, store: str, artifacts: str | None = None) -> None:
    lines = [f"c.MLOps.store_url = {store!r}"]
    if artifacts:
        lines.append(f"c.MLOps.artifacts_url = {artifacts!r}")
    (config_dir / "jupyter_mlops_config.py").write_text("\n".join(lines) + "\n")


# -- resolution order -------------------------------------------------------------------


def test_default_is_sqlite_file_in_jupyter_data_dir(clean_env: Path) -> None:
    url = resolve_store_url()
    expected = (clean_env / "data" / "mlops" / "mlops.db").resolve()
    assert url == f"sqlite:///{expected}"
    assert default_root() == clean_env / "data" / "mlops"
    # artifacts live beside the store by default
    assert resolve_artifacts_url(url) == str(expected.parent / "artifacts")


def test_config_beats_default(clean_env: Path) -> None:
    configured = clean_env / "from-config.db"
    _write_config(clean_env / "config", str(configured), artifacts=str(clean_env / "arts"))
    url = resolve_store_url()
    assert url == f"sqlite:///{configured.resolve()}"
    assert resolve_artifacts_url(url) == str(clean_env / "arts")


def test_env_beats_config(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(clean_env / "config", str(clean_env / "from-config.db"))
    monkeypatch.setenv("JUPYTER_MLOPS_STORE", str(clean_env / "from-env.db"))
    monkeypatch.setenv("JUPYTER_MLOPS_ARTIFACTS", "memory://arts")
    url = resolve_store_url()
    assert url == f"sqlite:///{(clean_env / 'from-env.db').resolve()}"
    assert resolve_artifacts_url(url) == "memory://arts"


def test_set_store_beats_env_and_config(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(clean_env / "config", str(clean_env / "from-config.db"))
    monkeypatch.setenv("JUPYTER_MLOPS_STORE", str(clean_env / "from-env.db"))
    assert mlops.get_store().url.endswith("from-env.db")
    explicit = clean_env / "explicit.db"
    store = mlops.set_store(explicit)
    assert store.url == f"sqlite:///{explicit.resolve()}"
    assert mlops.get_store() is store
    with mlops.start_run("here"):
        pass
    assert explicit.exists()
    assert list(mlops.runs()["name"]) == ["here"]
    # None goes back to env/config/default resolution
    assert mlops.set_store(None).url.endswith("from-env.db")


def test_ipython_config_is_read(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``c.MLOps.store_url`` in ipython_config.py (the running shell's config) counts too."""
    import types

    import IPython
    from traitlets.config import Config

    wanted = clean_env / "from-ipython.db"
    shell = types.SimpleNamespace(config=Config({"MLOps": {"store_url": str(wanted)}}))
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert resolve_store_url() == f"sqlite:///{wanted.resolve()}"
    monkeypatch.setenv("JUPYTER_MLOPS_STORE", str(clean_env / "env.db"))
    assert resolve_store_url().endswith("env.db")


# -- normalisation ----------------------------------------------------------------------


def test_plain_path_means_sqlite(tmp_path: Path) -> None:
    assert normalize_store_url(tmp_path / "a.db") == f"sqlite:///{(tmp_path / 'a.db').resolve()}"
    # an existing directory holds mlops.db
    assert normalize_store_url(str(tmp_path)) == f"sqlite:///{(tmp_path / 'mlops.db').resolve()}"
    assert normalize_store_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


def test_plain_postgresql_url_uses_psycopg3() -> None:
    assert normalize_store_url("postgresql://u:pw@db:5432/runs") == (
        "postgresql+psycopg://u:pw@db:5432/runs"
    )
    assert normalize_store_url("postgresql+psycopg://u@db/runs") == "postgresql+psycopg://u@db/runs"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://me:hunter2@db/runs",
        "http://me:hunter2@example.com/store",
        "foo://me:hunter2@host/x",
        "://me:hunter2@nowhere",
    ],
)
def test_invalid_scheme_names_url_with_password_masked(url: str) -> None:
    with pytest.raises(InvalidStoreURLError) as info:
        normalize_store_url(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "me:***@" in message or "***" in message


def test_empty_store_url_is_refused() -> None:
    with pytest.raises(InvalidStoreURLError, match="empty"):
        normalize_store_url("  ")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    # Every connection to an in-memory database is a different database: the background
    # writer would write where nobody reads.
    with pytest.raises(InvalidStoreURLError, match="memory"):
        normalize_store_url(url)


def test_set_store_with_bad_url_fails_at_once_and_logs_nowhere(tmp_store: str) -> None:
    mlops.get_store()
    with pytest.raises(InvalidStoreURLError, match="Unsupported store URL"):
        mlops.set_store("oracle://scott:tiger@db/orcl")
    with pytest.raises(InvalidStoreURLError, match="set_store failed"):
        mlops.start_run()  # not into the old store, which the user meant to leave


def test_unreachable_postgres_names_url_with_password_masked(tmp_store: str) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:{port}/runs"
    with pytest.raises(StoreUnreachableError) as info:
        mlops.set_store(url)
    message = str(info.value)
    assert f"postgresql+psycopg://alice:***@127.0.0.1:{port}/runs" in message
    assert "s3cr3t-pw" not in message


def test_missing_driver_is_a_clear_error(tmp_store: str) -> None:
    with pytest.raises(InvalidStoreURLError) as info:
        mlops.set_store("postgresql+nosuchdriver://bob:pw123@127.0.0.1/x")
    assert "pw123" not in str(info.value)
    assert "bob:***@" in str(info.value)


def test_mask_url() -> None:
    assert mask_url("postgresql+psycopg://u:secret@h:5/d") == "postgresql+psycopg://u:***@h:5/d"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert "secret" not in mask_url("://u:secret@h")


def test_relative_sqlite_url_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jupyter mlops run` hands the URL to a kernel in the notebook's folder: a relative
    sqlite:///x.db there would be another database."""
    monkeypatch.chdir(tmp_path)
    assert normalize_store_url("sqlite:///sub/x.db") == f"sqlite:///{tmp_path / 'sub' / 'x.db'}"
    assert normalize_store_url(f"sqlite:///{tmp_path}/y.db") == f"sqlite:///{tmp_path}/y.db"


@pytest.mark.parametrize(
    "url", ["postgresql://me:hunter2@[::1/db", "postgresql://me:hunter2@host:port/db"]
)
def test_malformed_url_is_a_typed_error_with_password_masked(url: str) -> None:
    with pytest.raises(InvalidStoreURLError, match="Invalid store URL") as info:
        normalize_store_url(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("url", [5, "", "   "])
def test_set_store_of_a_non_url_is_refused_not_the_default_store(
    tmp_store: str, url: object
) -> None:
    with pytest.raises(InvalidStoreURLError):
        mlops.set_store(url)  # type: ignore[arg-type]
    # Neither the default store nor the one used before: the user meant another store, so
    # logging anywhere would put runs where they are not looked for.
    with pytest.raises(InvalidStoreURLError, match="set_store failed"):
        mlops.get_store()
    assert mlops.set_store(tmp_store).url == tmp_store  # a good URL makes tracking work again


def test_a_driver_message_echoing_the_password_is_masked(tmp_store: str) -> None:
    # psycopg quotes a bad option's value back; a password pasted into one must not show
    url = "postgresql+psycopg://alice:pw-9f3k@127.0.0.1:1/runs?sslmode=pw-9f3k"
    with pytest.raises(StoreUnreachableError) as info:
        mlops.set_store(url)
    message = str(info.value)
    assert "alice:***@127.0.0.1" in message
    reason = message.split("': ", 1)[1]  # after the (masked) URL: the driver's own words
    assert "pw-9f3k" not in reason and '"***"' in reason, message


def test_relative_artifacts_directory_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUPYTER_MLOPS_ARTIFACTS", "arts")
    store_url = f"sqlite:///{tmp_path / 'm.db'}"
    assert resolve_artifacts_url(store_url) == str(tmp_path / "arts")
    monkeypatch.setenv("JUPYTER_MLOPS_ARTIFACTS", "memory://bucket/arts")
    assert resolve_artifacts_url(store_url) == "memory://bucket/arts"


def test_an_unwritable_default_location_is_a_clear_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = clean_env / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(blocker / "data"))
    with pytest.raises(StoreUnreachableError, match="default store's folder") as info:
        resolve_store_url()
    assert "JUPYTER_MLOPS_STORE" in str(info.value)
