"""URLs of the console tests: Django's default admin site (rowsync registered by autodiscover)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
