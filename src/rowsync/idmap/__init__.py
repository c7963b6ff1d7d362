"""django-idmap's API under rowsync: switch by changing ``idmap`` to ``rowsync.idmap``.

``from rowsync.idmap import models`` gives ``IdMapModel``, ``IdMapManager``,
``IdMapModelBase`` and every name of ``django.db.models``; ``rowsync.idmap.flush``
and ``rowsync.idmap.signals`` (``pre_flush``, ``post_flush``, ``flush_idmap``) are
rowsync's own. See ``docs/migrating-from-django-idmap.md``.
"""

from __future__ import annotations

from rowsync.identity.signals import flush

__all__ = ["flush"]
