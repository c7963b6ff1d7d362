"""Django 6.1: rowsync's DB_* values and Django's models.DB_* values in one chain.

Django's fields.E323 refuses a chain that mixes its database-level and Python-level
values. rowsync's values are enforced by the database too, whichever way they are mixed
with Django's: no E323, and the whole chain is deleted by the database.
"""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

import rowsync
from rowsync.backends import get_backend
from rowsync.schema import desired_objects_for, install_objects, uninstall_objects

pytestmark = pytest.mark.skipif(
    not hasattr(models, "DB_CASCADE"), reason="models.DB_CASCADE is Django 6.1's"
)


def _chain(top, bottom):
    """Return models Root <-bottom- Mid <-top- Leaf (and a Python-level Side)."""

    class Root(models.Model):
        class Meta:
            app_label = "odapp"
            db_table = "odmix_root"

    class Mid(models.Model):
        root = models.ForeignKey(Root, bottom)

        class Meta:
            app_label = "odapp"
            db_table = "odmix_mid"

    class Leaf(models.Model):
        mid = models.ForeignKey(Mid, top)

        class Meta:
            app_label = "odapp"
            db_table = "odmix_leaf"

    return Root, Mid, Leaf


DIRECTIONS = {
    "django_over_rowsync": lambda: (models.DB_CASCADE, rowsync.DB_CASCADE),
    "rowsync_over_django": lambda: (rowsync.DB_CASCADE, models.DB_CASCADE),
}


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_no_e323_when_mixing(direction):
    top, bottom = DIRECTIONS[direction]()
    with isolate_apps("tests.odapp"):
        _root, mid, leaf = _chain(top, bottom)
        for model in (mid, leaf):
            errors = [e.id for e in model.check(databases=["default"])]
            assert "fields.E323" not in errors, (model, errors)


def test_django_values_alone_keep_djangos_rule():
    with isolate_apps("tests.odapp"):
        _root, _mid, leaf = _chain(models.DB_CASCADE, models.CASCADE)
        assert "fields.E323" in [e.id for e in leaf.check(databases=["default"])]


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
@pytest.mark.django_db(transaction=True)
def test_mixed_chain_is_deleted_by_the_database(direction):
    top, bottom = DIRECTIONS[direction]()
    with isolate_apps("tests.odapp"):
        root_model, mid_model, leaf_model = _chain(top, bottom)
        built = (root_model, mid_model, leaf_model)
        with connection.schema_editor() as editor:
            for model in built:
                editor.create_model(model)
        backend = get_backend(connection)
        objects = [o for m in built for o in desired_objects_for(m, backend)]
        try:
            install_objects(connection, objects)
            root = root_model.objects.create()
            mid = mid_model.objects.create(root=root)
            leaf_model.objects.create(mid=mid)
            leaf_model.objects.create(mid=mid)
            root.delete()
            assert mid_model.objects.count() == 0
            assert leaf_model.objects.count() == 0
        finally:
            uninstall_objects(connection, objects)
            with connection.schema_editor() as editor:
                for model in reversed(built):
                    editor.delete_model(model)
