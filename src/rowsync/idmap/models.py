"""django-idmap's ``idmap.models``: the base class, manager, metaclass and Django's models.

``from rowsync.idmap import models`` then ``models.IdMapModel``, ``models.CharField``,
``models.CASCADE``... as with ``from idmap import models``.
"""

from __future__ import annotations

from django.db.models import *  # noqa: F403  (re-export, as django-idmap's docs promise)
from django.db.models import __all__ as _django_all

from rowsync.identity.models import IdentityManager, IdentityModel, IdentityModelBase

#: django-idmap's ``IdMapModel`` is rowsync's ``IdentityModel``.
IdMapModel = IdentityModel
#: django-idmap's ``IdMapManager`` is rowsync's ``IdentityManager``.
IdMapManager = IdentityManager
#: django-idmap's ``IdMapModelBase`` is rowsync's ``IdentityModelBase``.
IdMapModelBase = IdentityModelBase

__all__ = [*_django_all, "IdMapManager", "IdMapModel", "IdMapModelBase"]  # noqa: PLE0604
