"""Many-to-many through models: Article2Tag and UserFans (seed 001, part 2)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from blog.models import Article, Article2Tag, Tag, UserFans, UserInfo
from tests.ormapp.models import Author, Contract, Publish


def tag_titles(article):
    return sorted(t.title for t in article.tags.all())


def test_through_rows_show_through_the_m2m(blogdata):
    a1 = Article.objects.get(pk=blogdata.a1)
    assert tag_titles(a1) == ["t1a", "t1b"]
    t1a = Tag.objects.get(pk=blogdata.t1a)
    assert sorted(a.title for a in t1a.article_set.all()) == ["a1", "a2"]
    assert sorted(Article.objects.filter(tags__title="t1b").values_list("title", flat=True)) == [
        "a1",
        "a3",
    ]


def test_add_remove_set_clear_write_through_rows(blogdata):
    a4 = Article.objects.get(pk=blogdata.a4)
    t1a, t1b = Tag.objects.get(pk=blogdata.t1a), Tag.objects.get(pk=blogdata.t1b)
    a4.tags.add(t1a, t1b)
    assert tag_titles(a4) == ["t1a", "t1b"]
    assert Article2Tag.objects.filter(article=a4).count() == 2
    a4.tags.add(t1a)  # adding an existing link is a no-op
    assert Article2Tag.objects.filter(article=a4).count() == 2
    a4.tags.remove(t1a)
    assert tag_titles(a4) == ["t1b"]
    a4.tags.set([t1a])
    assert tag_titles(a4) == ["t1a"]
    assert list(Article2Tag.objects.filter(article=a4).values_list("tag_id", flat=True)) == [
        blogdata.t1a
    ]
    a4.tags.clear()
    assert tag_titles(a4) == []
    assert not Article2Tag.objects.filter(article=a4).exists()
    # The other articles' links are untouched.
    assert Article2Tag.objects.count() == 5


def test_create_through_related_manager(blogdata):
    a5 = Article.objects.get(pk=blogdata.a5)
    tag = a5.tags.create(title="fresh", blog_id=blogdata.b1)
    assert Tag.objects.get(title="fresh").pk == tag.pk
    assert Article2Tag.objects.filter(article=a5, tag=tag).exists()


def test_reverse_side_manages_links_too(blogdata):
    t2a = Tag.objects.get(pk=blogdata.t2a)
    t2a.article_set.add(*Article.objects.filter(blog_id=blogdata.b2))
    assert t2a.article_set.count() == 3
    t2a.article_set.remove(Article.objects.get(pk=blogdata.b2a1))
    assert sorted(a.title for a in t2a.article_set.all()) == ["b2a2", "b2a3"]


def test_add_many_at_once_takes_fewer_queries_than_one_by_one(blogdata):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a4, a5 = Article.objects.get(pk=blogdata.a4), Article.objects.get(pk=blogdata.a5)
    tags = list(Tag.objects.filter(blog_id=blogdata.b1))
    with CaptureQueriesContext(connection) as together:
        a4.tags.add(*tags)
    with CaptureQueriesContext(connection) as apart:
        for tag in tags:
            a5.tags.add(tag)
    assert len(together.captured_queries) < len(apart.captured_queries)
    inserts = [q for q in together.captured_queries if q["sql"].upper().startswith("INSERT")]
    assert len(inserts) == 1


def test_unique_together_on_through_model(blogdata):
    with pytest.raises(IntegrityError), transaction.atomic():
        Article2Tag.objects.create(article_id=blogdata.a1, tag_id=blogdata.t1a)


def test_self_referential_fans(blogdata):
    u1 = UserInfo.objects.get(pk=blogdata.u1)
    u2 = UserInfo.objects.get(pk=blogdata.u2)
    u3 = UserInfo.objects.get(pk=blogdata.u3)
    assert sorted(u.username for u in u1.fans.all()) == ["u2", "u3"]
    assert [u.username for u in u2.following.all()] == ["u1"]
    u2.fans.add(u1)  # not symmetrical: u1 follows u2 now, u2 still follows u1
    assert [u.username for u in u1.following.all()] == ["u2"]
    assert UserFans.objects.filter(user=u2, follower=u1).exists()
    u1.fans.remove(u3)
    assert [u.username for u in u1.fans.all()] == ["u2"]
    assert [u.username for u in u3.following.all()] == []
    u1.fans.set([u3])
    assert [u.username for u in u1.fans.all()] == ["u3"]
    u1.fans.clear()
    assert not u1.fans.exists()
    assert UserFans.objects.count() == 1  # u2 <- u1 remains
    # The through model's own related names.
    assert [f.follower_id for f in u2.users.all()] == [u1.pk]
    assert [f.user_id for f in u1.followers.all()] == [u2.pk]


def test_through_defaults_fill_extra_columns(db):
    house = Publish.objects.create(name="house")
    ann, bob, cid = (Author.objects.create(name=n) for n in ("ann", "bob", "cid"))
    house.partners.add(ann, through_defaults={"role": "editor"})
    house.partners.create(name="dee", through_defaults={"role": "translator"})
    house.partners.set([ann, bob], through_defaults={"role": "writer"})
    roles = dict(Contract.objects.filter(publish=house).values_list("author__name", "role"))
    # set() keeps existing links (ann stays "editor") and drops the missing one (dee).
    assert roles == {"ann": "editor", "bob": "writer"}
    house.partners.add(cid, through_defaults={"role": lambda: "computed"})
    assert Contract.objects.get(author=cid).role == "computed"
    house.partners.remove(bob)
    assert sorted(a.name for a in house.partners.all()) == ["ann", "cid"]
    assert sorted(p.name for p in ann.publishers.all()) == ["house"]
    house.partners.clear()
    assert not Contract.objects.exists()
