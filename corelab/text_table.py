"""A fixed-width text table for the terminal: the one place the CLI lays out its rows (bench, lessons).

    columns = [Column("target", 26, left=True), Column("req/s", 8, ".1f"), Column("CPU", 7, ".0f", "%")]
    print(text_table(columns, [("rr", 180.2, 97.0), ("one process", 95.6, None)]))

A value of None prints as "-"; a row may carry a note after its last column (e.g. "generator-bound").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    fmt: str = ""  # a format spec for the value, e.g. ".1f" or ",.0f"
    suffix: str = ""  # printed right after the value, inside the width (e.g. "%")
    left: bool = False

    def cell(self, value: object) -> str:
        text = "-" if value is None else format(value, self.fmt) + self.suffix
        return f"{text:<{self.width}}" if self.left else f"{text:>{self.width}}"

    def head(self) -> str:
        return f"{self.title:<{self.width}}" if self.left else f"{self.title:>{self.width}}"


def text_table(columns: Sequence[Column], rows: Iterable[Sequence[object]], notes: Iterable[str] = ()) -> str:
    """The header and one line per row; ``notes[i]``, when given and not empty, ends line i after two spaces."""
    notes = list(notes)
    lines = [" ".join(c.head() for c in columns).rstrip()]
    for i, row in enumerate(rows):
        line = " ".join(c.cell(v) for c, v in zip(columns, row, strict=True))
        note = notes[i] if i < len(notes) else ""
        lines.append(f"{line}  {note}" if note else line)
    return "\n".join(lines)
