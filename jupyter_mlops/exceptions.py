"""Typed errors for everything a user can get wrong.

Every error a user can cause derives from :class:`MLOpsError`, so callers (magics, CLI, REST
handlers) can turn them into a clean message instead of a traceback.

Each class carries what the faces answer with, so there is one table (docs/errors.md):
``http_status`` (the REST handlers' status) and ``exit_code`` (the CLI's). The defaults are
400 and 2, a bad input; a store that cannot be used now is 503 and 3 (try again later); a
user's notebook that failed is exit code 1.
"""

from __future__ import annotations


class MLOpsError(Exception):
    """Base class of all jupyter-mlops user-facing errors."""

    #: REST status of this error (``server/handlers.py``).
    http_status: int = 400
    #: ``jupyter mlops`` exit code of this error (``cli/main.py``).
    exit_code: int = 2


class StoreError(MLOpsError):
    """The store could not be opened or used."""

    http_status = 503
    exit_code = 3


class InvalidStoreURLError(StoreError):
    """The store URL is malformed or names an unsupported database."""

    exit_code = 2  # the command line's fault (REST: the server's configuration, still 503)


class StoreRefusedError(StoreError):
    """The database refused what was asked of it (a value or comparison it cannot hold) while
    the store itself is fine: the request's fault, not an outage."""

    http_status = 400
    exit_code = 2


class StoreUnreachableError(StoreError):
    """The database named by the store URL cannot be reached."""


class StoreTimeoutError(StoreUnreachableError, TimeoutError):
    """The store did not accept writes in time (``flush``); still a ``TimeoutError``."""


class StoreOfflineError(StoreError):
    """The store is used offline (``JUPYTER_MLOPS_OFFLINE=1``): it logs, but cannot read."""


class SchemaTooNewError(StoreError):
    """The store was written by a newer jupyter-mlops; nothing is written to it."""


class InvalidParameterError(MLOpsError, ValueError):
    """A param, tag, metric or other argument is invalid."""


class InvalidSettingError(MLOpsError, ValueError):
    """A setting (``c.MLOps.*`` or a ``JUPYTER_MLOPS_*`` environment variable) has a bad
    value; the message names it."""

    http_status = 500  # the server's own configuration


class RunNotFoundError(MLOpsError, LookupError):
    """No run has the given id."""

    http_status = 404


class NoActiveRunError(MLOpsError):
    """A logging call was made while no run is active."""


class RunLifecycleError(MLOpsError):
    """The run is not in the lifecycle stage the operation needs (purging an active run)."""

    http_status = 409


class UnknownParameterError(InvalidParameterError):
    """A notebook parameter was given that the notebook's parameters cell does not define."""


class InvalidFilterError(MLOpsError, ValueError):
    """A run filter or order-by expression could not be parsed."""


class UsageError(MLOpsError):
    """A CLI command was called with arguments that parse but do not fit together (a tag
    without ``=``, nothing to do); the message says what to give instead."""


class NotebookExecutionError(MLOpsError):
    """A notebook executed headless failed in one of its cells."""

    http_status = 500
    exit_code = 1  # the notebook's own failure, not a usage error

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id  # the FAILED notebook run


class RemoteError(MLOpsError):
    """A ``%%remote`` cell could not run on its target; the message names the target."""


class RemoteTargetError(RemoteError, ValueError):
    """A remote target name or URL is unknown or malformed."""


class RemoteUnreachableError(RemoteError, ConnectionError):
    """The remote target cannot be reached (refused, timed out, name not resolved)."""

    http_status = 503
    exit_code = 3


class RemoteAuthError(RemoteError, PermissionError):
    """The remote target refused the credentials (a missing or wrong token)."""


class RemoteKernelDiedError(RemoteError):
    """The remote kernel died, restarted or disappeared; its state is lost and the next
    ``%%remote`` starts a new kernel."""


class RemoteVersionError(RemoteError):
    """Python or cloudpickle differ between the two sides, so objects cannot move safely."""


class RemoteTransferError(RemoteError):
    """A variable cannot be shipped: unpicklable, or over the size limit; names it."""


class RemoteTimeoutError(RemoteError, TimeoutError):
    """The remote cell ran longer than ``--timeout``; it was interrupted."""


class RemoteCancelledError(RemoteError):
    """The remote cell was cancelled before it finished."""


class PipelineError(MLOpsError):
    """A notebook pipeline cannot be built or run (base of the pipeline errors)."""


class NotebookFormatError(PipelineError, ValueError):
    """The file is not a valid Jupyter notebook (or pipeline.yaml), named in the message."""


class TagError(PipelineError, ValueError):
    """A cell tag is not in the pipeline vocabulary, or is misused; the message names the cell."""


class DuplicateStepError(TagError):
    """Two steps have one name."""


class UnknownStepError(PipelineError, LookupError):
    """``prev:``, ``--only`` or ``--from`` names a step that does not exist."""


class CycleError(PipelineError):
    """The step dependencies form a cycle; ``steps`` lists it in order."""

    def __init__(self, message: str, steps: list[str]) -> None:
        super().__init__(message)
        self.steps = steps


class PipelineParameterError(PipelineError, InvalidParameterError):
    """A ``-p`` parameter the pipeline does not define, or a value of the wrong type."""


class HandoverError(PipelineError):
    """A value a step hands over cannot be serialized (names the variable and the step)."""


class MissingInputsError(PipelineError):
    """``--only`` / ``--from``: a step's inputs come from steps that have no cached result."""


class SchedulerUnreachableError(PipelineError, ConnectionError):
    """The Dask scheduler given to ``--scheduler`` cannot be reached."""

    http_status = 503
    exit_code = 3


class PipelineWarning(UserWarning):
    """Something in a pipeline is suspicious but not fatal (a name no step defines)."""
