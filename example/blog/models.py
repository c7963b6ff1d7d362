"""The blog of seed 001: users, blogs, categories, articles, comments, tags, votes, fans.

Each ``on_delete`` is chosen for what the row means:

* what belongs to a parent goes with it (CASCADE): a blog's categories, tags and
  articles; an article's detail, comments, votes and tag links; a comment's replies;
* a user who still owns a blog cannot be deleted (PROTECT): delete the blog first;
* an article survives the loss of its category (SET_NULL), a comment survives the
  loss of its author (SET_NULL: shown as "deleted user");
* votes and fan links are the user's own data (CASCADE).

The database enforces every one of them (rowsync's ``DB_*`` values): a raw SQL
``DELETE``, another program or the database console obey the same rules as the ORM.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

import rowsync


class UserInfo(AbstractUser):
    nid = models.BigAutoField(primary_key=True)
    nickname = models.CharField("nickname", max_length=32, blank=True)
    telephone = models.CharField(max_length=11, blank=True, null=True, unique=True)
    avatar = models.FileField(upload_to="avatar/", default="avatar/default.png")
    create_time = models.DateTimeField(auto_now_add=True)
    fans: models.ManyToManyField[UserInfo, UserFans] = models.ManyToManyField(
        "self",
        through="UserFans",
        through_fields=("user", "follower"),
        related_name="following",
        symmetrical=False,
    )

    def __str__(self) -> str:
        return self.username


class UserFans(models.Model):
    nid = models.AutoField(primary_key=True)
    user = models.ForeignKey(
        UserInfo, to_field="nid", related_name="users", on_delete=rowsync.DB_CASCADE
    )
    follower = models.ForeignKey(
        UserInfo, to_field="nid", related_name="followers", on_delete=rowsync.DB_CASCADE
    )

    class Meta:
        unique_together = [("user", "follower")]


class Blog(models.Model):
    nid = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=64)
    site = models.CharField(max_length=32, unique=True)
    theme = models.CharField(max_length=32)
    user = models.OneToOneField(UserInfo, to_field="nid", on_delete=rowsync.DB_PROTECT)

    def __str__(self) -> str:
        return self.title


class Category(models.Model):
    nid = models.AutoField(primary_key=True)
    title = models.CharField(max_length=32)
    blog = models.ForeignKey(Blog, to_field="nid", on_delete=rowsync.DB_CASCADE)

    def __str__(self) -> str:
        return self.title


class Tag(models.Model):
    nid = models.AutoField(primary_key=True)
    title = models.CharField(max_length=32)
    blog = models.ForeignKey(Blog, to_field="nid", on_delete=rowsync.DB_CASCADE)

    def __str__(self) -> str:
        return self.title


class Article(models.Model):
    nid = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=50)
    desc = models.CharField(max_length=255)
    read_count = models.IntegerField(default=0)
    comment_count = models.IntegerField(default=0)
    up_count = models.IntegerField(default=0)
    down_count = models.IntegerField(default=0)
    category = models.ForeignKey(
        Category, to_field="nid", null=True, blank=True, on_delete=rowsync.DB_SET_NULL
    )
    create_time = models.DateField()
    blog = models.ForeignKey(Blog, to_field="nid", on_delete=rowsync.DB_CASCADE)
    attachment = models.FileField(upload_to="attachments/", blank=True)
    tags: models.ManyToManyField[Tag, Article2Tag] = models.ManyToManyField(
        Tag, through="Article2Tag", through_fields=("article", "tag")
    )

    def __str__(self) -> str:
        return self.title


class ArticleDetail(models.Model):
    nid = models.AutoField(primary_key=True)
    content = models.TextField()
    article = models.OneToOneField(Article, to_field="nid", on_delete=rowsync.DB_CASCADE)


class Comment(models.Model):
    nid = models.BigAutoField(primary_key=True)
    article = models.ForeignKey(Article, to_field="nid", on_delete=rowsync.DB_CASCADE)
    content = models.CharField(max_length=255)
    create_time = models.DateTimeField(auto_now_add=True)
    parent_comment = models.ForeignKey(
        "self", blank=True, null=True, related_name="replies", on_delete=rowsync.DB_CASCADE
    )
    user = models.ForeignKey(
        UserInfo, to_field="nid", null=True, blank=True, on_delete=rowsync.DB_SET_NULL
    )
    up_count = models.IntegerField(default=0)


class Article2Tag(models.Model):
    nid = models.AutoField(primary_key=True)
    article = models.ForeignKey(Article, to_field="nid", on_delete=rowsync.DB_CASCADE)
    tag = models.ForeignKey(Tag, to_field="nid", on_delete=rowsync.DB_CASCADE)

    class Meta:
        unique_together = [("article", "tag")]


class ArticleUpDown(models.Model):
    nid = models.AutoField(primary_key=True)
    user = models.ForeignKey(UserInfo, null=True, on_delete=rowsync.DB_CASCADE)
    article = models.ForeignKey(Article, null=True, on_delete=rowsync.DB_CASCADE)
    is_up = models.BooleanField(default=True)

    class Meta:
        unique_together = [("article", "user")]


class CommentUp(models.Model):
    nid = models.AutoField(primary_key=True)
    user = models.ForeignKey(UserInfo, null=True, on_delete=rowsync.DB_CASCADE)
    comment = models.ForeignKey(Comment, null=True, on_delete=rowsync.DB_CASCADE)
