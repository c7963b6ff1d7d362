"""Ask rowsync whether a model is in the identity map (for the map-only assertions).

The parity tests assert what plain Django does, which must hold with the map on or off.
Where the map adds a promise (one instance per row), the test asks :func:`mapped` first.
"""

from __future__ import annotations

import pytest
from django.db.models import Model


def mapped(model: type[Model]) -> bool | None:
    """Return whether ``model``'s rows go through the identity map; ``None`` if unknown."""
    try:
        from rowsync import identity
    except ImportError:  # pragma: no cover - the package always has this subpackage
        return None
    is_mapped = getattr(identity, "is_mapped", None)
    if is_mapped is None:
        return None
    return bool(is_mapped(model))


def require_mapped(model: type[Model]) -> None:
    """Skip the calling test unless ``model`` is in the identity map."""
    state = mapped(model)
    if state is None:
        pytest.skip("rowsync.identity exposes no is_mapped(model) yet")
    if not state:
        pytest.skip(f"{model._meta.label} is not in ROWSYNC_IDENTITY_MAP")
