"""Models for ORM features the blog models lack (seed 001, part "基表 断关系 related_name").

* ``BaseModel``: an abstract base class ("基表") giving common fields and Meta to its children;
  it has no table of its own.
* ``Book.publish`` / ``Book.authors`` / ``AuthorDetail.author``: ``db_constraint=False``
  ("断关联"): Django joins through them but the database enforces nothing, so a row may point
  at a row that does not exist.
* ``Contract``: a many-to-many through model with an extra column (``through_defaults``).
* ``related_name`` / ``related_query_name``, including the ``%(app_label)s`` / ``%(class)s``
  placeholders that an abstract base needs so that each child gets its own reverse accessor.
"""

from __future__ import annotations

from django.db import models


class BaseModel(models.Model):
    """Abstract base: common fields and ordering, inherited by every concrete child."""

    is_delete = models.BooleanField(default=False)
    create_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["pk"]


class Publish(BaseModel):
    name = models.CharField(max_length=64)
    partners = models.ManyToManyField("Author", through="Contract", related_name="publishers")

    def __str__(self) -> str:
        return self.name


class Author(BaseModel):
    name = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.name


class AuthorDetail(BaseModel):
    telephone = models.CharField(max_length=11)
    author = models.OneToOneField(
        Author, related_name="detail", db_constraint=False, on_delete=models.CASCADE
    )


class Book(BaseModel):
    title = models.CharField(max_length=64)
    price = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    # DO_NOTHING without a constraint: deleting a publisher leaves its books pointing at it.
    publish = models.ForeignKey(
        Publish,
        related_name="books",
        related_query_name="book",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
    )
    authors = models.ManyToManyField(Author, related_name="books", db_constraint=False)

    def __str__(self) -> str:
        return self.title


class Contract(models.Model):
    """Through model with an extra column, filled by ``through_defaults``."""

    publish = models.ForeignKey(Publish, on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    role = models.CharField(max_length=16)

    class Meta:
        unique_together = [("publish", "author")]


class Remark(models.Model):
    """Abstract base whose FK names its reverse accessor per concrete child."""

    text = models.CharField(max_length=64)
    publish = models.ForeignKey(
        Publish,
        on_delete=models.CASCADE,
        related_name="%(app_label)s_%(class)s_set",
        related_query_name="%(class)s",
    )

    class Meta:
        abstract = True


class BookRemark(Remark):
    pass


class AuthorRemark(Remark):
    pass
