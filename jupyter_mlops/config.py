"""The one config surface: the ``c.MLOps`` traitlets, every ``JUPYTER_MLOPS_*`` environment
variable (``ENVIRONMENT`` lists them all, and only this module reads them), the tunables, and
where runs and artifacts live (store URL resolution and masking). docs/configuration.md is
the table of all of them.

Store resolution order (docs/public-surface.md): explicit ``set_store`` >
``JUPYTER_MLOPS_STORE`` > traitlets config ``c.MLOps.store_url`` > default SQLite file in the
Jupyter data dir. A tunable is ``JUPYTER_MLOPS_<NAME>`` > ``c.MLOps.<name>`` > its default.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from traitlets import Bool, Dict, Float, Int, TraitError, Unicode
from traitlets.config import Config, Configurable

from .exceptions import InvalidSettingError, InvalidStoreURLError, StoreUnreachableError

STORE_ENV = "JUPYTER_MLOPS_STORE"
ARTIFACTS_ENV = "JUPYTER_MLOPS_ARTIFACTS"
OFFLINE_ENV = "JUPYTER_MLOPS_OFFLINE"
JOURNAL_ENV = "JUPYTER_MLOPS_JOURNAL"
EXPERIMENT_ENV = "JUPYTER_MLOPS_EXPERIMENT"
PARENT_RUN_ENV = "JUPYTER_MLOPS_PARENT_RUN"
NOTEBOOK_ENV = "JUPYTER_MLOPS_NOTEBOOK"
LIVE_ENV = "JUPYTER_MLOPS_LIVE"
HEADLESS_ENV = "JUPYTER_MLOPS_HEADLESS"
PIPELINE_CACHE_ENV = "JUPYTER_MLOPS_PIPELINE_CACHE"


class MLOps(Configurable):
    """Traitlets configuration (``c.MLOps.*`` in jupyter_*_config.py / ipython_config.py)."""

    store_url = Unicode("", help="SQLAlchemy URL or file path of the run store.").tag(config=True)
    artifacts_url = Unicode("", help="fsspec URL of the artifact root.").tag(config=True)
    live = Bool(
        True,
        help="Show live metric charts under tracked cells in front ends that "
        "render widgets (JUPYTER_MLOPS_LIVE=0/1 overrides).",
    ).tag(config=True)
    remote_targets = Dict(
        {},
        help="Named %%remote targets: {name: URL} or {name: {'url': URL, 'token': TOKEN}}, "
        "URL being local, gateway:http://HOST:PORT or dask:tcp://HOST:PORT.",
    ).tag(config=True)
    remote_max_transfer_mb = Float(
        2048.0, help="Largest total size of the variables one %%remote cell sends or receives."
    ).tag(config=True)
    # Tunables (``Tunables``): each also read from JUPYTER_MLOPS_<NAME>, which wins.
    writer_interval = Float(
        0.1,
        help="Seconds between two journal writes of what a process logged (about the most a "
        "SIGKILL loses). The database gets it right after.",
    ).tag(config=True)
    writer_batch_size = Int(
        100_000, help="Most operations in one journal record and one database transaction."
    ).tag(config=True)
    live_update_interval = Float(
        0.5, help="Seconds between two updates of a live chart under a cell (2 a second)."
    ).tag(config=True)
    events_poll_interval = Float(
        0.5,
        help="Seconds between two reads of the store by the Jupyter server's event stream "
        "(how soon the sidebar sees a change).",
    ).tag(config=True)
    rest_default_limit = Int(100, help="Runs in a REST page when no limit is given.").tag(
        config=True
    )
    rest_max_limit = Int(1000, help="Most runs in one REST page (limit).").tag(config=True)
    rest_max_points = Int(
        100_000, help="Most points of one metric history over REST (max_points)."
    ).tag(config=True)
    rest_max_compare = Int(100, help="Most runs one REST compare request takes.").tag(config=True)
    rest_max_body_runs = Int(
        10_000,
        help="Most run ids in one REST request body (archive, restore).",
    ).tag(config=True)


# Every environment variable jupyter-mlops reads: only this module reads them (``env``).
ENVIRONMENT: dict[str, str] = {
    STORE_ENV: "the store: a SQLAlchemy URL or a file path (over c.MLOps.store_url)",
    ARTIFACTS_ENV: "the artifact root, any fsspec URL (over c.MLOps.artifacts_url)",
    OFFLINE_ENV: "1: log to the journal only, no database (mlops.set_store(offline=True))",
    JOURNAL_ENV: "the folder of the journals (default: beside a SQLite store, or the data dir)",
    EXPERIMENT_ENV: "the experiment of new runs when none is set; child processes inherit it",
    PARENT_RUN_ENV: "the run new top-level runs become children of (jupyter mlops run sets it)",
    NOTEBOOK_ENV: "the notebook path runs record (jupyter mlops run and pipelines set it)",
    LIVE_ENV: "1/0: live charts under cells on/off, whatever the front end (over c.MLOps.live)",
    HEADLESS_ENV: "set: no live widget, only the final static output",
    PIPELINE_CACHE_ENV: "the folder of the pipeline step cache",
}


def env(name: str) -> str:
    """The value of environment variable ``name`` (one of ``ENVIRONMENT``), stripped; "" when
    unset."""
    if name not in ENVIRONMENT:
        raise KeyError(f"{name} is not a jupyter-mlops environment variable (config.ENVIRONMENT)")
    return os.environ.get(name, "").strip()


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_flag(name: str) -> bool | None:
    """Environment variable ``name`` as a switch: True (1/true/yes/on), False (0/false/no/off),
    None when unset or anything else."""
    value = env(name).lower()
    return True if value in _TRUE else False if value in _FALSE else None


@dataclass(frozen=True)
class Tunables:
    """The tunables in force (``tunables()``). Intervals are seconds, > 0; the rest counts,
    >= 1. Each is ``JUPYTER_MLOPS_<NAME>`` > ``c.MLOps.<name>`` > the trait's default."""

    writer_interval: float
    writer_batch_size: int
    live_update_interval: float
    events_poll_interval: float
    rest_default_limit: int
    rest_max_limit: int
    rest_max_points: int
    rest_max_compare: int
    rest_max_body_runs: int


