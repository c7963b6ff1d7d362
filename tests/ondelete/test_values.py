"""The ``DB_*`` values themselves and the database form of Python's ``on_delete`` values.

``python_behaviour`` is what the project-wide switch (``ROWSYNC_DB_ON_DELETE``) compiles a
field's Python-level ``on_delete`` into; ``field_behaviour`` reads rowsync's own values.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.test.utils import isolate_apps

import rowsync
from rowsync.ondelete import actions as a
from rowsync.ondelete.plan import field_behaviour, python_behaviour


def test_values_read_as_their_public_names():
    assert repr(rowsync.DB_CASCADE) == "rowsync.DB_CASCADE"
    assert str(rowsync.DB_SET_DEFAULT) == "rowsync.DB_SET_DEFAULT"
    assert repr(rowsync.DB_SET(3)) == "rowsync.DB_SET(3)"
    assert str(rowsync.DB_SET("x")) == "rowsync.DB_SET('x')"


def test_db_set_equality_and_hash_follow_the_value():
    assert rowsync.DB_SET(3) == rowsync.DB_SET(3)
    assert rowsync.DB_SET(3) != rowsync.DB_SET(4)
    assert rowsync.DB_SET(3) != rowsync.DB_CASCADE
    assert len({rowsync.DB_SET(3), rowsync.DB_SET(3), rowsync.DB_SET("3")}) == 2


def test_db_set_values_the_database_can_render():
    assert rowsync.DB_SET(Value(7)).value_is_supported()
    assert rowsync.DB_SET(None).value_is_supported()
    assert rowsync.DB_SET(RawSQL("(SELECT 1)", [])).value_is_supported()
    assert not rowsync.DB_SET(RawSQL("(SELECT %s)", [1])).value_is_supported()
    assert not rowsync.DB_SET(Value(object())).value_is_supported()
    assert not rowsync.DB_SET(lambda: 1).value_is_supported()


def test_python_equivalents_for_a_listing_collector():
    assert rowsync.DB_CASCADE.forced_collector is models.CASCADE
    assert rowsync.DB_PROTECT.forced_collector is models.PROTECT
    assert rowsync.DB_RESTRICT.forced_collector is models.RESTRICT
    assert rowsync.DB_SET_NULL.forced_collector is models.SET_NULL
    assert rowsync.DB_SET_DEFAULT.forced_collector is models.SET_DEFAULT
    assert rowsync.DB_SET(1).forced_collector is models.DO_NOTHING
    assert a.db_action(a.SET_DEFAULT) is rowsync.DB_SET_DEFAULT


def _default() -> int:
    return 1


@isolate_apps("tests.odapp")
def test_python_behaviour_of_each_python_value():
    class P(models.Model):
        class Meta:
            app_label = "odapp"

    def custom(collector, field, sub_objs, using):  # a hand-written on_delete
        return None

    class C(models.Model):
        cascade = models.ForeignKey(P, models.CASCADE, related_name="+")
        restrict = models.ForeignKey(P, models.RESTRICT, related_name="+")
        nothing = models.ForeignKey(P, models.DO_NOTHING, related_name="+")
        set_none = models.ForeignKey(P, models.SET(None), null=True, related_name="+")
        set_const = models.ForeignKey(P, models.SET(5), related_name="+")
        set_call = models.ForeignKey(P, models.SET(_default), related_name="+")
        own = models.ForeignKey(P, custom, related_name="+")
        default_db = models.ForeignKey(
            P, models.SET_DEFAULT, db_default=Value(2), related_name="+"
        )
        default_none = models.ForeignKey(P, models.SET_DEFAULT, null=True, related_name="+")
        default_call = models.ForeignKey(P, models.SET_DEFAULT, default=_default, related_name="+")
        default_const = models.ForeignKey(P, models.SET_DEFAULT, default=4, related_name="+")

        class Meta:
            app_label = "odapp"

    def of(name):
        b = python_behaviour(C._meta.get_field(name), "setting")
        return (b.operation, b.value, b.supported)

    assert of("cascade") == (a.CASCADE, None, True)
    assert of("restrict") == (a.RESTRICT, None, True)
    assert of("nothing") == (a.DO_NOTHING, None, True)
    assert of("set_none") == (a.SET_NULL, None, True)
    assert of("set_const") == (a.SET, 5, True)
    assert of("set_call") == (a.SET, _default, False)
    assert of("own") == (a.SET, custom, False)
    assert of("default_db") == (a.SET_DEFAULT, Value(2), True)
    assert of("default_none") == (a.SET_DEFAULT, None, False)
    assert of("default_call") == (a.SET_DEFAULT, _default, False)
    assert of("default_const") == (a.SET_DEFAULT, 4, True)
    assert python_behaviour(C._meta.get_field("cascade"), "chain").source == "chain"


@isolate_apps("tests.odapp")
def test_field_behaviour_of_rowsync_values():
    class P(models.Model):
        class Meta:
            app_label = "odapp"

    class C(models.Model):
        plain = models.ForeignKey(P, models.CASCADE, related_name="+")
        db_null = models.ForeignKey(P, rowsync.DB_SET(None), null=True, related_name="+")
        db_set = models.ForeignKey(P, rowsync.DB_SET(Value(9)), related_name="+")
        db_default = models.ForeignKey(P, rowsync.DB_SET_DEFAULT, default=3, related_name="+")
        db_restrict = models.ForeignKey(P, rowsync.DB_RESTRICT, related_name="+")

        class Meta:
            app_label = "odapp"

    def of(name):
        b = field_behaviour(C._meta.get_field(name))
        return None if b is None else (b.operation, b.source, b.value, b.supported)

    assert of("plain") is None
    assert of("db_null") == (a.SET_NULL, "field", None, True)
    assert of("db_set") == (a.SET, "field", Value(9), True)
    assert of("db_default") == (a.SET_DEFAULT, "field", 3, True)
    assert of("db_restrict") == (a.RESTRICT, "field", None, True)
