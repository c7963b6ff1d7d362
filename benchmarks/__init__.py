"""rowsync's benchmarks: scripts run by hand, never by the test suite.

The package doubles as the Django app ``benchmarks`` that holds the benchmark models.
"""

from __future__ import annotations
