"""django-idmap's ``idmap.signals``: the flush signals and the flush handler."""

from __future__ import annotations

from rowsync.identity.signals import flush_idmap, post_flush, pre_flush

__all__ = ["flush_idmap", "post_flush", "pre_flush"]
