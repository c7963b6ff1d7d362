"""The changelist filters of the operator console: model, age, attempts, last error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from rowsync.models import DeletedRow

__all__ = ["AgeFilter", "AttemptsFilter", "ErrorFilter", "ModelFilter"]

Events = QuerySet[DeletedRow]

_LABELS = "_rowsync_model_labels"


class ModelFilter(admin.SimpleListFilter):
    """Events of one model (``app_label.modelname``), among the labels the page holds."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Return the model labels of the page's events (one ``SELECT DISTINCT`` a request).

        The admin builds a changelist's filters more than once per request (an action
        builds them again): the labels are kept on the request.
        """
        # {admin class: labels}
        known: dict[type[Any], list[str]] = request.__dict__.setdefault(_LABELS, {})
        labels = known.get(type(model_admin))
        if labels is None:
            labels = known[type(model_admin)] = list(
                model_admin.get_queryset(request)
                .order_by("model_label")
                .values_list("model_label", flat=True)
                .distinct()
            )
        return [(label, label) for label in labels]

    def queryset(self, request: HttpRequest, queryset: Events) -> Events:
        """Keep the events of the chosen model."""
        value = self.value()
        return queryset.filter(model_label=value) if value else queryset


# {choice: (youngest age, oldest age)}: an event recorded between the two ages ago.
_AGES: dict[str, tuple[timedelta | None, timedelta | None]] = {
    "1h": (None, timedelta(hours=1)),
    "1d": (timedelta(hours=1), timedelta(days=1)),
    "7d": (timedelta(days=1), timedelta(days=7)),
    "old": (timedelta(days=7), None),
}


class AgeFilter(admin.SimpleListFilter):
    """Events by how long ago they were recorded (``created_at`` ranges)."""

    title = "age"
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Return the age ranges."""
        return [
            ("1h", "less than an hour"),
            ("1d", "1 hour to 1 day"),
            ("7d", "1 to 7 days"),
            ("old", "more than 7 days"),
        ]

    def queryset(self, request: HttpRequest, queryset: Events) -> Events:
        """Keep the events recorded within the chosen range."""
        value = self.value()
        if value not in _AGES:
            return queryset
        youngest, oldest = _AGES[value]
        now = timezone.now()
        if youngest is not None:
            queryset = queryset.filter(created_at__lte=now - youngest)
        if oldest is not None:
            queryset = queryset.filter(created_at__gt=now - oldest)
        return queryset


class AttemptsFilter(admin.SimpleListFilter):
    """Events by how many deliveries failed."""

    title = "failed attempts"
    parameter_name = "attempts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Return the attempt ranges."""
        return [("0", "none"), ("1", "1"), ("2-4", "2 to 4"), ("5+", "5 or more")]

    def queryset(self, request: HttpRequest, queryset: Events) -> Events:
        """Keep the events with the chosen number of failed attempts."""
        value = self.value()
        if value in ("0", "1"):
            return queryset.filter(attempts=int(value))
        if value == "2-4":
            return queryset.filter(attempts__gte=2, attempts__lte=4)
        if value == "5+":
            return queryset.filter(attempts__gte=5)
        return queryset


class ErrorFilter(admin.SimpleListFilter):
    """Events with or without a last error (the search box finds text inside it)."""

    title = "last error"
    parameter_name = "error"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Return has / has not."""
        return [("yes", "has an error"), ("no", "no error")]

    def queryset(self, request: HttpRequest, queryset: Events) -> Events:
        """Keep the events with (or without) a last error."""
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "no":
            return queryset.filter(last_error="")
        return queryset
