"""Composite primary keys (Django 5.2+): refused for capture, with a system check."""

from __future__ import annotations

from django.db import models
from django.test.utils import isolate_apps, override_settings

from rowsync.backends import get_backend
from rowsync.events.capture import capture_spec, is_captured
from rowsync.events.checks import check_capture
from rowsync.events.triggers import capture_objects
from tests.fuzzapp.models import Owner


def line_model(**rowsync_meta):
    """Declare ``fuzzapp.Line`` (call inside ``isolate_apps``), keyed on two columns."""
    attrs = {
        "__module__": __name__,
        "pk": models.CompositePrimaryKey("order", "number"),
        "order": models.IntegerField(),
        "number": models.IntegerField(),
        "Meta": type("Meta", (), {"app_label": "fuzzapp"}),
    }
    if rowsync_meta:
        attrs["RowsyncMeta"] = type("RowsyncMeta", (), rowsync_meta)
    return type("Line", (models.Model,), attrs)


@isolate_apps("tests.fuzzapp")
def test_captured_composite_key_is_refused_with_a_check():
    Line = line_model(capture=True)
    (error,) = check_capture(app_configs=[Line._meta.apps.get_app_config("fuzzapp")])
    assert error.id == "rowsync.E170"
    assert error.obj is Line
    assert "capture = False" in error.hint
    # Refused, not half-done: no trigger, no event that could not be rebuilt.
    assert not is_captured(Line)
    assert capture_spec(Line) is None


@isolate_apps("tests.fuzzapp")
def test_composite_key_selected_by_setting_is_refused_too():
    Line = line_model()

    with override_settings(ROWSYNC_CAPTURE=["fuzzapp.Line"]):
        errors = check_capture(app_configs=[Line._meta.apps.get_app_config("fuzzapp")])
        assert [e.id for e in errors] == ["rowsync.E170"]
        assert not is_captured(Line)


@isolate_apps("tests.fuzzapp")
def test_composite_key_table_below_a_database_cascade_needs_no_capture_trigger():
    """A DB_CASCADE into a composite-key table compiles, and needs no capture trigger."""
    from django.db import connection

    from rowsync import DB_CASCADE

    class Line(models.Model):
        pk = models.CompositePrimaryKey("owner", "number")
        owner = models.ForeignKey(Owner, on_delete=DB_CASCADE, related_name="+")
        number = models.IntegerField()

        class Meta:
            app_label = "fuzzapp"

    assert capture_objects(Line, get_backend(connection)) == []
