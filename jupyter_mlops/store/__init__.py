"""The run store: schema, migrations, background writer, queries, artifacts."""

from .records import RUN_STATUSES, CellRecord, RunRecord
from .store import DEFAULT_EXPERIMENT, Store

__all__ = ["DEFAULT_EXPERIMENT", "RUN_STATUSES", "CellRecord", "RunRecord", "Store"]
