"""Abstract bases, ``db_constraint=False`` and ``related_name`` (seed 001, "基表 断关系")."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from blog.models import Article, Blog, Comment, UserInfo
from tests.ormapp.models import (
    Author,
    AuthorDetail,
    AuthorRemark,
    BaseModel,
    Book,
    BookRemark,
    Publish,
)


def foreign_keys(table):
    """Return ``{column: referenced table}`` for the FK constraints the database has."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        c["columns"][0]: c["foreign_key"][0]
        for c in constraints.values()
        if c["foreign_key"] is not None
    }


# Abstract base classes ------------------------------------------------------------------


def test_abstract_base_has_no_table_and_no_manager(db):
    assert BaseModel._meta.abstract
    assert not hasattr(BaseModel, "objects")
    tables = connection.introspection.table_names()
    assert "ormapp_basemodel" not in tables
    assert {"ormapp_publish", "ormapp_author", "ormapp_book"} <= set(tables)


@pytest.mark.django_db
def test_children_inherit_fields_and_meta():
    for model in (Publish, Author, AuthorDetail, Book):
        names = {f.name for f in model._meta.fields}
        assert {"is_delete", "create_time"} <= names
        assert model._meta.ordering == ["pk"]
    house = Publish.objects.create(name="house")
    assert house.is_delete is False
    assert house.create_time is not None
    Publish.objects.create(name="another")
    assert [p.name for p in Publish.objects.all()] == ["house", "another"]
    assert Publish.objects.filter(is_delete=False).count() == 2


@pytest.mark.django_db
def test_abstract_related_name_placeholders_give_each_child_its_own_accessor():
    house = Publish.objects.create(name="house")
    BookRemark.objects.create(text="on books", publish=house)
    AuthorRemark.objects.create(text="on authors", publish=house)
    assert [r.text for r in house.ormapp_bookremark_set.all()] == ["on books"]
    assert [r.text for r in house.ormapp_authorremark_set.all()] == ["on authors"]
    assert Publish.objects.filter(bookremark__text="on books").get() == house
    assert not Publish.objects.filter(authorremark__text="on books").exists()


# db_constraint=False --------------------------------------------------------------------


def test_db_constraint_false_creates_no_foreign_key(db):
    assert foreign_keys("ormapp_book") == {}
    assert foreign_keys("ormapp_book_authors") == {}
    assert foreign_keys("ormapp_authordetail") == {}
    # The control: a constrained FK in the same app does show up.
    assert foreign_keys("ormapp_bookremark") == {"publish_id": "ormapp_publish"}


@pytest.mark.django_db
def test_rows_may_point_at_missing_rows():
    book = Book.objects.create(title="orphan", publish_id=987654)
    book.authors.add(876543)  # by primary key: no such author
    book = Book.objects.get(pk=book.pk)
    with pytest.raises(Publish.DoesNotExist):
        _ = book.publish
    assert list(book.authors.all()) == []  # the join finds no author
    assert book.authors.through.objects.filter(book=book).count() == 1
    # A required FK is joined with INNER JOIN: the orphan drops out of select_related.
    assert [b.title for b in Book.objects.all()] == ["orphan"]
    assert list(Book.objects.select_related("publish")) == []


@pytest.mark.django_db
def test_joins_still_work_through_unconstrained_keys():
    house = Publish.objects.create(name="house")
    ann = Author.objects.create(name="ann")
    AuthorDetail.objects.create(author=ann, telephone="123")
    book = Book.objects.create(title="joined", publish=house)
    book.authors.add(ann)
    assert Book.objects.select_related("publish").get(pk=book.pk).publish.name == "house"
    assert list(Book.objects.filter(authors__detail__telephone="123")) == [book]
    assert Author.objects.get(detail__telephone="123") == ann


@pytest.mark.django_db
def test_do_nothing_delete_leaves_dangling_rows_on_every_backend():
    house = Publish.objects.create(name="house")
    book = Book.objects.create(title="kept", publish=house)
    house_pk = house.pk
    house.delete()  # no constraint, DO_NOTHING: the database accepts it
    book = Book.objects.get(pk=book.pk)
    assert book.publish_id == house_pk
    assert not Publish.objects.filter(pk=house_pk).exists()


@pytest.mark.django_db
def test_cascade_without_constraint_is_done_by_django():
    ann = Author.objects.create(name="ann")
    AuthorDetail.objects.create(author=ann, telephone="1")
    ann.delete()
    assert not AuthorDetail.objects.exists()


# related_name / related_query_name ------------------------------------------------------


@pytest.mark.django_db
def test_related_name_and_related_query_name():
    house = Publish.objects.create(name="house")
    ann = Author.objects.create(name="ann")
    book = Book.objects.create(title="t", publish=house)
    book.authors.add(ann)
    assert list(house.books.all()) == [book]
    assert list(ann.books.all()) == [book]
    assert not hasattr(house, "book_set")
    assert Publish.objects.get(book__title="t") == house  # related_query_name
    with pytest.raises(FieldError):
        Publish.objects.filter(books__title="t").count()  # related_name is not a lookup
    assert Author.objects.get(books__title="t") == ann  # M2M: related_name is both


def test_blog_related_names(blogdata):
    top = Comment.objects.get(pk=blogdata.comment)
    assert [c.content for c in top.replies.all()] == ["reply"]
    assert Comment.objects.get(replies__content="reply") == top
    u1 = UserInfo.objects.get(pk=blogdata.u1)
    assert sorted(u.username for u in u1.fans.all()) == ["u2", "u3"]
    assert [u.username for u in UserInfo.objects.filter(following=u1).order_by("pk")] == [
        "u2",
        "u3",
    ]
    # Default names where none is given.
    blog = Blog.objects.get(pk=blogdata.b1)
    assert blog.article_set.count() == 5
    assert Blog.objects.filter(article__title="a1").get() == blog
    assert u1.blog == blog  # reverse one-to-one
    assert Article.objects.filter(blog__user__username="u2").count() == 3
