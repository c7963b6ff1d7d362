"""Models used only by the test suite. Each subsystem keeps its models in its own module."""

from __future__ import annotations

from django.db import models

from rowsync import DB_CASCADE, DB_SET_DEFAULT, DB_SET_NULL
from rowsync.identity.models import IdentityModel
from rowsync.idmap import models as idmap_models


# -- identity map: base-class models (django-idmap's test models, plus more) --------
class Category(IdentityModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class RegularCategory(models.Model):
    name = models.CharField(max_length=50)


class Tag(IdentityModel):
    name = models.CharField(max_length=50)


class Article(IdentityModel):
    name = models.CharField(max_length=50)
    note = models.CharField(max_length=50, default="")
    score = models.IntegerField(default=0)
    category = models.ForeignKey(Category, null=True, on_delete=models.CASCADE)
    category2 = models.ForeignKey(RegularCategory, null=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Tag, related_name="articles")


class SubArticle(Article):
    extra = models.CharField(max_length=50, default="")


class ArticleProxy(Article):
    class Meta:
        proxy = True

    def shout(self) -> str:
        return self.name.upper()


class Mixin:
    def mixed(self) -> str:
        return "mixed"


class MixinArticleProxy(Mixin, Article):
    class Meta:
        proxy = True


class StrongThing(IdentityModel):
    name = models.CharField(max_length=50)

    class Meta:
        use_strong_refs = True


class MultiThing(IdentityModel):
    name = models.CharField(max_length=50)

    class Meta:
        multi_db = True


class SharedThing(IdentityModel):
    name = models.CharField(max_length=50)

    class Meta:
        shared_identity = True


class CompatThing(idmap_models.IdMapModel):
    """Written exactly as with django-idmap (``from idmap import models``)."""

    name = idmap_models.CharField(max_length=50)
    other = idmap_models.ForeignKey(Category, null=True, on_delete=idmap_models.CASCADE)


# -- identity map: enabled by ROWSYNC_IDENTITY_MAP (tests/settings.py) --------------
class Note(models.Model):
    text = models.CharField(max_length=50)
    category = models.ForeignKey(RegularCategory, null=True, on_delete=models.CASCADE)


class NoteProxy(Note):
    class Meta:
        proxy = True


# -- identity map: children the database changes when their parent row is deleted ---
class DbParent(IdentityModel):
    name = models.CharField(max_length=50)


class DbChild(IdentityModel):
    nulled = models.ForeignKey(
        DbParent, null=True, on_delete=DB_SET_NULL, related_name="nulled_children"
    )
    owner = models.ForeignKey(
        DbParent, null=True, on_delete=DB_CASCADE, related_name="owned_children"
    )
    name = models.CharField(max_length=50, default="")


class DbMover(IdentityModel):
    moved = models.ForeignKey(DbParent, default=1, on_delete=DB_SET_DEFAULT, related_name="moved")


class DbGrandchild(IdentityModel):
    child = models.ForeignKey(DbChild, on_delete=DB_CASCADE, related_name="grandchildren")


# -- unmapped models (fast-delete must stay available to them) ------------------------
class PlainParent(models.Model):
    name = models.CharField(max_length=50)


class PlainChild(models.Model):
    parent = models.ForeignKey(PlainParent, on_delete=models.CASCADE)
