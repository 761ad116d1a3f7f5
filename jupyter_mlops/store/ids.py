"""Run ids and timestamps: one home for both."""

from __future__ import annotations

import os
import random
import threading
import time


def now_ms() -> int:
    """Milliseconds since the Unix epoch, the unit of every timestamp in the store."""
    return int(time.time() * 1000)


# The random bits of run ids: a generator of our own (users seed the global one for
# reproducibility, and equal seeds must not mean equal ids), seeded from the OS once per
# process (os.urandom per id costs ~100 us on some VMs: a sweep of 10,000 runs paid a second)
# and again in every forked child.
_random = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))

_id_lock = threading.Lock()
_id_last_ms = 0
_id_counter = 0
_ID_COUNTER_MAX = 0xFFF


def new_run_id() -> tuple[str, int]:
    """A time-ordered run id and the millisecond timestamp it encodes.

    UUIDv7 layout (RFC 9562) as 32 lowercase hex characters, MLflow's run id format: 48 bits
    of Unix milliseconds, the version nibble, a 12-bit per-process counter, the variant bits
    and 62 random bits. Within one process the ids strictly increase, even for runs started
    in the same millisecond or while the clock steps back, so ``start_time DESC, run_id DESC``
    lists runs in reverse creation order (random uuid4 ids made same-millisecond ties come
    back in random order). Runs use the returned timestamp as ``start_time``, so the two
    never disagree. The random bits keep ids of other processes (and forks) distinct.
    """
    global _id_last_ms, _id_counter
    now = time.time_ns() // 1_000_000
    with _id_lock:
        if now > _id_last_ms:
            _id_last_ms, _id_counter = now, 0
        elif _id_counter < _ID_COUNTER_MAX:
            _id_counter += 1
        else:  # 4096 ids in one millisecond: borrow the next one (RFC 9562, 6.2)
            _id_last_ms, _id_counter = _id_last_ms + 1, 0
        stamp, counter = _id_last_ms, _id_counter
    value = (
        (stamp & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | _random.getrandbits(62)
    )
    return f"{value:032x}", stamp
