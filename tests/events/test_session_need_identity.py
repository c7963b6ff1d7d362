"""The identity map's part in whether an ORM delete opens a capture session.

A captured, mapped model whose rows the *database* removes or changes (``DB_CASCADE``,
``DB_SET_NULL``) needs a session only while some identity map of the process holds one
of its rows the delete does not remove itself: the session is what tells the map which
rows went. A map that holds none has nothing to forget, so such a delete runs Django's
queries only (the example blog: ``Blog`` cascades into ``Article``, ``Category`` sets
``Article.category`` to NULL; only ``Article`` is captured)."""

from __future__ import annotations

import gc

import pytest
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete, pre_delete

from blog.models import Article, Blog, Category, UserInfo
from rowsync import identity
from rowsync.events import need
from tests.events.test_session_need import left_over, rowsync_queries_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_blog")]


@pytest.fixture
def quiet_blog():
    """The example blog's Article receivers, disconnected for the test."""
    from blog import receivers

    uids = ["blog.delete_attachment", "blog.invalidate_cache", "blog.audit_article"]
    for uid in uids:
        post_delete.disconnect(sender=receivers.Article, dispatch_uid=uid)
    yield
    receivers.connect()


def make_blog(name: str = "b") -> Blog:
    user = UserInfo.objects.create(username=f"u-{name}")
    return Blog.objects.create(title=name, site=name, theme="t", user=user)


def make_article(blog: Blog, title: str = "x", category: Category | None = None) -> Article:
    return Article.objects.create(
        title=title, desc="d", blog=blog, category=category, create_time="2026-01-02"
    )


def article_pks(blog: Blog, count: int) -> list[int]:
    """Create ``count`` articles of ``blog`` and hold none of them."""
    pks = [make_article(blog, f"a{i}").pk for i in range(count)]
    # An Article and its FieldFile (``attachment``) refer to each other: the cycle
    # collector, not the reference count, frees an instance nobody holds.
    gc.collect()
    return pks


def test_a_session_only_while_a_map_holds_rows_the_database_removes_or_changes():
    blog = make_blog()
    category = Category.objects.create(title="c", blog=blog)
    article_pks(blog, 2)
    assert need.needs_session(frozenset({Blog})) is False  # DB_CASCADE into Article
    assert need.needs_session(frozenset({Category})) is False  # DB_SET_NULL on Article
    held = make_article(blog, category=category)
    assert need.needs_session(frozenset({Blog})) is True
    assert need.needs_session(frozenset({Category})) is True
    assert need.needs_session(frozenset({Article})) is False  # Django's query evicts
    assert need.needs_session(frozenset({Blog}), "other") is False  # a row of 'default'
    del held
    gc.collect()  # the FieldFile cycle (see article_pks)
    assert need.needs_session(frozenset({Blog})) is False


def test_a_database_cascade_into_rows_no_map_holds_runs_djangos_queries_only():
    blog = make_blog()
    pks = article_pks(blog, 3)
    inside, _after = rowsync_queries_of(blog.delete)
    assert inside == []
    assert not Article.objects.filter(pk__in=pks).exists()
    assert left_over() == 0


def test_mapped_rows_leave_the_identity_map_with_or_without_a_session():
    blog = make_blog()
    first, second = make_article(blog, "x"), make_article(blog, "y")
    pks = [first.pk, second.pk]
    assert Article.objects.get(pk=pks[0]) is first
    inside, _after = rowsync_queries_of(Article.objects.filter(pk=pks[0]).delete)
    assert inside == []
    assert identity.get_cached(Article, pks[0]) is None
    assert Article.objects.get(pk=pks[1]) is second
    inside, _after = rowsync_queries_of(blog.delete)
    assert inside != []
    assert identity.get_cached(Article, pks[1]) is None
    assert left_over() == 0


def test_a_row_another_context_holds_keeps_the_session_and_leaves_that_map():
    blog = make_blog()
    held = make_article(blog)
    with identity.identity_scope():  # a context whose own map holds nothing
        inside, _after = rowsync_queries_of(Blog.objects.get(pk=blog.pk).delete)
    assert inside != []
    assert identity.get_cached(Article, held.pk) is None
    assert left_over() == 0


def test_held_rows_the_delete_removes_itself_need_no_session():
    """Django's own DELETE evicts them; only rows the database alone removes need one."""
    blog = make_blog()
    held = make_article(blog)
    pk = held.pk
    collector = Collector(using="default", origin=held)
    collector.collect([held])
    collector.collect([blog])
    assert need.needs_session(frozenset({Article, Blog}), "default", collector.data) is False
    inside, _after = rowsync_queries_of(collector.delete)
    assert inside == []
    assert identity.get_cached(Article, pk) is None
    assert not Article.objects.filter(pk=pk).exists()
    assert left_over() == 0


@pytest.fixture
def edit_on_pre_delete():
    """A pre_delete receiver of Blog that loads an article and moves it to another blog.

    The edit is not saved: the database still cascades the row with its blog.
    """
    edited: list[Article] = []
    state: dict[str, object] = {}

    def edit(sender, instance, **kwargs):
        article = Article.objects.get(pk=state["pk"])
        article.blog = state["other"]
        edited.append(article)

    pre_delete.connect(edit, sender=Blog, weak=False, dispatch_uid="tests.need.edit")
    yield state, edited
    pre_delete.disconnect(sender=Blog, dispatch_uid="tests.need.edit")


def test_rows_a_receiver_loads_during_the_delete_leave_the_map(edit_on_pre_delete):
    """Nothing is held when the delete starts, but Django's pre_delete receivers run inside it.

    The receiver's article still names the deleted blog in the database, not in memory:
    only the session can tell the map that the database removed it.
    """
    state, edited = edit_on_pre_delete
    blog, other = make_blog("b"), make_blog("o")
    state.update(pk=article_pks(blog, 1)[0], other=other)
    blog.delete()
    assert len(edited) == 1
    assert identity.get_cached(Article, state["pk"]) is None
    assert not Article.objects.filter(pk=state["pk"]).exists()
