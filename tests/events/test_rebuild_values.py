"""Row-image values in the shapes engines write them, rebuilt into the field's Python value."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from rowsync.events.dispatch import rebuild
from tests.evapp.models import Book

BASE = {"id": 5, "author_id": 2, "title": "t", "in_print": True}
WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


@pytest.mark.parametrize("fast", [False, True], ids=["from_db", "fast"])
@pytest.mark.parametrize(
    ("column", "value", "attname", "expected"),
    [
        # A JSON number the decoder read as a float: exact as its shortest repr.
        ("price", 3.1, "price", Decimal("3.1")),
        ("price", "3.50", "price", Decimal("3.50")),
        # ISO text with a space; non-padded text fromisoformat refuses but Django reads.
        ("published", "2024-01-02 03:04:05+00:00", "published", WHEN),
        ("published", "2024-1-2 3:04:05+00:00", "published", WHEN),
        ("author_id", "2", "author_id", 2),
        ("in_print", 0, "in_print", False),
    ],
)
def test_engine_shapes_become_python_values(column, value, attname, expected, fast):
    instance = rebuild(Book, {**BASE, column: value}, "default", fast=fast)
    got = getattr(instance, attname)
    assert got == expected
    assert type(got) is type(expected)
