"""What several ``jupyter mlops`` commands share: opening the store, argument types.

Its own module so that ``main`` (the entry point) and the command modules (``run_notebook``,
``pipeline``, ...) import it, not each other.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store


def open_store(url: str | None) -> Store:
    """The store of ``--store URL``, else the one resolved as everywhere else."""
    from ..tracking import fluent

    return fluent.set_store(url) if url else fluent.get_store()


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
