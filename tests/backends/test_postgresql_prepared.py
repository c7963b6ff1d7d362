"""PostgreSQL: the worker's look into every inbox is planned once per connection."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from rowsync.events import inbox

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires("inbox_take")]


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


def boxes():
    return inbox.present("default", inbox.specs("default"))


def test_the_holding_query_is_prepared_once_per_connection():
    connection.close()
    statements = Statements()
    with connection.execute_wrapper(statements):
        for _ in range(3):
            assert inbox.holding("default", boxes()) == ()
    prepares = [s for s in statements.sql if s.startswith("PREPARE ")]
    executes = [s for s in statements.sql if s.startswith("EXECUTE ")]
    assert len(prepares) == 1 and len(executes) == 3
    connection.close()  # a new connection prepares it again
    with connection.execute_wrapper(statements):
        assert inbox.holding("default", boxes()) == ()
    assert len([s for s in statements.sql if s.startswith("PREPARE ")]) == 2


def test_a_lost_prepared_statement_falls_back_to_the_plain_query():
    connection.close()
    assert inbox.holding("default", boxes()) == ()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert inbox.holding("default", boxes()) == ()
        assert inbox.holding("default", boxes()) == ()
    assert statements.sql[-1].startswith("SELECT CASE WHEN EXISTS")


def test_inside_a_transaction_the_plain_query_runs():
    connection.close()
    statements = Statements()
    with connection.execute_wrapper(statements), transaction.atomic():
        assert inbox.holding("default", boxes()) == ()
    assert not [s for s in statements.sql if s.startswith(("PREPARE", "EXECUTE"))]
