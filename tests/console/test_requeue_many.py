"""Requeueing every dead letter a filter matches: one UPDATE, no row loaded, at 100,000 rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rowsync.models import DeletedRow
from tests.console.support import ADMIN, DEAD, dead, staff

pytestmark = pytest.mark.django_db

MANY = 100_000
SEED = 3125  # doubled five times: 100,000


def fill_dead_letters() -> None:
    """Write ``MANY`` dead letters of blog.article: a seed, then ``INSERT ... SELECT``."""
    DeletedRow.objects.bulk_create(
        DeletedRow(
            model_label="blog.article",
            table_name="blog_article",
            pk_text=str(i),
            row={"nid": i},
            status=DeletedRow.Status.DEAD,
            attempts=5,
            last_error="builtins.RuntimeError: down",
        )
        for i in range(SEED)
    )
    q = connection.ops.quote_name
    columns = ", ".join(
        q(c)
        for c in ("model_label", "table_name", "op", "pk_text", "row", "status", "attempts")
        + ("last_error", "created_at")
    )
    table = q(DeletedRow._meta.db_table)
    with connection.cursor() as cursor:
        while DeletedRow.objects.count() < MANY:
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}")
    assert DeletedRow.objects.count() == MANY


def reads_rows(sql: str) -> bool:
    """Return whether ``sql`` reads event rows in bulk (a SELECT of the table, not a count)."""
    low = sql.lower()
    return (
        low.startswith("select")
        and "rowsync_deleted_row" in low
        and "count(" not in low
        and "limit" not in low
        and "distinct" not in low
    )


def test_requeue_matching_runs_one_update_over_the_filter(client, django_user_model):
    with ADMIN:
        fill_dead_letters()
        other = [dead(model_label="blog.comment", table_name="blog_comment") for _ in range(3)]
        client.force_login(staff(django_user_model, "requeuer", "view", "retry"))
        url = f"{DEAD}?model=blog.article"
        ticked = DeletedRow.objects.filter(model_label="blog.article").order_by("-pk")[:2]
        data = {"action": "requeue_matching", "_selected_action": [e.pk for e in ticked]}
        with CaptureQueriesContext(connection) as asked:
            page = client.post(url, {**data, "index": 0})
        assert page.status_code == 200 and page.context["count"] == MANY
        assert "Put 100000 dead letters matching this filter back" in page.content.decode()
        with CaptureQueriesContext(connection) as done:
            response = client.post(url, {**data, "post": "yes"})
        assert response.status_code == 302
    for queries in (asked, done):
        sqls = [q["sql"] for q in queries.captured_queries]
        assert len(sqls) <= 8, sqls
        assert not [s for s in sqls if reads_rows(s)], sqls
    updates = [q["sql"] for q in done.captured_queries if q["sql"].lower().startswith("update")]
    assert len(updates) == 1 and "rowsync_deleted_row" in updates[0].lower()
    assert not [q for q in asked.captured_queries if q["sql"].lower().startswith("update")]
    pending = DeletedRow.objects.filter(status=DeletedRow.Status.PENDING)
    assert pending.count() == MANY and not pending.exclude(attempts=0).exists()
    assert DeletedRow.objects.filter(pk__in=[e.pk for e in other], status="X").count() == 3
