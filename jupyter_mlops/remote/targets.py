"""Where ``%%remote`` cells can run: target URLs, named targets, and the live connections.

A target is ``local``, ``gateway:http://HOST:PORT`` (``https`` too), ``dask:tcp://HOST:PORT``
(any Dask address), or a name given by ``%remote add NAME URL [--token T]`` or by
``c.MLOps.remote_targets = {"gpu": "gateway:http://gpu-box:8888"}`` (or
``{"gpu": {"url": ..., "token": ...}}``). Each target's kernel or client is made on first
use and reused until ``close``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..exceptions import RemoteTargetError
from .cell import Target

KINDS = ("local", "gateway", "dask")


@dataclass(frozen=True)
class TargetSpec:
    name: str
    url: str
    token: str | None = None
    source: str = "url"  # "url" (typed in the cell), "added" (%remote add) or "config"

    @property
    def kind(self) -> str:
        return kind_of(self.url)

    def masked(self) -> str:
        return self.url + (" (token set)" if self.token else "")


def kind_of(url: str) -> str:
    """``local``, ``gateway`` or ``dask``; anything else is a :class:`RemoteTargetError`."""
    if url == "local":
        return "local"
    scheme, sep, rest = url.partition(":")
    if sep and scheme == "gateway" and rest.startswith(("http://", "https://")):
        return "gateway"
    if sep and scheme == "dask" and "://" in rest:
        return "dask"
    raise RemoteTargetError(
        f"Unknown remote target {url!r}: use local, gateway:http://HOST:PORT, "
        "dask:tcp://HOST:PORT, or a name from %remote add / c.MLOps.remote_targets."
    )


def _from_config(settings: Any = None) -> dict[str, TargetSpec]:
    from ..config import configured

    specs = {}
    for name, value in ((settings or configured()).remote_targets or {}).items():
        if isinstance(value, str):
            url, token = value, None
        elif isinstance(value, dict) and isinstance(value.get("url"), str):
            url, token = value["url"], value.get("token")
        else:
            raise RemoteTargetError(
                f"c.MLOps.remote_targets[{name!r}] must be a URL or {{'url': ..., "
                f"'token': ...}}, got {value!r}."
            )
        kind_of(url)
        specs[name] = TargetSpec(name, url, token, "config")
    return specs


class Registry:
    """Named targets and the connections made to them (one per name, reused)."""

    def __init__(self) -> None:
        self.added: dict[str, TargetSpec] = {}
        self.live: dict[str, Target] = {}
        self._lock = threading.Lock()

    def add(self, name: str, url: str, token: str | None = None) -> TargetSpec:
        if not name.isidentifier() and not name.replace("-", "_").isidentifier():
            raise RemoteTargetError(f"A target name is a word like gpu-box, got {name!r}.")
        if name in KINDS:
            raise RemoteTargetError(f"{name!r} is a built-in target kind; pick another name.")
        kind_of(url)
        spec = TargetSpec(name, url, token, "added")
        with self._lock:
            old = self.added.get(name)
            self.added[name] = spec
        if old is not None and old != spec:
            self.close(name)  # its connection went to the old URL
        return spec

    def specs(self, settings: Any = None) -> dict[str, TargetSpec]:
        """Every named target: config first (``settings``: the ``MLOps`` configurable in
        force, read when not given), ``%remote add`` over it."""
        return {**_from_config(settings), **self.added}

    def resolve(self, text: str, settings: Any = None) -> TargetSpec:
        named = self.specs(settings)
        if text in named:
            return named[text]
        kind_of(text)
        return TargetSpec(text, text)

    def get(self, spec: TargetSpec) -> Target:
        with self._lock:
            target = self.live.get(spec.name)
            if target is None or target.url != spec.url:
                target = self.live[spec.name] = make_target(spec)
            return target

    def close(self, name: str) -> bool:
        """Shut down the kernel / disconnect the client of ``name``. False: nothing was open."""
        with self._lock:
            target = self.live.pop(name, None)
        if target is None:
            return False
        target.close()
        return True

    def close_all(self) -> None:
        for name in list(self.live):
            self.close(name)

    def rows(self) -> list[dict[str, Any]]:
        names = self.specs()
        for name in self.live:
            if name not in names:
                names[name] = TargetSpec(name, self.live[name].url)
        if "local" not in names:
            names["local"] = TargetSpec("local", "local")
        rows = []
        for name, spec in sorted(names.items()):
            target = self.live.get(name)
            rows.append(
                {
                    "name": name,
                    "url": spec.masked(),
                    "from": spec.source,
                    "status": target.status() if target is not None else "not started",
                }
            )
        return rows


def make_target(spec: TargetSpec) -> Target:
    kind = spec.kind
    if kind == "local":
        from .kernel import LocalKernelTarget

        return LocalKernelTarget(spec.name, spec.url)
    if kind == "gateway":
        from .gateway import GatewayTarget

        return GatewayTarget(spec.name, spec.url, spec.token)
    from .dask import DaskTarget

    return DaskTarget(spec.name, spec.url)


_registry: Registry | None = None


def registry() -> Registry:
    """The process's registry (one per kernel: every notebook cell shares it)."""
    global _registry
    if _registry is None:
        import atexit

        _registry = Registry()
        atexit.register(_registry.close_all)  # shut down the kernels we started
    return _registry
