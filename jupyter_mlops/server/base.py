"""What every handler of the extension shares: the URL prefix, the settings keys, and the
``Allow`` header of a ``405`` answer (RFC 9110 requires it; the OpenAPI contract checks it).

Its own module so that the package entry point (``__init__``), ``handlers`` and ``events``
import it, not each other.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado.web import RequestHandler

API_PREFIX = "jupyter-mlops/api"
SETTINGS_KEY = "jupyter_mlops"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(handler: type[RequestHandler]) -> list[str]:
    """The HTTP methods ``handler`` implements (those it overrides of RequestHandler's)."""
    return [
        method
        for method in METHODS
        if getattr(handler, method.lower()) is not getattr(RequestHandler, method.lower())
    ]


class BaseHandler(APIHandler):
    """An APIHandler whose ``405`` answers say which methods the resource takes."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        super().write_error(status_code, **kwargs)
