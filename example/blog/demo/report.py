"""A small, readable report printer for the demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def heading(self, text: str) -> None:
        self.out.write(f"\n== {text} ==\n")

    def line(self, text: str = "") -> None:
        self.out.write(f"  {text}\n")

    def check(self, ok: bool, text: str) -> None:
        self.out.write(f"  [{'ok' if ok else 'FAILED'}] {text}\n")
        if not ok:
            self.failures += 1

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        for n, row in enumerate(cells):
            self.out.write(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "\n"
            )
            if n == 0:
                self.out.write("  " + "  ".join("-" * w for w in widths) + "\n")

    failures = 0
