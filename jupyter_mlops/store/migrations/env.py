"""Alembic environment: always run on the connection the store hands over."""

from alembic import context

from jupyter_mlops.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()
