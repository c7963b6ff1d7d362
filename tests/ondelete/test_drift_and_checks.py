"""The drift command, the system checks and their hints."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import isolate_apps

import rowsync
from rowsync.ondelete.checks import check_drift, plan_errors
from rowsync.ondelete.plan import build_plan
from rowsync.schema import desired_objects, install_objects, uninstall_objects


@pytest.mark.django_db(transaction=True)
def test_drift_command_reports_and_exits_non_zero():
    from rowsync.ondelete.drift import differences
    from tests.odapp.models import Chapter

    # Other subsystems' objects are theirs to check: look at on_delete's only.
    assert differences("default", owners=("ondelete",)) == []

    obj = desired_objects(Chapter, (connection.vendor,))[0]
    uninstall_objects(connection, [obj])
    try:
        out = io.StringIO()
        with pytest.raises(CommandError):
            call_command("rowsync", "check", "--database", "default", stdout=out)
        assert f"missing: {obj.name}" in out.getvalue()
        messages = check_drift(databases=["default"])
        assert [m.id for m in messages if obj.name in m.msg] == ["rowsync.E040"]
    finally:
        install_objects(connection, [obj])
    assert not [m for m in check_drift(databases=["default"]) if m.id == "rowsync.E040"]


def test_project_checks_are_clean():
    from rowsync.ondelete.checks import check_models

    assert check_models() == []


def _errors(*models_):
    registry = models_[0]._meta.apps
    plan = build_plan(registry, ())
    return [e.id for e in plan_errors(plan, set(registry.get_models(include_auto_created=True)))]


@isolate_apps("tests.odapp")
def test_db_constraint_false_is_refused():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class C(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_CASCADE, db_constraint=False)

    assert _errors(P, C) == ["rowsync.E031"]


@isolate_apps("tests.odapp")
def test_set_null_on_non_null_field():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class C(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_SET_NULL)

    assert _errors(P, C) == ["rowsync.E032"]


@isolate_apps("tests.odapp")
def test_python_callable_cannot_run_in_the_database():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class C(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_SET(lambda: 1))

    class Top(models.Model):
        __module__ = "tests.odapp.models"

    class Mid(models.Model):
        __module__ = "tests.odapp.models"
        top = models.ForeignKey(Top, rowsync.DB_CASCADE)

    class Low(models.Model):
        __module__ = "tests.odapp.models"
        mid = models.ForeignKey(Mid, models.SET(lambda: None), null=True)

    errors = _errors(P, C)
    assert errors.count("rowsync.E033") == 2


@isolate_apps("tests.odapp")
def test_generic_relation_on_a_database_deleted_model():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class Item(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_CASCADE)
        marks = GenericRelation("Mark")

    class Mark(models.Model):
        __module__ = "tests.odapp.models"
        content_type = models.ForeignKey(ContentType, models.CASCADE)
        object_id = models.PositiveIntegerField()
        target = GenericForeignKey()

    assert "rowsync.E034" in _errors(P, Item, Mark)


@isolate_apps("tests.odapp")
def test_database_cascade_into_an_mti_child():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class Base(models.Model):
        __module__ = "tests.odapp.models"

    class Child(Base):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_CASCADE)

    assert _errors(P, Base, Child) == ["rowsync.E035"]


def test_project_plan_covers_chains():
    from tests.odapp.models import Book, Leaf, Note, Restaurant

    plan = build_plan(apps, ())
    sources = {f"{f.model._meta.label}.{f.name}": b.source for f, b in plan.behaviours.items()}
    assert sources["odapp.Book.author"] == "field"
    assert sources["odapp.Note.chapter"] == "chain"
    assert sources["odapp.Leaf.episode"] == "chain"
    assert sources["odapp.Restaurant.place_ptr"] == "chain"
    assert sources[Book.tags.through._meta.label + ".book"] == "chain"
    assert Note in plan.deletable and Restaurant in plan.deletable and Leaf not in plan.deletable


STRAY = "rowsync_od_stray_trigger"
STRAY_SQL = {
    "sqlite": [f"CREATE TRIGGER {STRAY} AFTER DELETE ON {{table}} BEGIN SELECT 1; END"],
    "mysql": [f"CREATE TRIGGER {STRAY} AFTER DELETE ON {{table}} FOR EACH ROW SET @stray = 1"],
    "postgresql": [
        f"CREATE FUNCTION {STRAY}_fn() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN OLD; END $$",
        f"CREATE TRIGGER {STRAY} AFTER DELETE ON {{table}} FOR EACH ROW "
        f"EXECUTE FUNCTION {STRAY}_fn()",
    ],
}
STRAY_DROP = {
    "sqlite": [f"DROP TRIGGER {STRAY}"],
    "mysql": [f"DROP TRIGGER {STRAY}"],
    "postgresql": [f"DROP TRIGGER {STRAY} ON {{table}}", f"DROP FUNCTION {STRAY}_fn()"],
}


@pytest.mark.django_db(transaction=True)
def test_drift_command_reports_an_object_no_model_wants():
    from tests.odapp.models import Chapter

    table = connection.ops.quote_name(Chapter._meta.db_table)
    with connection.cursor() as cursor:
        for sql in STRAY_SQL[connection.vendor]:
            cursor.execute(sql.format(table=table))
    try:
        out = io.StringIO()
        with pytest.raises(CommandError, match=r"^1 difference\(s\)"):
            call_command("rowsync", "check", "--database", "default", stdout=out)
        assert f"[default] unexpected: {STRAY} on {Chapter._meta.db_table}" in out.getvalue()
    finally:
        with connection.cursor() as cursor:
            for sql in STRAY_DROP[connection.vendor]:
                cursor.execute(sql.format(table=table))
    out = io.StringIO()
    call_command("rowsync", "check", "--database", "default", stdout=out)
    assert out.getvalue().strip() == "[default] no drift"
