"""Store URL resolution (in the order of docs/public-surface.md), normalisation and masking:
``jupyter_mlops.config``."""

from __future__ import annotations

import re
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


# -- tunables and environment variables (docs/configuration.md) -----------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_tunable_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from dataclasses import fields

    from jupyter_mlops.config import Tunables, tunable_env

    for field in fields(Tunables):
        monkeypatch.delenv(tunable_env(field.name), raising=False)
    return clean_env


def test_tunables_default_to_the_traits(no_tunable_env: Path) -> None:
    from jupyter_mlops.config import MLOps, tunables

    settings = tunables()
    for name, value in vars(settings).items():
        assert value == MLOps.class_traits()[name].default_value, name
    assert (settings.writer_interval, settings.writer_batch_size) == (0.1, 100_000)


def test_a_tunable_comes_from_env_then_config_then_default(
    no_tunable_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.config import tunables

    (no_tunable_env / "config" / "jupyter_mlops_config.py").write_text(
        "c.MLOps.live_update_interval = 2.0\nc.MLOps.rest_max_limit = 500\n"
    )
    assert (tunables().live_update_interval, tunables().rest_max_limit) == (2.0, 500)
    monkeypatch.setenv("JUPYTER_MLOPS_LIVE_UPDATE_INTERVAL", " 0.25 ")
    assert tunables().live_update_interval == 0.25
    assert tunables().rest_max_limit == 500


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JUPYTER_MLOPS_WRITER_INTERVAL", "-1", "JUPYTER_MLOPS_WRITER_INTERVAL must be"),
        ("JUPYTER_MLOPS_WRITER_INTERVAL", "0", "JUPYTER_MLOPS_WRITER_INTERVAL must be"),
        ("JUPYTER_MLOPS_WRITER_INTERVAL", "nan", "JUPYTER_MLOPS_WRITER_INTERVAL must be"),
        ("JUPYTER_MLOPS_EVENTS_POLL_INTERVAL", "fast", "JUPYTER_MLOPS_EVENTS_POLL_INTERVAL='fast'"),
        ("JUPYTER_MLOPS_WRITER_BATCH_SIZE", "1.5", "JUPYTER_MLOPS_WRITER_BATCH_SIZE='1.5'"),
        ("JUPYTER_MLOPS_REST_MAX_LIMIT", "0", "JUPYTER_MLOPS_REST_MAX_LIMIT must be at least 1"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    no_tunable_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    from jupyter_mlops.config import tunables
    from jupyter_mlops.exceptions import InvalidSettingError

    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettingError, match=re.escape(message)):
        tunables()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("c.MLOps.writer_interval = -0.5", "c.MLOps.writer_interval must be"),
        ("c.MLOps.writer_batch_size = 0", "c.MLOps.writer_batch_size must be at least 1"),
        ("c.MLOps.writer_interval = 'fast'", "writer_interval"),
        ("c.MLOps.rest_default_limit = 5000", "rest_default_limit (5000) is over rest_max_limit"),
    ],
)
def test_a_bad_config_value_names_the_setting(
    no_tunable_env: Path, line: str, message: str
) -> None:
    from jupyter_mlops.config import tunables
    from jupyter_mlops.exceptions import InvalidSettingError

    (no_tunable_env / "config" / "jupyter_mlops_config.py").write_text(line + "\n")
    with pytest.raises(InvalidSettingError, match=re.escape(message)):
        tunables()


def test_a_bad_setting_stops_opening_a_store(
    no_tunable_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.exceptions import InvalidSettingError

    monkeypatch.setenv("JUPYTER_MLOPS_WRITER_INTERVAL", "-0.1")
    with pytest.raises(InvalidSettingError, match="JUPYTER_MLOPS_WRITER_INTERVAL"):
        mlops.set_store(str(no_tunable_env / "s.db"))


def test_the_writer_uses_the_configured_batch_size(
    no_tunable_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.store import Store
    from jupyter_mlops.store.journal import read_records
    from jupyter_mlops.store.ops import POINT, POINTS

    monkeypatch.setenv("JUPYTER_MLOPS_WRITER_BATCH_SIZE", "7")
    monkeypatch.setenv("JUPYTER_MLOPS_WRITER_INTERVAL", "0.05")
    store = Store(str(no_tunable_env / "batch.db"))
    try:
        assert (store.writer.batch_size, store.writer.interval) == (7, 0.05)
        mlops.set_store(store.url)
        with mlops.start_run("batched", capture=False, live=False) as run:
            for step in range(30):
                mlops.log_metric("x", float(step), step=step)
            writer = fluent.get_store().writer
            writer._journal_once()  # the queue into the journal now (records of <= 7)
            records = list(read_records(writer.journal_path, None))
        # 30 points cut into operations of at most 7, records of at most 7 points/operations
        pieces = [len(op[3]) // POINT.size for r in records for op in r.ops if op[0] == POINTS]
        assert pieces and max(pieces) <= 7 and sum(pieces) == 30, pieces
        sizes = [r.size() for r in records]
        assert max(sizes) <= 7 and sum(sizes) >= 31, sizes
        assert list(mlops.get_run(run.run_id).history("x")["value"]) == [
            float(s) for s in range(30)
        ]
    finally:
        store.close()


def _source_files() -> list[Path]:
    return sorted((ROOT / "jupyter_mlops").rglob("*.py"))


def test_every_environment_variable_is_listed_read_in_one_place_and_documented() -> None:
    from jupyter_mlops.config import ENVIRONMENT

    used: set[str] = set()
    for path in _source_files():
        text = path.read_text()
        used |= set(re.findall(r"JUPYTER_MLOPS_[A-Z_]*[A-Z]", text))
        # config.py is the one module that reads them; environment.py builds the source of
        # the kernel probe (stdlib only), which reads the experiment by name in the kernel.
        if path.name not in ("config.py", "environment.py"):
            assert not re.search(r"environ(?:\.get)?[(\[]\s*['\"]JUPYTER_MLOPS_", text), path
            assert not re.search(r"^\w+ = ['\"]JUPYTER_MLOPS_", text, re.M), path
    assert used <= set(ENVIRONMENT), sorted(used - set(ENVIRONMENT))
    table = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(JUPYTER_MLOPS_[A-Z_]+)[`=]", table))
    assert documented == set(ENVIRONMENT), sorted(documented ^ set(ENVIRONMENT))


def test_every_mlops_setting_is_documented() -> None:
    from jupyter_mlops.config import MLOps

    table = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`c\.MLOps\.(\w+)`", table))
    assert documented == set(MLOps.class_trait_names(config=True))
