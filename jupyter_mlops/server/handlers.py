"""REST handlers of ``<base_url>jupyter-mlops/api/`` (contract: ``openapi.yaml``).

Thin on purpose: parse and validate the request, call the Store in a worker thread (database
calls block), shape the answer with ``wire``. Every endpoint requires Jupyter
authentication. Reads are GET; the run-management writes (PATCH and DELETE on a run, POST
``runs/archive`` and ``runs/restore``) also pass Jupyter's XSRF check, which every non-GET
request of a cookie-authenticated browser must. Bad input is a 4xx ``{"message", "reason"}``,
never a 500.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
import urllib.parse
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from .. import wire
from ..exceptions import InvalidFilterError, InvalidParameterError, MLOpsError, RunNotFoundError
from ..store.artifacts import safe_relative_path, safe_run_id
from ..store.records import RUN_STATUSES
from .base import API_PREFIX, BaseHandler
from .events import EventsHandler

if TYPE_CHECKING:
    from ..config import Tunables
    from ..store import RunRecord, Store
    from . import StoreProvider

T = TypeVar("T")

MAX_OFFSET = 2**31 - 1
MAX_RUN_ID = 256
MAX_LENGTHS = {
    "filter": 4096,
    "search": 1024,
    "order_by": 1024,
    "parent": MAX_RUN_ID,
    "lifecycle": 16,
}
# Query arguments where an empty value means "not given" (all others refuse it).
FREE_TEXT = frozenset({"experiment", "filter", "search", "order_by"})
CHUNK = 1 << 20
_INT = re.compile(r"[+-]?\d{1,18}")


def error_message(exc: Any) -> str | None:
    """An HTTPError's message without args, unescaped; None for anything else.

    Tornado 6.5 returns ``log_message`` with every ``%`` doubled when there are no args (so
    that ``log_message % args`` is safe); our messages quote user input verbatim.
    """
    if not isinstance(exc, web.HTTPError) or exc.args:
        return None
    raw = exc.__dict__.get("_log_message", exc.log_message)
    return raw if isinstance(raw, str) and raw else None


def http_error(exc: MLOpsError) -> web.HTTPError:
    """The one mapping of core errors to HTTP: the class's ``http_status``, its name as the
    ``reason`` of the ``{"message", "reason"}`` body."""
    return web.HTTPError(exc.http_status, str(exc), reason=type(exc).__name__)


class MLOpsHandler(BaseHandler):
    """Common plumbing: the store, argument validation, error mapping."""

    @property
    def provider(self) -> StoreProvider:
        provider: StoreProvider = self.settings["jupyter_mlops"]
        return provider

    @property
    def limits(self) -> Tunables:
        """The REST limits in force (``c.MLOps.rest_*``, docs/configuration.md)."""
        return self.provider.tunables

    def bad_request(self, message: str, reason: str = "InvalidParameterError") -> web.HTTPError:
        return web.HTTPError(400, message, reason=reason)

    async def call(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func(store, *args)`` in a worker thread; map core errors to HTTP errors."""
        try:
            store = await self.provider.get()
            return await asyncio.to_thread(func, store, *args)
        except MLOpsError as exc:  # the Store turned driver errors into these already
            raise http_error(exc) from None

    async def call_in_turn(self, func: Callable[..., T], *args: object) -> T:
        """``call``, one at a time with the other metric-history reads
        (``StoreProvider.point_reads``)."""
        async with self.provider.point_reads():
            return await self.call(func, *args)

    def finish_json(self, body: bytes) -> None:
        """Answer with JSON encoded by ``wire.json_bytes`` (in the worker thread, for the
        large answers: the event loop stays free while 2 MB of points are encoded)."""
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Tornado uses an HTTPError's message as a %-format string; ours quote user input.
        message = error_message(value)
        if message is not None:
            self.log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{"message", "reason"}`` with the message as raised (APIHandler's would show
        Tornado's %-escaped copy: ``got '5%%'`` for ``limit=5%``)."""
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        message = error_message(exc)
        if exc is None or message is None or status_code == 405:
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": exc.reason}))

    # -- arguments -----------------------------------------------------------------------------
    def text_arg(self, name: str) -> str | None:
        """A query argument; ``None`` when absent. Empty means "not given" for free text
        (``filter=``), and is a 400 for the arguments that name a value (``parent=``,
        ``limit=``): the contract gives them a minimum length or a type."""
        value = self.get_query_argument(name, None)
        if value is None:
            return None
        if value == "":
            if name in FREE_TEXT:
                return None
            raise self.bad_request(f"{name} is empty: give a value, or leave {name} out.")
        limit = MAX_LENGTHS.get(name)
        if limit is not None and len(value) > limit:
            raise self.bad_request(f"{name} is longer than {limit} characters.")
        if "\x00" in value:
            raise self.bad_request(f"{name} contains a NUL character.")
        return value

    def int_arg(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.text_arg(name)
        if value is None:
            return default
        value = value.strip()
        if not _INT.fullmatch(value):
            raise self.bad_request(f"{name} must be an integer, got {value[:40]!r}.")
        number = int(value)
        if not low <= number <= high:
            raise self.bad_request(f"{name} must be between {low} and {high}, got {number}.")
        return number

    def json_object(self, allowed: tuple[str, ...]) -> dict[str, Any]:
        """The request body: a JSON object with only ``allowed`` keys, else a 400."""
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise self.bad_request("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise self.bad_request("The request body must be a JSON object.")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise self.bad_request(
                f"Unknown field {unknown[0]!r}; expected one of: {', '.join(allowed)}."
            )
        return body

    def run_id_arg(self, run_id: str) -> str:
        """Path run ids: unknown-looking ones are a 404 without touching the store's files."""
        try:
            if len(run_id) > MAX_RUN_ID:
                raise InvalidParameterError(run_id)
            return safe_run_id(run_id)
        except InvalidParameterError:
            raise http_error(RunNotFoundError(f"No run with id {run_id[:80]!r}.")) from None

    async def resolved(self, run_id: str) -> str:
        """The full id of the run a path names, by the one rule for run ids
        (``Store.resolve_run_id``: surrounding whitespace ignored, an exact id, else a
        case-insensitive unique prefix); a 404 when it names no run."""
        checked = self.run_id_arg(run_id)
        return await self.call(lambda store: store.resolve_run_id(checked))


class ExperimentsHandler(MLOpsHandler):
    @web.authenticated
    async def get(self) -> None:
        rows = await self.call(lambda store: store.list_experiments())
        self.finish({"experiments": [wire.experiment(row) for row in rows]})


class RunsHandler(MLOpsHandler):
    @web.authenticated
    async def get(self) -> None:
        experiment = self.text_arg("experiment")
        status = self.text_arg("status")
        if status is not None and status.upper() not in RUN_STATUSES:
            raise http_error(
                InvalidFilterError(
                    f"Unknown status {status[:40]!r}; use one of {', '.join(RUN_STATUSES)}."
                )
            )
        order_by = self.text_arg("order_by")
        if order_by is not None and any(not part.strip() for part in order_by.split(",")):
            raise self.bad_request(
                f"order_by has an empty item: {order_by[:80]!r} (use KEY [ASC|DESC], ...).",
                reason="InvalidFilterError",
            )
        query: dict[str, Any] = {
            "filter": self.text_arg("filter"),
            "search": self.text_arg("search"),
            "order_by": order_by,
            "limit": self.int_arg(
                "limit", self.limits.rest_default_limit, 1, self.limits.rest_max_limit
            ),
            "offset": self.int_arg("offset", 0, 0, MAX_OFFSET),
            "statuses": [status.upper()] if status else None,
            "lifecycle": self.text_arg("lifecycle") or "active",
        }
        parent = self.text_arg("parent")
        if parent is not None and parent.strip().lower() == "none":
            query["top_level_only"] = True
            parent = None

        def search(store: Store) -> tuple[list[RunRecord], int]:
            if parent is not None:  # a run id by the one rule (404 when it names no run)
                query["parent_run_id"] = store.resolve_run_id(parent)
            if experiment is not None:
                try:
                    query["experiment_ids"] = [store.experiment_id(experiment, create=False)]
                except InvalidParameterError:  # no such experiment: nothing matches
                    query["experiment_ids"] = []
            return store.search_runs(**query)

        records, total = await self.call(search)
        self.finish(
            {
                "runs": [wire.run_summary(r) for r in records],
                "total": total,
                "offset": query["offset"],
                "limit": query["limit"],
            }
        )


class RunHandler(MLOpsHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        run_id = await self.resolved(run_id)
        record = await self.call(lambda store: store.get_run(run_id))
        self.finish(wire.run_detail(record))

    @web.authenticated
    async def patch(self, run_id: str) -> None:
        """Edit a run: ``{"name": ..., "note": ..., "tags": {key: value or null}}``."""
        run_id = await self.resolved(run_id)
        body = self.json_object(("name", "note", "tags"))
        if not body:
            raise self.bad_request("Nothing to change: give name, note and/or tags.")
        name, note, raw_tags = body.get("name"), body.get("note"), body.get("tags")
        if "name" in body and not isinstance(name, str):
            raise self.bad_request(f"name must be a string, got {name!r}.")
        if "note" in body and note is not None and not isinstance(note, str):
            raise self.bad_request(f"note must be a string or null, got {note!r}.")
        if "tags" in body and (
            not isinstance(raw_tags, dict)
            or not all(v is None or isinstance(v, str) for v in raw_tags.values())
        ):
            raise self.bad_request(
                "tags must be an object of strings (null removes a tag), "
                f"got {json.dumps(raw_tags)[:80]}."
            )
        tag_edits: dict[str, str | None] = raw_tags if isinstance(raw_tags, dict) else {}

        def edit(store: Store) -> RunRecord:
            if "tags" in body:
                store.set_tags(run_id, {k: v for k, v in tag_edits.items() if v is not None})
                store.delete_tags(run_id, [k for k, v in tag_edits.items() if v is None])
            if "note" in body:
                store.set_note(run_id, note)
            if isinstance(name, str):  # given (checked above)
                store.rename_run(run_id, name)
            return store.get_run(run_id)

        self.finish(wire.run_detail(await self.call(edit)))

    @web.authenticated
    async def delete(self, run_id: str) -> None:
        """Purge an archived run for good (409 when it is not archived)."""
        run_id = await self.resolved(run_id)
        purged = await self.call(lambda store: store.purge_runs([run_id]))
        self.finish({"run_ids": purged})


class LifecycleHandler(MLOpsHandler):
    """``POST runs/archive`` / ``runs/restore``: ``{"run_ids": [...], "children": true}``."""

    archive = True

    @web.authenticated
    async def post(self) -> None:
        body = self.json_object(("run_ids", "children"))
        ids, children = body.get("run_ids"), body.get("children", True)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise self.bad_request("run_ids must be a non-empty list of run ids.")
        most = self.limits.rest_max_body_runs
        if len(ids) > most:
            raise self.bad_request(f"At most {most} runs at once, got {len(ids)}.")
        if not isinstance(children, bool):
            raise self.bad_request(f"children must be true or false, got {children!r}.")
        for run_id in ids:
            self.run_id_arg(run_id)
        ids = await self.call(lambda store: store.resolve_run_ids(ids))
        if self.archive:
            changed = await self.call(lambda store: store.archive_runs(ids, children=children))
        else:
            changed = await self.call(lambda store: store.restore_runs(ids, children=children))
        self.finish({"run_ids": changed})


class ArchiveHandler(LifecycleHandler):
    archive = True


class RestoreHandler(LifecycleHandler):
    archive = False


class MetricHistoryHandler(MLOpsHandler):
    @web.authenticated
    async def get(self, run_id: str, key: str) -> None:
        run_id = await self.resolved(run_id)
        if not key:
            raise self.bad_request("Metric key is empty.")
        if "\x00" in key:
            raise self.bad_request("Metric key contains a NUL character.")
        max_points = self.int_arg("max_points", None, 1, self.limits.rest_max_points)
        # The store keeps first and last points, so it needs 2; 1 means "the latest point".
        asked = None if max_points is None else max(2, max_points)
        keep_last = 1 if max_points == 1 else None

        def load(store: Store) -> bytes:
            history = store.metric_history(run_id, key, asked)
            return wire.json_bytes(wire.metric_history(key, history, keep_last=keep_last))

        self.finish_json(await self.call_in_turn(load))


class ArtifactsHandler(MLOpsHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        run_id = await self.resolved(run_id)

        def listing(store: Store) -> list[tuple[str, int]]:
            if not store.run_exists(run_id):
                raise RunNotFoundError(f"No run with id {run_id!r}.")
            return store.artifacts.list(run_id)

        artifacts = await self.call(listing)
        self.finish({"artifacts": wire.artifact_list(artifacts)})


def checked_artifact_path(path: str) -> str:
    """The normalised relative path, or InvalidParameterError for anything that could escape.

    Stricter than ``safe_relative_path``: any ``..`` segment is refused even when it would
    normalise back inside (``a/../b``), and so is whatever still looks percent-encoded after
    Tornado's one round of decoding (``%2e%2e%2f`` sent as ``%252e%252e%252f``).
    """
    decoded = urllib.parse.unquote(path)
    for candidate in {path, decoded}:
        parts = candidate.replace("\\", "/").split("/")
        if ".." in parts:
            raise InvalidParameterError(f"Artifact path may not contain '..': {path!r}.")
        safe_relative_path(candidate)
    return safe_relative_path(path)


class ArtifactHandler(MLOpsHandler):
    """Download one artifact; never anything outside the run's artifact folder."""

    @web.authenticated
    async def get(self, run_id: str, path: str) -> None:
        run_id = await self.resolved(run_id)
        try:
            relative = checked_artifact_path(path)
        except InvalidParameterError as exc:
            raise http_error(exc) from None

        def open_artifact(store: Store) -> IO[bytes]:
            if not store.run_exists(run_id):
                raise RunNotFoundError(f"No run with id {run_id!r}.")
            return store.artifacts.open(run_id, relative)  # refuses symlinks leading out

        try:
            handle = await self.call(open_artifact)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise web.HTTPError(
                404, f"No artifact {relative!r} in run {run_id}.", reason="ArtifactNotFound"
            ) from None
        await self._send(handle, posixpath.basename(relative))

    async def _send(self, handle: IO[bytes], filename: str) -> None:
        content_type = "application/octet-stream"
        quoted = urllib.parse.quote(filename, safe="")
        self.set_header("Content-Type", content_type)
        # Artifacts are user data: never render them as pages on the Jupyter origin.
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quoted}")
        self.set_header("X-Content-Type-Options", "nosniff")
        size = getattr(handle, "size", None)
        if isinstance(size, int):
            self.set_header("Content-Length", str(size))
        try:
            while True:
                chunk = await asyncio.to_thread(handle.read, CHUNK)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
            await self.finish(set_content_type=content_type)
        except StreamClosedError:
            pass
        finally:
            await asyncio.to_thread(handle.close)


class CompareHandler(MLOpsHandler):
    def run_ids_arg(self) -> list[str]:
        """``run_ids=a,b,c``: each checked as a path's run id, duplicates dropped (a 400 when
        missing, with an empty item, or over ``rest_max_compare`` runs)."""
        raw = self.get_query_argument("run_ids", None)
        if not raw:
            raise self.bad_request("run_ids is required: run_ids=ID1,ID2,...")
        ids = [part.strip() for part in raw.split(",")]
        if any(not part for part in ids):
            raise self.bad_request("run_ids has an empty item.")
        ids = list(dict.fromkeys(ids))
        if len(ids) > self.limits.rest_max_compare:
            raise self.bad_request(f"At most {self.limits.rest_max_compare} runs can be compared.")
        for run_id in ids:
            self.run_id_arg(run_id)
        return ids

    @web.authenticated
    async def get(self) -> None:
        ids = self.run_ids_arg()

        def load(store: Store) -> list[RunRecord]:
            # the one rule for run ids (an exact id, else a unique prefix), as in paths;
            # summaries are all a comparison sends (one batch of queries, not a get_run each)
            return store.run_summaries(store.resolve_run_ids(ids))

        records = await self.call(load)
        self.finish(wire.comparison(records))


class CompareMetricsHandler(CompareHandler):
    """``compare/metrics?run_ids=a,b&key=loss&max_points=1000``: one metric's history of
    several runs in one answer (a compare chart's curves: one request, not one per run)."""

    DEFAULT_MAX_POINTS = 1000

    @web.authenticated
    async def get(self) -> None:
        ids = self.run_ids_arg()
        key = self.text_arg("key")
        if key is None:
            raise self.bad_request("key is required: the metric key, key=loss.")
        max_points = self.int_arg(
            "max_points", self.DEFAULT_MAX_POINTS, 1, self.limits.rest_max_points
        )
        assert max_points is not None  # a default is given
        asked = max(2, max_points)  # as for one run: 1 means "the latest point"
        keep_last = 1 if max_points == 1 else None

        def load(store: Store) -> bytes:
            full = list(dict.fromkeys(store.resolve_run_ids(ids)))
            histories = store.metric_histories(full, key, asked)
            return wire.json_bytes(
                {
                    "key": key,
                    "histories": {
                        run_id: wire.metric_history(key, history, keep_last=keep_last)
                        for run_id, history in histories.items()
                    },
                }
            )

        self.finish_json(await self.call_in_turn(load))


class NotFoundHandler(MLOpsHandler):
    """Anything else under the API prefix: a JSON 404 rather than Jupyter's HTML page."""

    @web.authenticated
    def get(self, path: str) -> None:
        raise web.HTTPError(
            404, f"No such jupyter-mlops endpoint: {path[:200]!r}.", reason="NotFound"
        )

    # Whatever the method: no resource here, so no 405 either.
    head = post = put = patch = delete = get


ROUTES: list[tuple[str, type[APIHandler]]] = [
    ("experiments", ExperimentsHandler),
    ("runs", RunsHandler),
    # Before runs/{run_id}: the first matching route wins.
    ("runs/archive", ArchiveHandler),
    ("runs/restore", RestoreHandler),
    ("runs/([^/]+)", RunHandler),
    ("runs/([^/]+)/metrics/(.+)", MetricHistoryHandler),
    ("runs/([^/]+)/artifacts", ArtifactsHandler),
    ("runs/([^/]+)/artifacts/(.+)", ArtifactHandler),
    ("compare", CompareHandler),
    ("compare/metrics", CompareMetricsHandler),
    ("events", EventsHandler),
]


def setup_handlers(web_app: Any) -> None:
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            *(
                (url_path_join(base_url, API_PREFIX, pattern) + "$", handler)
                for pattern, handler in ROUTES
            ),
            (url_path_join(base_url, API_PREFIX, "(.*)") + "$", NotFoundHandler),
        ],
    )
