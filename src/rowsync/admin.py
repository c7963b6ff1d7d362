"""Django's admin autodiscovers this module: it registers the operator console.

Only imported when ``django.contrib.admin`` is installed; ``ROWSYNC_ADMIN = False``
leaves the admin alone (see docs/admin.md).
"""

from __future__ import annotations

from django.contrib import admin

from rowsync.console import register_if_enabled

register_if_enabled(admin.site)
