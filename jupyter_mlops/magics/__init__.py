"""IPython magics: a thin face over ``tracking``. ``%load_ext jupyter_mlops`` registers them."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from .remote import RemoteMagics
    from .track import MLOpsMagics

    magics = MLOpsMagics(ipython)
    ipython.register_magics(magics)
    ipython.register_magics(RemoteMagics(ipython))
    ipython._jupyter_mlops_magics = magics
    try:  # the live view is optional: no widget stack, no live view, tracking still works
        from ..widgets import enable_live_view

        enable_live_view(ipython)
    except ImportError:
        pass


def unload_ipython_extension(ipython: Any) -> None:
    magics = getattr(ipython, "_jupyter_mlops_magics", None)
    if magics is not None:
        magics.stop_session()
    from ..remote import registry

    registry().close_all()  # the kernels %%remote started
