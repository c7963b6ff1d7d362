"""Project-wide ROWSYNC_DB_ON_DELETE: what the database cannot do stays at the Python level."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core import checks
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

import rowsync
from rowsync.ondelete.checks import check_models, plan_errors, plan_warnings
from rowsync.ondelete.plan import build_plan


def _fallback():
    return None


def _models(*classes):
    return set(classes[0]._meta.apps.get_models(include_auto_created=True))


def _report(plan, registry_models):
    errors = [e.id for e in plan_errors(plan, registry_models)]
    warnings = {
        f"{w.obj.model.__name__}.{w.obj.name}": w.id for w in plan_warnings(plan, registry_models)
    }
    return errors, warnings


@isolate_apps("tests.odapp")
def test_all_keeps_what_the_database_cannot_do_at_python_level():
    class Shop(models.Model):
        __module__ = "tests.odapp.models"

    class Order(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)

    class Line(models.Model):
        __module__ = "tests.odapp.models"
        order = models.ForeignKey(Order, models.CASCADE)

    class Coupon(models.Model):
        __module__ = "tests.odapp.models"
        order = models.ForeignKey(Order, models.SET(_fallback), null=True)

    class Loose(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE, db_constraint=False)

    class Tagged(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)
        marks = GenericRelation("Mark")

    class Mark(models.Model):
        __module__ = "tests.odapp.models"
        content_type = models.ForeignKey(ContentType, models.CASCADE)
        object_id = models.PositiveIntegerField()
        target = GenericForeignKey()

    class Venue(models.Model):
        __module__ = "tests.odapp.models"

    class Stand(Venue):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)

    plan = build_plan(Shop._meta.apps, "__all__")
    errors, warnings = _report(plan, _models(Shop))
    assert errors == []
    assert warnings == {
        "Coupon.order": "rowsync.W111",
        "Loose.shop": "rowsync.W110",
        "Tagged.shop": "rowsync.W112",
        "Stand.shop": "rowsync.W113",
        # Coupon rows still point at orders: the database must not delete orders...
        "Order.shop": "rowsync.W114",
    }
    # ...while lines, whose own cascade the database can run, keep it.
    assert Line._meta.get_field("order") in plan.behaviours
    assert Order not in plan.deletable and Tagged not in plan.deletable
    # The MTI parent link is still enforced: deleting a Venue row deletes its Stand.
    assert Stand._meta.get_field("venue_ptr") in plan.behaviours
    for fk in plan.python_level:
        assert fk not in plan.behaviours


@isolate_apps("tests.odapp")
def test_explicit_database_choices_keep_their_errors_under_all():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class C(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, rowsync.DB_CASCADE, db_constraint=False)

    class Below(models.Model):
        __module__ = "tests.odapp.models"
        # Below a database cascade: the database must act on it, and cannot.
        c = models.ForeignKey(C, models.SET(_fallback), null=True)

    errors, warnings = _report(build_plan(P._meta.apps, "__all__"), _models(P))
    assert sorted(errors) == ["rowsync.E031", "rowsync.E033"]
    assert warnings == {}


@isolate_apps("tests.odapp")
def test_exclusion_leaves_models_out_of_all():
    class P(models.Model):
        __module__ = "tests.odapp.models"

    class C(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, models.CASCADE)

    class D(models.Model):
        __module__ = "tests.odapp.models"
        p = models.ForeignKey(P, models.CASCADE)

    registry = P._meta.apps
    assert C._meta.get_field("p") in build_plan(registry, "__all__").behaviours
    plan = build_plan(registry, "__all__", ["odapp.c"])
    assert C._meta.get_field("p") not in plan.behaviours
    assert D._meta.get_field("p") in plan.behaviours
    assert not build_plan(registry, "__all__", ["odapp"]).behaviours
    # A model named by its own label stays selected.
    assert C._meta.get_field("p") in build_plan(registry, ["odapp.C"], ["odapp"]).behaviours


@pytest.mark.parametrize("selection", ["__all__", ["ormapp", "odapp", "auth", "contenttypes"]])
def test_test_project_starts_under_project_wide_selection(selection):
    with override_settings(ROWSYNC_DB_ON_DELETE=selection):
        messages = check_models()
    assert [m for m in messages if m.level >= checks.ERROR] == []
    warned = {(m.id, m.obj.model._meta.label, m.obj.name) for m in messages}
    assert ("rowsync.W110", "ormapp.AuthorDetail", "author") in warned
    assert all(m.hint and m.obj.name in m.msg for m in messages)


def test_warnings_only_for_the_checked_apps():
    with override_settings(ROWSYNC_DB_ON_DELETE="__all__"):
        messages = check_models([apps.get_app_config("odapp")])
    assert all(m.obj.model._meta.app_label == "odapp" for m in messages)


@isolate_apps("tests.odapp")
def test_self_referencing_set_stays_python_level_under_all_where_a_trigger_cannot_run_it():
    from rowsync.backends import offline_backend
    from rowsync.ondelete.checks import self_reference_messages

    class Node(models.Model):
        __module__ = "tests.odapp.models"
        # Python's SET_DEFAULT, selected by "__all__" only.
        parent = models.ForeignKey("self", models.SET_DEFAULT, null=True, default=None)

    class Tree(models.Model):
        __module__ = "tests.odapp.models"
        # An explicit database choice the engine cannot run.
        up = models.ForeignKey("self", rowsync.DB_SET(None), null=True, related_name="+")
        top = models.ForeignKey("self", rowsync.DB_SET_DEFAULT, null=True, default=None)

    plan = build_plan(Node._meta.apps, "__all__")
    selected = _models(Node)
    # MariaDB/MySQL: a trigger cannot update its own table.
    mysql = {
        (m.id, f"{m.obj.model.__name__}.{m.obj.name}"): m
        for m in self_reference_messages(plan, selected, offline_backend("mysql"), "MariaDB")
    }
    assert set(mysql) == {("rowsync.W115", "Node.parent"), ("rowsync.E037", "Tree.top")}
    warning = mysql["rowsync.W115", "Node.parent"]
    assert warning.level == checks.WARNING
    assert "Node.parent" in warning.msg and "MariaDB" in warning.msg and warning.hint
    # Engines whose triggers may update their own table enforce both.
    for vendor in ("sqlite", "postgresql"):
        assert self_reference_messages(plan, selected, offline_backend(vendor), vendor) == []
