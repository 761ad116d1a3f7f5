"""Variables to bytes and back, with the checks a user needs before anything is sent.

The wire format itself (cloudpickle, pickle protocol 5 out-of-band buffers: the pickle
stream, then one raw frame per buffer) lives in ``agent.py``, which the remote side runs too.
Here: naming the variable that does not pickle, and a size guard with each variable's size.
Channels that carry binary frames (ZeroMQ, WebSocket binary messages, Dask) send the frames as
they are: no base64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import RemoteTransferError
from .agent import decode, encode, human, split_frames

__all__ = ["DEFAULT_MAX_BYTES", "decode", "dumps", "frame_nbytes", "human", "split_frames"]

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB: beyond that a transfer is almost surely a mistake


def frame_nbytes(frames: Sequence[Any]) -> int:
    return sum(memoryview(frame).nbytes for frame in frames)


def dumps(values: Mapping[str, Any], max_bytes: int | None = DEFAULT_MAX_BYTES) -> list[Any]:
    """``{name: value}`` -> frames. An unpicklable value raises :class:`RemoteTransferError`
    naming its variable; so does a payload over ``max_bytes`` (with each variable's size)."""
    try:
        frames = encode(dict(values))
    except Exception as exc:
        raise _unpicklable(values, exc) from None
    if max_bytes is not None:
        total = frame_nbytes(frames)
        if total > max_bytes:
            sizes = ", ".join(
                f"{name} {human(frame_nbytes(encode({name: value})))}"
                for name, value in values.items()
            )
            raise RemoteTransferError(
                f"The variables to send weigh {human(total)}, over the {human(max_bytes)} "
                f"limit ({sizes}). Send fewer with --in, or raise "
                "c.MLOps.remote_max_transfer_mb."
            )
    return frames


def _unpicklable(values: Mapping[str, Any], exc: Exception) -> RemoteTransferError:
    """Find which variable broke the pickle, so the error can name it."""
    for name, value in values.items():
        try:
            encode({name: value})
        except Exception as item_exc:
            return RemoteTransferError(
                f"Variable {name!r} ({type(value).__name__}) cannot be sent: it does not "
                f"pickle ({type(item_exc).__name__}: {item_exc}). Leave it out with --in, or "
                "create it inside the remote cell."
            )
    return RemoteTransferError(f"The variables cannot be pickled together: {exc}")
