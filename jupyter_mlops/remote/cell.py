"""What every target is given and gives back: a cell request, an output sink, an outcome."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..exceptions import RemoteVersionError
from . import agent


@dataclass
class CellRequest:
    """One remote cell: its source, the pickled inputs, the names wanted back."""

    token: str
    source: str
    frames: list[Any]  # inputs, as transfer.dumps made them
    outputs: list[str]
    has_run: bool  # a local run is active: remote tracking calls are relayed into it
    label: str  # the cell's file name in remote tracebacks
    timeout: float | None = None
    max_bytes: int | None = None  # the size guard, for what comes back too


@dataclass
class Outcome:
    """A finished remote cell: ``status`` ok|error, the result frames, the outputs that could
    not come back (name -> reason), the remote error, and the bytes moved each way."""

    status: str
    frames: list[Any] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    bytes_sent: int = 0
    bytes_received: int = 0


class Sink(Protocol):
    """Where the remote cell's output lands, as it happens."""

    def stream(self, name: str, text: str) -> None: ...

    def display(self, msg_type: str, content: dict[str, Any]) -> None: ...

    def relay(self, events: list[list[Any]]) -> None: ...

    def notice(self, text: str) -> None: ...


class Target(abc.ABC):
    """A place cells run: started or connected on first use, reused after."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    @abc.abstractmethod
    def run(self, request: CellRequest, sink: Sink) -> Outcome:
        """Run the cell, streaming to ``sink``. KeyboardInterrupt while waiting interrupts the
        remote side and is re-raised once it has stopped (or could not be stopped)."""

    @abc.abstractmethod
    def status(self) -> str:
        """One line for ``%remote list``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Shut down what this target started (kernels), disconnect the rest."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.url}>"


def local_versions() -> dict[str, Any]:
    return agent.versions()


def check_versions(target: str, remote: dict[str, Any], where: str = "the remote side") -> None:
    """Refuse a target whose Python minor version or cloudpickle differs from ours: pickled
    functions and classes would fail to load, or load wrong."""
    local = local_versions()
    problems = []
    if remote.get("python", "").split(".")[:2] != local["python"].split(".")[:2]:
        problems.append(f"Python {remote.get('python')} there, {local['python']} here")
    if remote.get("cloudpickle") is None:
        problems.append("cloudpickle is not installed there")
    elif remote.get("cloudpickle") != local["cloudpickle"]:
        problems.append(
            f"cloudpickle {remote.get('cloudpickle')} there, {local['cloudpickle']} here"
        )
    if problems:
        raise RemoteVersionError(
            f"Target {target!r}: {where} ({remote.get('executable', '?')} on "
            f"{remote.get('host', '?')}) does not match this kernel: {'; '.join(problems)}. "
            "Use the same Python minor version and cloudpickle on both sides."
        )
