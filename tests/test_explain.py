"""``manage.py rowsync explain``: a delete's graph, counted before anything is deleted."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import post_delete

from rowsync.events.signals import post_delete_batch
from tests.odapp import models as od

pytestmark = pytest.mark.django_db(transaction=True)


def _explain(*args: str) -> str:
    out = StringIO()
    call_command("rowsync", "explain", *args, stdout=out)
    return out.getvalue()


def _author_with_books() -> od.Author:
    author = od.Author.objects.create(name="a")
    for _ in range(2):
        book = od.Book.objects.create(title="b", author=author)
        for _ in range(3):
            chapter = od.Chapter.objects.create(book=book)
            od.Note.objects.create(chapter=chapter)
        od.Review.objects.create(book=book)
    series = od.Series.objects.create(author=author)
    od.Episode.objects.create(series=series)
    return author


def _record(sender, instance, **kwargs):  # pragma: no cover - never called: nothing is deleted
    raise AssertionError("explain must not delete")


def test_graph_counts_rows_actors_and_actions() -> None:
    author = _author_with_books()
    post_delete.connect(_record, sender=od.Chapter, weak=False)
    try:
        graph = json.loads(_explain("odapp.Author", str(author.pk), "--json"))
    finally:
        post_delete.disconnect(_record, sender=od.Chapter)
    steps = {s["relation"]: (s["action"], s["actor"], s["rows"]) for s in graph["steps"]}
    assert steps["odapp.Book.author"] == ("CASCADE", "database", 2)
    assert steps["odapp.Chapter.book"] == ("CASCADE", "database", 6)
    assert steps["odapp.Note.chapter"][1:] == ("database", 6)  # promoted to the database (chain)
    assert steps["odapp.Review.book"] == ("SET_NULL", "database", 2)
    assert steps["odapp.Series.author"] == ("CASCADE", "django", 1)
    assert steps["odapp.Episode.series"] == ("CASCADE", "database", 1)
    models = {m["model"]: m for m in graph["models"]}
    assert models["odapp.Author"]["deleted"] == 1
    assert models["odapp.Chapter"]["deleted"] == 6
    assert models["odapp.Chapter"]["by_database"] == 6
    assert models["odapp.Review"]["changed"] == 2
    assert any(r.endswith("_record") for r in models["odapp.Chapter"]["receivers"]["post_delete"])
    # nothing was deleted
    assert od.Chapter.objects.count() == 6
    assert od.Review.objects.filter(book__isnull=False).count() == 2


def test_table_warns_about_receivers_nobody_signals() -> None:
    author = _author_with_books()
    post_delete.connect(_record, sender=od.Chapter, weak=False)
    try:
        text = _explain("odapp.Author", str(author.pk))
    finally:
        post_delete.disconnect(_record, sender=od.Chapter)
    assert "odapp.Chapter.book: CASCADE by database, 6 row(s)" in text
    assert "warning: the database deletes 6 odapp.Chapter row(s)" in text


def test_captured_model_shows_its_delivery_mode() -> None:
    from tests.evapp import models as ev

    author = ev.Author.objects.create(name="a")
    ev.Book.objects.create(author=author, title="t")
    graph = json.loads(_explain("evapp.Author", str(author.pk), "--json"))
    models = {m["model"]: m for m in graph["models"]}
    assert models["evapp.Book"]["captured"] is True
    assert models["evapp.Book"]["delivery"] == "transaction"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("odapp.Nope", "1"), "unknown model 'odapp.Nope'"),
        (("odapp.Author", "999999"), "has no row with pk '999999'"),
        (("odapp.Author", "1", "--database", "nope"), "unknown database alias 'nope'"),
    ],
)
def test_user_errors_are_command_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _explain(*args)


def test_child_of_multi_table_inheritance_counts_its_parent_row() -> None:
    from tests.testapp.models import Article, Category, SubArticle

    category = Category.objects.create(name="c")
    child = SubArticle.objects.create(name="child", category=category)
    Article.objects.create(name="plain", category=category)
    graph = json.loads(_explain("testapp.SubArticle", str(child.pk), "--json"))
    models = {m["model"]: m["deleted"] for m in graph["models"]}
    assert models["testapp.SubArticle"] == 1
    assert models["testapp.Article"] == 1  # the parent row goes too, not the other article
    assert SubArticle.objects.count() == 1 and Article.objects.count() == 2


def _rows_written(sender, instances, **kwargs) -> None:
    pass


def test_batch_receivers_are_listed_with_their_model() -> None:
    author = _author_with_books()
    post_delete_batch.connect(_rows_written, sender=od.Chapter, weak=False)
    try:
        graph = json.loads(_explain("odapp.Author", str(author.pk), "--json"))
        text = _explain("odapp.Author", str(author.pk))
    finally:
        post_delete_batch.disconnect(_rows_written, sender=od.Chapter)
    models = {m["model"]: m for m in graph["models"]}
    (name,) = models["odapp.Chapter"]["receivers"]["post_delete_batch"]
    assert name.endswith("_rows_written")
    assert "post_delete_batch: tests.test_explain._rows_written" in text
    # The database deletes the chapters, and nobody captures them: the warning names it.
    assert "warning: the database deletes 6 odapp.Chapter row(s)" in text
