"""The operator console: rowsync's events and dead letters in Django's admin.

``rowsync/admin.py`` calls :func:`register_if_enabled` on ``django.contrib.admin.site``
when the admin autodiscovers it (so only with ``django.contrib.admin`` installed, and not
with ``ROWSYNC_ADMIN = False``). A project with its own ``AdminSite`` calls
:func:`register` on it. See docs/admin.md.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite

from rowsync import conf

__all__ = ["register", "register_if_enabled"]


def register(site: AdminSite) -> None:
    """Register the events and dead-letter pages on ``site`` (again: no-op)."""
    from rowsync.console.admins import DeadLetterAdmin, EventAdmin
    from rowsync.models import DeadLetter, DeletedRow

    if not site.is_registered(DeletedRow):
        site.register(DeletedRow, EventAdmin)
    if not site.is_registered(DeadLetter):
        site.register(DeadLetter, DeadLetterAdmin)


def register_if_enabled(site: AdminSite) -> bool:
    """Register the console on ``site`` unless ``ROWSYNC_ADMIN`` is False.

    Returns:
        Whether the console is registered.
    """
    if not conf.admin_enabled():
        return False
    register(site)
    return True
