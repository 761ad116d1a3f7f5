"""CORE: run a cell somewhere else and make it feel local (``%%remote TARGET``).

- ``analysis``  names a cell reads and assigns (``ast``)
- ``transfer``  variables to frames and back (cloudpickle, protocol 5 buffers), size guard
- ``agent``     the remote side (sent as source): runs the cell, relays tracking calls
- ``cell``      request / outcome / sink types shared by every target; version check
- ``kernel``    the kernel protocol, and the ``local`` target (jupyter_client)
- ``gateway``   ``gateway:http://HOST:PORT`` (Kernel / Enterprise Gateway: REST + WebSocket)
- ``dask``      ``dask:tcp://HOST:PORT`` (a task on a worker, output over Dask events)
- ``targets``   target URLs, named targets (``%remote add``, ``c.MLOps.remote_targets``)
- ``runner``    one cell end to end; ``--async`` handles
"""

from .runner import (
    PrintSink,
    RemoteExecutionError,
    RemoteHandle,
    RemoteResult,
    RemoteTraceback,
    execute,
    prepare,
    run_remote,
    run_remote_async,
)
from .targets import Registry, registry

__all__ = [
    "PrintSink",
    "Registry",
    "RemoteExecutionError",
    "RemoteHandle",
    "RemoteResult",
    "RemoteTraceback",
    "execute",
    "prepare",
    "registry",
    "run_remote",
    "run_remote_async",
]
