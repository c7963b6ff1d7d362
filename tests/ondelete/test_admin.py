"""The admin's delete confirmation lists what the database will delete (Django 5.2 and 6.1).

Django's admin collects with ``NestedObjects``; rowsync's ``DB_*`` relations are skipped
by a deleting Collector, but must still be walked for the page.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import override_settings
from django.urls import path

from tests.odapp.models import Author, Book, Chapter, Episode, Loan, Note, Review, Series

site = admin.AdminSite(name="rowsync_test_admin")
site.register(Author)
site.register(Book)

urlpatterns = [path("admin/", site.urls)]

ADMIN = override_settings(
    INSTALLED_APPS=[
        *settings.INSTALLED_APPS,
        "django.contrib.admin",
        "django.contrib.messages",
    ],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
)


@pytest.fixture
def admin_client(client, django_user_model):
    with ADMIN:
        user = django_user_model.objects.create_superuser(
            username="root", email="root@example.com", password="pw"
        )
        client.force_login(user)
        yield client


@pytest.fixture
def tree():
    author = Author.objects.create(name="Ann")
    book = Book.objects.create(title="Dune", author=author)
    chapter = Chapter.objects.create(book=book)
    note = Note.objects.create(chapter=chapter)
    review = Review.objects.create(book=book)
    series = Series.objects.create(author=author)
    episode = Episode.objects.create(series=series)
    return {
        "author": author,
        "book": book,
        "chapter": chapter,
        "note": note,
        "review": review,
        "series": series,
        "episode": episode,
    }


def _listed(page: str, obj) -> bool:
    return f"{type(obj)._meta.verbose_name.capitalize()}: " in page and str(obj) in page


def _summary(page: str, model, count: int) -> bool:
    return f"{model._meta.verbose_name_plural.capitalize()}: {count}" in page


@pytest.mark.django_db
def test_delete_confirmation_lists_database_cascades(admin_client, tree):
    response = admin_client.get(f"/admin/odapp/author/{tree['author'].pk}/delete/")
    assert response.status_code == 200
    page = response.content.decode()
    # Database cascades (DB_CASCADE), the chain below them, and Python's cascade.
    for name in ("book", "chapter", "note", "series", "episode"):
        assert _listed(page, tree[name]), name
    for model in (Book, Chapter, Note, Series, Episode):
        assert _summary(page, model, 1), model
    # DB_SET_NULL keeps the review: not listed for deletion (as Django 6.1 does).
    assert not _summary(page, Review, 1)
    assert Book.objects.count() == 1  # the page deleted nothing


@pytest.mark.django_db
def test_delete_selected_lists_database_cascades(admin_client, tree):
    response = admin_client.post(
        "/admin/odapp/author/",
        {"action": "delete_selected", "_selected_action": [tree["author"].pk]},
    )
    assert response.status_code == 200
    page = response.content.decode()
    for model in (Book, Chapter, Note, Series, Episode):
        assert _summary(page, model, 1), model
    assert Chapter.objects.count() == 1


@pytest.mark.django_db
def test_delete_confirmation_shows_database_protect(admin_client, tree):
    loan = Loan.objects.create(book=tree["book"])
    response = admin_client.get(f"/admin/odapp/author/{tree['author'].pk}/delete/")
    page = response.content.decode()
    assert "protected related objects" in page
    assert _listed(page, loan)
