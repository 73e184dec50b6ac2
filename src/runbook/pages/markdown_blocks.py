"""Markdown building blocks for the site's macros: code fences, indentation, accessible tables.

Pure text in, text out; they know nothing of runbooks or records.
"""
from __future__ import annotations

import html
import re


def fence(lang: str, text: str, attrs: str = "") -> str:
    # One backtick more than the longest run inside, so a command with backticks cannot close it.
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{lang}{' ' + attrs if attrs else ''}\n{text}\n{ticks}"


def indent(text: str, width: int = 4) -> str:
    """Under an admonition or a content tab; blank lines stay empty."""
    return "\n".join((" " * width + ln) if ln.strip() else "" for ln in text.splitlines())


def table(columns: list[str], rows: list[list[str]]) -> str:
    """An HTML table of Markdown cells (md_in_html) that a screen reader can navigate: column headers
    `<th scope="col">` and, in each row, the first cell as the row's header `<th scope="row">`."""
    head = "".join(f'<th scope="col">{html.escape(column)}</th>' for column in columns)
    body = []
    for first, *rest in rows:
        cells = "".join(f'<td markdown="span">{cell}</td>' for cell in rest)
        body.append(f'<tr markdown="1"><th scope="row" markdown="span">{first}</th>{cells}</tr>')
    return "\n".join(['<table markdown="1">', f"<thead><tr>{head}</tr></thead>", '<tbody markdown="1">',
                      *body, "</tbody>", "</table>"])


def code_cell(command: str) -> str:
    """A command as inline code inside a table cell."""
    return f"`` {command} ``" if "`" in command else f"`{command}`"


def table_text(text: str) -> str:
    """Text on one line, for a table cell."""
    return text.replace("\n", " ")
