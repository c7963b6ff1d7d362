"""SQL literals and quoted names that rowsync writes into frozen SQL (``DB_SET`` values...)."""

from __future__ import annotations

import pytest
from django.db import connection

from rowsync.backends import get_backend, offline_backend

VALUES = [None, True, False, 0, -12, 2.5, "plain", "it's", "", "two '' quotes"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_literal_reads_back_as_the_value(value):
    literal = get_backend(connection).literal_sql(value)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {literal}")
        (got,) = cursor.fetchone()
    expected = int(value) if isinstance(value, bool) else value
    assert got == expected


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql", "mysql"])
def test_offline_literals_and_names(vendor):
    backend = offline_backend(vendor)
    q = backend.identifier_quote
    assert backend.literal_sql(None) == "NULL"
    assert backend.literal_sql(True) == "1" and backend.literal_sql(False) == "0"
    assert backend.literal_sql("a'b") == "'a''b'"
    assert backend.qn("tbl") == f"{q}tbl{q}"
    assert backend.qn(f"{q}tbl{q}") == f"{q}tbl{q}"  # already quoted: left alone
    assert backend.requote('"a"."b"') == f"{q}a{q}.{q}b{q}"


def test_unknown_vendor_is_refused_with_its_name():
    from rowsync.exceptions import ImproperlyConfiguredBackend

    with pytest.raises(ImproperlyConfiguredBackend, match="'oracle'"):
        offline_backend("oracle")

    class Unknown:
        vendor = "oracle"

    with pytest.raises(ImproperlyConfiguredBackend, match="database vendor 'oracle'"):
        get_backend(Unknown())
