"""The Jupyter server extension: REST API and live event stream over the run store.

Everything lives under ``<base_url>jupyter-mlops/api/`` (see ``openapi.yaml`` beside this file).
Enabled on install by ``jupyter-config/server-config/jupyter_mlops.json``.

Store resolution follows docs/public-surface.md, with the server's own traitlets config in the
config slot: ``JUPYTER_MLOPS_STORE`` > ``c.MLOps.store_url`` (server config) >
``jupyter_mlops_config`` > the default SQLite file. The same goes for
``JUPYTER_MLOPS_ARTIFACTS`` / ``c.MLOps.artifacts_url``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from ..exceptions import MLOpsError, StoreError

if TYPE_CHECKING:
    from traitlets.config import Config

    from ..store import Store

from ..config import tunables
from .base import API_PREFIX, SETTINGS_KEY

__all__ = ["API_PREFIX", "SETTINGS_KEY", "StoreProvider"]


class StoreProvider:
    """The server's one Store, opened at load time; retried on demand if that failed."""

    def __init__(
        self, store_url: str | None = None, config: Config | None = None, log: Any = None
    ) -> None:
        self.store_url = store_url
        self.config = config
        self.log = log
        # REST limits and the event poll interval (c.MLOps.*, JUPYTER_MLOPS_*): a bad value
        # stops the extension here, with an InvalidSettingError naming it.
        self.tunables = tunables(config)
        self._store: Store | None = None
        self._lock = threading.Lock()
        self.error: str | None = None
        self._point_reads: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @property
    def store(self) -> Store | None:
        return self._store

    def open(self) -> Store:
        """Open the store (blocking; idempotent). Raises StoreError on failure."""
        if self._store is not None:
            return self._store
        with self._lock:
            if self._store is not None:
                return self._store
            from ..store import Store

            try:
                store = Store(self.store_url, config=self.config)
            except MLOpsError as exc:
                self.error = str(exc)
                raise StoreError(str(exc)) from None
            except Exception as exc:  # unreachable database, bad permissions, ...
                self.error = f"{type(exc).__name__}: {exc}"
                raise StoreError(f"Cannot open the jupyter-mlops store: {self.error}") from None
            self._store, self.error = store, None
            return store

    async def get(self) -> Store:
        """The store, opening it in a worker thread if the first attempt failed."""
        if self._store is not None:
            return self._store
        return await asyncio.to_thread(self.open)

    def point_reads(self) -> asyncio.Lock:
        """The lock that makes metric-history reads take turns. The sqlite3 driver lets go of
        the GIL at every row it steps to, so threads reading thousands of rows each hand it
        back and forth row by row: the 3 charts of a compare view (50 runs x 1,000 points
        each) were answered in ~300 ms together, against ~60 ms each one after another. One
        lock per event loop (an asyncio lock belongs to the loop it first waited on)."""
        loop = asyncio.get_running_loop()
        if self._point_reads is None or self._point_reads[0] is not loop:
            self._point_reads = (loop, asyncio.Lock())
        return self._point_reads[1]

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()


def make_provider(serverapp: Any) -> StoreProvider:
    """The store of this server: resolved as everywhere else, with the server's ``c.MLOps``
    config as the config source (so env > server config > default: docs/public-surface.md)."""
    return StoreProvider(config=serverapp.config, log=serverapp.log)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the REST handlers and open the store."""
    from .events import EventHub
    from .handlers import setup_handlers

    web_app = serverapp.web_app
    provider = make_provider(serverapp)
    try:
        store = provider.open()
        serverapp.log.info("jupyter-mlops: serving runs from %s", store.display_url)
    except StoreError as exc:
        serverapp.log.error("jupyter-mlops: %s (will retry on the next request)", exc)
    web_app.settings[SETTINGS_KEY] = provider
    web_app.settings[SETTINGS_KEY + "_events"] = EventHub(
        provider, log=serverapp.log, interval=provider.tunables.events_poll_interval
    )
    setup_handlers(web_app)


# jupyter_server < 2 / notebook-style name
load_jupyter_server_extension = _load_jupyter_server_extension


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlops.server"}]
