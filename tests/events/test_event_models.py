"""rowsync's own tables: the event row and the SQLite capture session."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rowsync.models import CaptureSession, DeletedRow


def test_event_and_session_read_in_the_admin():
    event = DeletedRow(model_label="blog.article", table_name="blog_article", op="D", pk_text="7")
    assert str(event) == "delete blog.article pk=7"
    assert str(CaptureSession(claim="abc")) == "capture session abc"


@pytest.mark.django_db
def test_row_image_round_trip_keeps_text_and_exact_numbers():
    event = DeletedRow.objects.create(
        model_label="blog.article",
        table_name="blog_article",
        op="D",
        pk_text="1",
        row={"nid": 1, "price": Decimal("12.30"), "title": "t"},
    )
    as_text = DeletedRow.objects.create(
        model_label="blog.article",
        table_name="blog_article",
        op="D",
        pk_text="2",
        row='{"nid": 2, "price": 0.1}',  # JSON text, as the triggers write it: stored as is
    )
    assert DeletedRow.objects.get(pk=event.pk).row == {
        "nid": 1,
        "price": "12.30",  # DjangoJSONEncoder writes decimals as strings
        "title": "t",
    }
    assert DeletedRow.objects.get(pk=as_text.pk).row == {"nid": 2, "price": Decimal("0.1")}
    field = DeletedRow._meta.get_field("row")
    assert field.from_db_value({"already": "decoded"}, None, None) == {"already": "decoded"}
