"""The PostgreSQL fixtures in conftest.py start a real server and hand out usable URLs."""

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def test_postgres_store_url_roundtrip(postgres_store_url):
    assert postgres_store_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_store_url)
    try:
        meta = sa.MetaData()
        items = sa.Table(
            "items",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(items.insert(), [{"name": "alpha"}, {"name": "beta"}])
        with engine.connect() as conn:
            names = conn.execute(sa.select(items.c.name).order_by(items.c.id)).scalars().all()
            assert names == ["alpha", "beta"]
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == (
                engine.url.database
            )
    finally:
        engine.dispose()


def test_postgres_store_url_is_fresh_per_test(postgres_store_url, postgres_url):
    # A new database per test: the table created by the previous test is not here.
    engine = sa.create_engine(postgres_store_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    # The session database is a different one, on the same server.
    assert postgres_url.rsplit("/", 1)[0] == postgres_store_url.rsplit("/", 1)[0]
    assert postgres_url != postgres_store_url
