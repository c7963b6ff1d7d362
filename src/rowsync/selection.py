"""Match models against a ``"__all__"`` / ``"app_label"`` / ``"app_label.Model"`` setting."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model


def normalise(selection: str | Iterable[str]) -> tuple[bool, frozenset[str]]:
    """Return ``(all_models, labels)`` with every label lower-cased.

    Args:
        selection: ``"__all__"`` or an iterable of ``"app_label"`` / ``"app_label.ModelName"``.

    Returns:
        Whether every model is selected, and the lower-cased labels otherwise.
    """
    if isinstance(selection, str):
        if selection == "__all__":
            return True, frozenset()
        selection = [selection]
    return False, frozenset(label.lower() for label in selection)


def selects(selection: str | Iterable[str], model: type[Model]) -> bool:
    """Return whether ``model`` is named by ``selection`` (directly or by its app label)."""
    everything, labels = normalise(selection)
    if everything:
        return True
    opts = model._meta
    return opts.app_label.lower() in labels or opts.label_lower in labels
