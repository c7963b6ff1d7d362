"""Fixtures of the identity-map tests: every test starts and ends with empty maps."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

import rowsync


@pytest.fixture(autouse=True)
def _empty_maps() -> Iterator[None]:
    rowsync.flush()
    yield
    rowsync.flush()
    gc.collect()


class Queries(CaptureQueriesContext):
    """Capture the queries of a block on a connection (``len(q)``, ``q.sql``)."""

    @property
    def sql(self) -> list[str]:
        return [q["sql"] for q in self.captured_queries]


@pytest.fixture
def queries():
    """Return a factory: ``with queries() as q: ...; assert len(q) == 0``."""

    def make(alias: str = "default") -> Queries:
        return Queries(connections[alias])

    return make
