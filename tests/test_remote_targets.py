"""Target URLs, named targets from %remote add and from c.MLOps.remote_targets."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_mlops.exceptions import RemoteTargetError
from jupyter_mlops.remote.targets import Registry, kind_of


def test_kinds() -> None:
    assert kind_of("local") == "local"
    assert kind_of("gateway:http://127.0.0.1:8888") == "gateway"
    assert kind_of("gateway:https://box/prefix") == "gateway"
    assert kind_of("dask:tcp://10.0.0.1:8786") == "dask"
    for bad in ("gpu-box", "http://x", "gateway:box:8888", "dask:box"):
        with pytest.raises(RemoteTargetError, match="Unknown remote target"):
            kind_of(bad)


def test_added_targets_resolve_and_list() -> None:
    registry = Registry()
    registry.add("gpu", "gateway:http://127.0.0.1:1", token="secret")
    spec = registry.resolve("gpu")
    assert (spec.url, spec.token, spec.kind, spec.source) == (
        "gateway:http://127.0.0.1:1",
        "secret",
        "gateway",
        "added",
    )
    rows = {row["name"]: row for row in registry.rows()}
    assert rows["gpu"]["url"] == "gateway:http://127.0.0.1:1 (token set)"
    assert "secret" not in str(rows)
    assert rows["local"]["status"] == "not started"
    assert registry.resolve("local").kind == "local"
    assert registry.close("gpu") is False  # nothing was started


def test_bad_names_and_urls_are_refused() -> None:
    registry = Registry()
    with pytest.raises(RemoteTargetError, match="built-in"):
        registry.add("local", "gateway:http://h:1")
    with pytest.raises(RemoteTargetError, match="Unknown remote target"):
        registry.add("box", "ssh://box")
    with pytest.raises(RemoteTargetError, match="Unknown remote target 'nowhere'"):
        registry.resolve("nowhere")


def test_targets_from_traitlets_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mlops import config

    settings = Config()
    settings.MLOps.remote_targets = {
        "cluster": "dask:tcp://127.0.0.1:8786",
        "gpu": {"url": "gateway:http://127.0.0.1:9", "token": "t"},
    }
    monkeypatch.setattr(config, "configured", lambda extra=None: config.MLOps(config=settings))
    registry = Registry()
    assert registry.resolve("cluster").kind == "dask"
    assert registry.resolve("gpu").token == "t"
    registry.add("gpu", "gateway:http://127.0.0.1:10")  # %remote add wins over config
    assert registry.resolve("gpu").url == "gateway:http://127.0.0.1:10"
    settings.MLOps.remote_targets = {"bad": {"token": "no url"}}
    with pytest.raises(RemoteTargetError, match="remote_targets"):
        registry.resolve("x")
