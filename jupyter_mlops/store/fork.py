"""The writer across ``fork`` and multiprocessing: hooks that keep a child's writer its own,
and draining at a child's exit.

Before ``os.fork`` the writer waits until it is between transactions and journal writes
(``Writer.before_fork``); the child starts with a fresh queue, journal and connection pool
(``Writer.after_fork_in_child``). multiprocessing's children skip ``atexit`` (they leave
through ``os._exit``, or are SIGTERMed by ``Pool.terminate``), so their writer is closed from
multiprocessing's own exit finalizers instead.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .writer import Writer


def register_fork_handler(writer: Writer) -> None:
    if hasattr(os, "register_at_fork"):
        ref = weakref.ref(writer)

        def _before() -> None:
            instance = ref()
            if instance is not None:
                instance.before_fork()

        def _parent() -> None:
            instance = ref()
            if instance is not None:
                instance.after_fork_in_parent()

        def _child() -> None:
            instance = ref()
            if instance is not None:
                instance.after_fork_in_child()

        os.register_at_fork(before=_before, after_in_parent=_parent, after_in_child=_child)
    # multiprocessing's children skip atexit (they leave through os._exit): drain the writer
    # from multiprocessing's own exit finalizers instead, registered in each child it forks,
    # or now when this process is such a child (spawn, forkserver).
    import multiprocessing.util as mp_util

    mp_util.register_after_fork(writer, _drain_when_child_exits)
    if writer.child_process:
        _drain_when_child_exits(writer)


def in_multiprocessing_child() -> bool:
    """True in a process started by multiprocessing (any start method)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def _drain_when_child_exits(writer: Writer) -> None:
    from multiprocessing.util import Finalize

    ref = weakref.ref(writer)

    def _close() -> None:
        instance = ref()
        if instance is not None:
            instance.close()

    Finalize(None, _close, exitpriority=10)
