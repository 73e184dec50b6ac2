"""`{{ doctor_findings() }}`: what `runbook doctor` reports and the page section that fixes each, from the
doctor's own table (src/runbook/doctor/pages.py), so the page and the program cannot disagree."""
from __future__ import annotations

from ..doctor import pages
from .markdown_blocks import table_text
from .sources import PageSources


def doctor_findings(sources: PageSources) -> str:
    rows = ["| finding | the page that fixes it | what it has you do |", "|---|---|---|"]
    for kind, fix in pages.FIXES.items():
        link = f"[{fix.slug}, #{fix.section}]({sources.link(pages.page_path(fix).split('#')[0])}#{fix.section})"
        rows.append(f"| `{kind}` | {link} | {table_text(fix.how)} |")
    return "\n".join(rows)
