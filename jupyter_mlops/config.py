"""Where runs and artifacts live: store URL resolution and masking.

Resolution order (docs/public-surface.md): explicit ``set_store`` > ``JUPYTER_MLOPS_STORE`` >
traitlets config ``c.MLOps.store_url`` > default SQLite file in the Jupyter data dir.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets import Bool, Dict, Float, Unicode
from traitlets.config import Config, Configurable

from .exceptions import InvalidStoreURLError, StoreUnreachableError

STORE_ENV = "JUPYTER_MLOPS_STORE"
ARTIFACTS_ENV = "JUPYTER_MLOPS_ARTIFACTS"


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
    return MLOps(config=config)


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
    if (
        backend == "sqlite"
        and not url.database.startswith("file:")
        and not os.path.isabs(url.database)
    ):
        # sqlite:///relative.db is relative to the cwd, and `jupyter mlops run` hands the URL
        # to a kernel running in the notebook's folder: it would write to another database.
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
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
    env = os.environ.get(STORE_ENV, "").strip()
    if env:
        return normalize_store_url(env)
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
    env = os.environ.get(ARTIFACTS_ENV, "").strip()
    if env:
        return _absolute_if_path(env)
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
