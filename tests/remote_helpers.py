"""Helpers of the remote tests: a sink that records output and acts on it, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WAIT_S = 60.0


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Recorder:
    """A sink keeping everything the remote cell sent; ``when(text, action)`` runs ``action``
    once, as soon as ``text`` has appeared in the output (while the cell still runs)."""

    def __init__(self) -> None:
        self.streams: list[tuple[str, str]] = []
        self.displays: list[tuple[str, dict[str, Any]]] = []
        self.notices: list[str] = []
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def when(self, text: str, action: Callable[[], None]) -> Recorder:
        self._actions.append((text, action))
        return self

    def text(self, name: str | None = None) -> str:
        return "".join(t for n, t in self.streams if name in (None, n))

    def stream(self, name: str, text: str) -> None:
        self.streams.append((name, text))
        seen = self.text()
        for pending in list(self._actions):
            if pending[0] in seen:
                self._actions.remove(pending)
                pending[1]()

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        self.displays.append((msg_type, content))

    def relay(self, events: list[list[Any]]) -> None:
        pass

    def notice(self, text: str) -> None:
        self.notices.append(text)


def wait_for_file(path: str, seconds: int = 60) -> str:
    """Source for a remote cell: block until the test creates ``path`` (never a fixed sleep:
    the test creates it once it has seen what it waits for)."""
    return (
        "import os as _os, time as _time\n"
        f"_deadline = _time.monotonic() + {seconds}\n"
        f"while not _os.path.exists({path!r}):\n"
        "    if _time.monotonic() > _deadline:\n"
        "        raise TimeoutError('the test never saw the output')\n"
        "    _time.sleep(0.02)\n"
    )
