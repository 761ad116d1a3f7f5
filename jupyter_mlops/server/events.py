"""``GET jupyter-mlops/api/events``: the live Server-Sent Events stream.

One background task per server (started with the first client, stopped with the last) polls
``Store.runs_updated_since`` every ``interval`` (``c.MLOps.events_poll_interval``) in a
worker thread and fans the changes out to every connected client:

* ``event: run_created`` / ``event: run_updated`` with a RunSummary,
* ``event: metrics`` with ``{"run_id", "keys", "last_update_time"}`` when points were logged,
* a ``: heartbeat`` comment every ``HEARTBEAT_S`` so proxies keep the connection open.

Writes may commit out of timestamp order (several processes write to one store), so each poll
looks ``OVERLAP_MS`` back and drops what it has already seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tornado import web
from tornado.iostream import StreamClosedError

from ..store.ids import now_ms
from ..wire import run_summary
from .base import BaseHandler

if TYPE_CHECKING:
    from ..store import RunRecord, Store
    from . import StoreProvider

HEARTBEAT_S = 15.0
OVERLAP_MS = 5_000
# A run first seen later than this after it started is reported as updated, not created.
FORGET_MS = 10 * 60 * 1000
POLL_PAGE = 1000
QUEUE_SIZE = 1000
CONTENT_TYPE = "text/event-stream; charset=utf-8"


def format_event(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


@dataclass
class _Seen:
    last_update_time: int
    summary: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class PollState:
    """What one poller has seen: run id -> last state, and how far it has read."""

    started_ms: int = field(default_factory=now_ms)
    watermark: int = -1
    seen: dict[str, _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.watermark < 0:
            self.watermark = self.started_ms


class Subscriber:
    """One connected client: a bounded queue of formatted messages."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(size)
        self.closed = False

    def put(self, message: str | None) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A client this far behind gets disconnected; EventSource reconnects and the
            # front end reloads the list, which is cheaper than buffering without bound.
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if self.queue.full():  # make room for the wake-up
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class EventHub:
    """The shared poller and its subscribers (lives in the web app's settings)."""

    def __init__(self, provider: StoreProvider, interval: float, log: Any = None) -> None:
        self.provider = provider
        self.log = log
        self.interval = interval
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    # -- subscribers ---------------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        if self._task is None or self._task.done():
            # Fresh state per task: a poll still running in its thread after a cancel
            # updates the old state only.
            self._task = asyncio.get_running_loop().create_task(self._run(PollState()))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.close()
        self.subscribers.discard(subscriber)
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    def publish(self, message: str) -> None:
        for subscriber in list(self.subscribers):
            subscriber.put(message)

    # -- polling -------------------------------------------------------------------------------
    async def _run(self, state: PollState) -> None:
        failures = 0
        while True:
            try:
                store = await self.provider.get()
                messages = await asyncio.to_thread(poll_once, store, state)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database locked or gone: keep the stream, retry later
                failures += 1
                if self.log is not None and (failures in (1, 10) or failures % 100 == 0):
                    self.log.warning(
                        "jupyter-mlops: event poll failed (%s): %s", type(exc).__name__, exc
                    )
                messages = []
            for message in messages:
                self.publish(message)
            await asyncio.sleep(self.interval * min(1 + failures, 10))


def poll_once(store: Store, state: PollState) -> list[str]:
    """Read what changed since the last poll and turn it into SSE messages (blocking)."""
    since = state.watermark - OVERLAP_MS
    records: list[RunRecord] = []
    for _ in range(10):
        page = store.runs_updated_since(since, limit=POLL_PAGE)
        records.extend(page)
        if len(page) < POLL_PAGE:
            break
        since = page[-1].last_update_time
    changed = []
    for record in records:
        seen = state.seen.get(record.run_id)
        if seen is None or record.last_update_time > seen.last_update_time:
            changed.append(record)
    counts: dict[str, dict[str, int]] = {}
    if changed and hasattr(store, "metric_point_counts"):
        counts = store.metric_point_counts([r.run_id for r in changed])
    messages = []
    for record in changed:
        summary = run_summary(record)
        previous = state.seen.get(record.run_id)
        run_counts = counts.get(record.run_id)
        if previous is None:
            created = record.start_time >= max(state.started_ms, state.watermark - FORGET_MS)
            messages.append(format_event("run_created" if created else "run_updated", summary))
            if record.metrics:
                messages.append(
                    format_event("metrics", _metrics_event(record, sorted(record.metrics)))
                )
        else:
            if run_counts is not None:
                keys = sorted(k for k, n in run_counts.items() if previous.counts.get(k) != n)
            else:  # a store without point counts: compare latest values
                keys = sorted(
                    k
                    for k, v in summary["metrics"].items()
                    if k not in previous.summary["metrics"] or previous.summary["metrics"][k] != v
                )
            if keys:  # before the summary, which carries the new latest values
                messages.append(format_event("metrics", _metrics_event(record, keys)))
            if summary != previous.summary:
                messages.append(format_event("run_updated", summary))
        state.seen[record.run_id] = _Seen(record.last_update_time, summary, run_counts or {})
    if records:
        state.watermark = max(state.watermark, max(r.last_update_time for r in records))
    horizon = state.watermark - FORGET_MS
    if len(state.seen) > 10_000 or any(s.last_update_time < horizon for s in state.seen.values()):
        state.seen = {k: s for k, s in state.seen.items() if s.last_update_time >= horizon}
    return messages


def _metrics_event(record: RunRecord, keys: list[str]) -> dict[str, Any]:
    return {"run_id": record.run_id, "keys": keys, "last_update_time": record.last_update_time}


class EventsHandler(BaseHandler):
    """``GET events``: ``text/event-stream`` until the client goes away."""

    _track_activity = False  # an open sidebar is not user activity

    @property
    def hub(self) -> EventHub:
        return self.settings["jupyter_mlops_events"]

    @web.authenticated
    async def get(self) -> None:
        heartbeat = float(self.settings.get("jupyter_mlops_heartbeat_s", HEARTBEAT_S))
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-cache, no-store")
        self.set_header("X-Accel-Buffering", "no")  # nginx: don't buffer the stream
        self.subscriber = subscriber = self.hub.subscribe()
        try:
            self.write("retry: 3000\n: connected\n\n")
            await self.flush()
            while not subscriber.closed:
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), heartbeat)
                except asyncio.TimeoutError:
                    message = ": heartbeat\n\n"
                if message is None:
                    break
                self.write(message)
                await self.flush()
        except StreamClosedError:
            return
        finally:
            self.hub.unsubscribe(subscriber)
        if not self._client_gone:  # the server ended the stream (client too slow, shutdown)
            with contextlib.suppress(StreamClosedError):
                await self.finish(set_content_type=CONTENT_TYPE)

    _client_gone = False
    subscriber: Subscriber | None = None

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self.subscriber is not None:
            self.subscriber.close()