def tunable_env(name: str) -> str:
    """The environment variable of tunable ``name``: ``JUPYTER_MLOPS_<NAME>``."""
    return f"JUPYTER_MLOPS_{name.upper()}"


ENVIRONMENT.update(
    {tunable_env(f.name): f"c.MLOps.{f.name}, read from the environment" for f in fields(Tunables)}
)


def tunables(config: Config | None = None) -> Tunables:
    """The tunables in force (``config``: see :func:`configured`). A bad value (not a
    number, not finite, an interval <= 0, a count < 1) is an InvalidSettingError naming the
    variable or the setting."""
    settings = None
    values: dict[str, float | int] = {}
    for field in fields(Tunables):
        is_int = field.type in ("int", int)
        variable = tunable_env(field.name)
        text = env(variable)
        if text:
            where = variable
            try:
                value: float | int = int(text) if is_int else float(text)
            except ValueError:
                kind = "an integer" if is_int else "a number of seconds"
                raise InvalidSettingError(f"{variable}={text!r} is not {kind}.") from None
        else:
            where = f"c.MLOps.{field.name}"
            if settings is None:
                settings = configured(config)
            value = getattr(settings, field.name)
        if is_int and value < 1:
            raise InvalidSettingError(f"{where} must be at least 1, got {value!r}.")
        if not is_int and not (math.isfinite(value) and value > 0):
            raise InvalidSettingError(f"{where} must be a number of seconds > 0, got {value!r}.")
        values[field.name] = value
    if values["rest_default_limit"] > values["rest_max_limit"]:
        raise InvalidSettingError(
            f"rest_default_limit ({values['rest_default_limit']}) is over rest_max_limit "
            f"({values['rest_max_limit']})."
        )
    return Tunables(**values)  # type: ignore[arg-type]


def default_root() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mlops"


