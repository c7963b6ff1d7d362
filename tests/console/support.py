"""Settings, users and events shared by the console tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.utils import timezone

from rowsync.models import DeletedRow

#: What a project with Django's admin has; added on top of the test settings.
ADMIN_SETTINGS: dict[str, Any] = {
    "INSTALLED_APPS": [
        *settings.INSTALLED_APPS,
        "django.contrib.admin",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ],
    "ROOT_URLCONF": "tests.console.urls",
    "STATIC_URL": "/static/",
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    "TEMPLATES": [
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
}
ADMIN = override_settings(**ADMIN_SETTINGS)

EVENTS = "/admin/rowsync/deletedrow/"
DEAD = "/admin/rowsync/deadletter/"
BACKLOG = "/admin/rowsync/deletedrow/backlog/"


def staff(django_user_model: Any, name: str, *verbs: str) -> Any:
    """Return a staff user holding ``rowsync.<verb>_deletedrow`` for each verb."""
    user = django_user_model.objects.create_user(username=name, password="pw", is_staff=True)
    codenames = [f"{verb}_deletedrow" for verb in verbs]
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="rowsync", codename__in=codenames)
    )
    return user


def event(**fields: Any) -> DeletedRow:
    """Create one event of ``blog.article`` (pending unless told)."""
    values: dict[str, Any] = {
        "model_label": "blog.article",
        "table_name": "blog_article",
        "pk_text": "1",
        "row": {"nid": 1, "title": "Hello"},
        "context": {"user": "editor", "request_id": "r-17"},
    }
    values.update(fields)
    return DeletedRow.objects.create(**values)


def dead(**fields: Any) -> DeletedRow:
    """Create one dead letter (five failed attempts, with an error)."""
    values: dict[str, Any] = {
        "status": DeletedRow.Status.DEAD,
        "attempts": 5,
        "last_error": "builtins.RuntimeError: search index down\n\nTraceback ...",
    }
    values.update(fields)
    return event(**values)


def lease(seconds: float) -> Any:
    """Return a ``claimed_until`` ``seconds`` from now (negative: expired)."""
    return timezone.now() + timedelta(seconds=seconds)
