"""A barrier for test processes: each child touches ``<go>.ready-<n>`` once it has imported
what it needs, the test waits for all of them (``wait_ready``), then creates ``go``; the
children spin on ``go``, so they start together and their collision really happens."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

# What a child runs once imported, before its work: ``READY.format(go=..., n=...)`` (a
# ``#READY`` line of its script replaced by it).
READY = """
from pathlib import Path as _Path
_Path({go!r} + ".ready-" + str({n})).touch()
while not _Path({go!r}).exists():
    pass
"""


def wait_ready(go: Path, count: int, procs: list[subprocess.Popen[str]]) -> None:
    """Wait until each of ``count`` processes has written ``<go>.ready-<n>`` (it has imported
    everything and now waits for ``go``); a process that exits first fails the test."""
    deadline = time.monotonic() + 240
    while True:
        ready = sorted(go.parent.glob(f"{go.name}.ready-*"))
        if len(ready) == count:
            return
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a process exited before the start: {proc.communicate()}")
        assert time.monotonic() < deadline, f"only {len(ready)} of {count} processes got ready"
        time.sleep(0.02)
