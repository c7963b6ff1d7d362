"""django-rowsync: keep Django objects and database rows in step.

The public API is ``__all__``; everything else may change between releases.
"""

from __future__ import annotations

from rowsync.exceptions import RowsyncError

__all__ = ["RowsyncError", "__version__"]

__version__ = "0.1.0.dev0"
