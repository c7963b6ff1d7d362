from __future__ import annotations

import pytest
from django.db import connection


def raw_delete(table: str, pk: int) -> None:
    """Delete one row with plain SQL (autocommit), bypassing Django's Collector."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)} WHERE id = %s", [pk])


@pytest.fixture
def raw():
    return raw_delete