def configured(extra: Config | None = None) -> MLOps:
    """The ``c.MLOps`` settings in force: ``jupyter_mlops_config.{json,py}``, then the running
    IPython's config, then ``extra`` (the Jupyter server passes its own config here)."""
    config = Config()
    try:
        from jupyter_core.paths import jupyter_config_path
        from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

        for directory in reversed(jupyter_config_path()):
            for loader_cls, name in (
                (JSONFileConfigLoader, "jupyter_mlops_config.json"),
                (PyFileConfigLoader, "jupyter_mlops_config.py"),
            ):
                if os.path.isfile(os.path.join(directory, name)):
                    config.merge(loader_cls(name, path=directory).load_config())
    except Exception as exc:  # a broken config file must not stop tracking
        import warnings

        warnings.warn(f"jupyter-mlops: ignoring unreadable config: {exc}", stacklevel=2)
    # A running shell has imported IPython already; importing it here (0.5 s) would only
    # slow the CLI down.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and "MLOps" in shell.config:
        config.merge(Config({"MLOps": shell.config.MLOps}))
    if extra is not None and "MLOps" in extra:
        config.merge(Config({"MLOps": extra.MLOps}))
    try:
        return MLOps(config=config)
    except TraitError as exc:  # c.MLOps.writer_interval = "fast"
        raise InvalidSettingError(f"Bad c.MLOps setting: {exc}") from None


def normalize_store_url(url_or_path: str | os.PathLike[str]) -> str:
    """Turn a user-supplied store location into a SQLAlchemy URL.

    A plain file path (no ``://``) means SQLite. Raises :class:`InvalidStoreURLError`.
    """
    if not isinstance(url_or_path, (str, os.PathLike)):
        raise InvalidStoreURLError(
            f"Store URL must be a string or a path, got {type(url_or_path).__name__} "
            f"{url_or_path!r}."
        )
    text = os.fspath(url_or_path).strip()
    if not text:
        raise InvalidStoreURLError("Store URL is empty.")
    if "://" not in text:
        path = Path(text).expanduser()
        if path.exists() and path.is_dir():
            path = path / "mlops.db"
        return f"sqlite:///{path.resolve()}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:  # ValueError: a malformed port
        raise InvalidStoreURLError(f"Invalid store URL {mask_url(text)!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InvalidStoreURLError(
            f"Unsupported store URL {mask_url(text)!r}: use sqlite:///PATH, a file path, or "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB."
        )
    if backend == "sqlite" and (
        not url.database or ":memory:" in url.database or "mode=memory" in url.database
    ):
        # Each connection to an in-memory database is a separate database: the background
        # writer would commit to one that no reader ever sees.
        raise InvalidStoreURLError(
            f"In-memory SQLite store {mask_url(text)!r} is not supported (the background "
            "writer uses its own connection); use a file path or sqlite:///PATH."
        )
    database = url.database or ""  # not empty for SQLite: refused above
    if backend == "sqlite" and not database.startswith("file:") and not os.path.isabs(database):
        # sqlite:///relative.db is relative to the cwd, and `jupyter mlops run` hands the URL
        # to a kernel running in the notebook's folder: it would write to another database.
        url = url.set(database=str(Path(database).expanduser().resolve()))
    if backend == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the driver we ship for; plain postgresql:// would ask for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """Hide the password in a URL for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return url


def resolve_store_url(explicit: str | None = None, config: Config | None = None) -> str:
    """The store URL in force, in the resolution order of docs/public-surface.md (``config``: see
    :func:`configured`)."""
    if explicit:
        return normalize_store_url(explicit)
    from_env = env(STORE_ENV)
    if from_env:
        return normalize_store_url(from_env)
    from_config = configured(config).store_url.strip()
    if from_config:
        return normalize_store_url(from_config)
    root = default_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnreachableError(
            f"Cannot create the default store's folder {str(root)!r}: {exc.strerror or exc}. "
            f"Set {STORE_ENV} (or mlops.set_store) to a writable location."
        ) from None
    return normalize_store_url(str(root / "mlops.db"))


def resolve_artifacts_url(store_url: str, config: Config | None = None) -> str:
    """Artifact root: env > config > beside a SQLite store > the Jupyter data dir."""
    from_env = env(ARTIFACTS_ENV)
    if from_env:
        return _absolute_if_path(from_env)
    from_config = configured(config).artifacts_url.strip()
    if from_config:
        return _absolute_if_path(from_config)
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return str(Path(url.database).resolve().parent / "artifacts")
    return str(default_root() / "artifacts")


def _absolute_if_path(url: str) -> str:
    """A plain (relative) directory made absolute; fsspec URLs (``s3://...``) as they are.
    `jupyter mlops run` hands the root to a kernel in the notebook's folder, where a relative
    path would be another directory."""
    if "://" in url:
        return url
    return str(Path(url).expanduser().resolve())
