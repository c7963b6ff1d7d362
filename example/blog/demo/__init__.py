"""The demo's sections: each module has ``TITLE`` and ``run(report)``."""

from __future__ import annotations

SECTIONS: list[str] = [
    "blog.demo.data",
    "blog.demo.identity",
    "blog.demo.events",
    "blog.demo.ondelete",
]
