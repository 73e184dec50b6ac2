"""The home page's error index lists errors a reader would paste into a search, each once, each linked
to the section of the page that shows the failing command's output."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from runbook.pages.error_index import error_line, reader_error
from runbook.pages.page_places import _cells_of_page

try:  # tests/ may or may not be a package
    from .test_site import records, session_base, site  # noqa: F401 (fixtures)
except ImportError:
    from test_site import records, session_base, site  # noqa: F401

# Independent of the module's own pattern: an exception line (its name ends in Error or Exception,
# or it comes from an `exceptions` module), Django's unknown command, a failed check.
AN_ERROR = re.compile(r"^((\w+\.)*[A-Z]\w*(Error|Exception)\b|(\w+\.)+exceptions\.[A-Z]\w*: |Unknown command: |FAILED: )")

TRACEBACK = """Traceback (most recent call last):
  File "/project/manage.py", line 22, in <module>
    main()
  File "/venv/django/db/migrations/graph.py", line 274, in ensure_not_cyclic
    raise CircularDependencyError(", ".join("%s.%s" % n for n in cycle))
{}"""


@pytest.mark.parametrize("output, expected", [
    # Not errors: what the index listed before (issue 25 item 5, review §5.9).
    ("> accounts_parties 11f808c3d4aabeb95c5e207b387d43391a7ce45315d7fa2747bd3b4cfe161eac\n"
     "< accounts_parties 09636581ecb8d3b753411b7a1d3ecc611bc3a1f7a0cf605029bda3232bcdc728", None),
    ("Migrations for 'django_session':\n  sessions/migrations/0001_initial.py\n    - Create model Session", None),
    ("Planned operations:\naccounts.0002_links_to_finflo\n"
     "    Undo Alter unique_together for userprocessauth (1 constraint(s))", None),
    # The sample-only mechanism's stop is not a reader's error.
    (TRACEBACK.format("ModuleNotFoundError: No module named 'config.sample_only'"), None),
    ("", None),
    # Errors: the last exception line of a traceback, as printed.
    (TRACEBACK.format("django.db.migrations.exceptions.CircularDependencyError: accounts.0001_initial, "
                      "transaction.0001_initial"),
     "django.db.migrations.exceptions.CircularDependencyError: accounts.0001_initial, transaction.0001_initial"),
    ("sqlite3.OperationalError: table \"x\" already exists\n\nThe above exception was the direct cause of the "
     "following exception:\n\nTraceback (most recent call last):\n  File \"m.py\", line 1\n"
     "django.db.utils.OperationalError: table \"x\" already exists",
     "django.db.utils.OperationalError: table \"x\" already exists"),
    (TRACEBACK.format("django.db.migrations.exceptions.InconsistentMigrationHistory: Migration a.0002 is applied "
                      "before its dependency a.0001"),
     "django.db.migrations.exceptions.InconsistentMigrationHistory: Migration a.0002 is applied before its "
     "dependency a.0001"),
    ("CommandError: Unknown model: accounts.users", "CommandError: Unknown model: accounts.users"),
    ("Unknown command: 'dbflush'. Did you mean flush?\nType 'manage.py help' for usage.",
     "Unknown command: 'dbflush'. Did you mean flush?"),
    ("parties: 2\ninvoices: 3\nFAILED: table transaction_payment is missing",
     "FAILED: table transaction_payment is missing"),
    # A model label with counts is not an error.
    ("transaction.Invoice: 3 rows\naccounts.Parties: 2 rows", None),
])
def test_an_output_names_the_error_a_reader_searches_for(output, expected):
    assert reader_error(output) == expected


def index_rows(home: str) -> list[tuple[str, str]]:
    """(error text, link href) of each row of the home page's error table."""
    section = home[home.index('id="find-your-error-message"'):]
    table = section[:section.index("</table>")]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", cells[0])).strip()
        href = re.search(r'href="([^"]+)"', cells[1]).group(1)
        rows.append((text, href))
    return rows


def check_index(site_dir: Path) -> list[str]:
    """What is wrong with the built site's error index, if anything."""
    rows = index_rows((site_dir / "index.html").read_text())
    problems = []
    if not rows:
        problems.append("the error index is empty")
    texts = [text for text, _ in rows]
    problems += [f"listed {texts.count(t)} times: {t}" for t in sorted(set(texts)) if texts.count(t) > 1]
    for text, href in rows:
        if not AN_ERROR.match(text) or "config.sample_only" in text:
            problems.append(f"not an error a reader searches for: {text!r}")
            continue
        page, _, anchor = href.partition("#")
        if not anchor:
            problems.append(f"{text!r} links to a page, not to the section that shows it: {href}")
            continue
        target = (site_dir / page).resolve()
        target = target / "index.html" if target.is_dir() else target
        page_html = target.read_text()
        start = page_html.find(f'id="{anchor}"')
        if start < 0:
            problems.append(f"{href}: no section #{anchor}")
            continue
        following = re.search(r"<h[1-6][^>]*id=", page_html[start + 1:])
        section = page_html[start:start + 1 + following.start()] if following else page_html[start:]
        if text not in html.unescape(re.sub(r"<[^>]+>", "", section)):
            problems.append(f"{href}: the section does not show {text!r}")
    return problems


def test_every_row_of_the_error_index_is_an_error_shown_in_its_section(site):
    assert check_index(site) == []


PAGE = """# How to x

{{ step("x", "first") }}

## The procedure

{{ command("x", "second") }}

```console { .bash .not-a-runbook-step }
## not a heading
```

{{ output("x", "second", engine="mariadb") }}

## `migrate <app> zero`: un-applies

{{ engine_outputs("x", "third") }}

## The procedure

<!-- {{ step("x", "commented-out") }} -->
{{ output("x", "fourth", "postgresql") }}
{{ step("y", "other-runbook") }}
"""


def test_the_section_and_the_engines_a_page_shows_a_cell_in():
    named = [(cell, engines, place.anchor, place.title) for cell, engines, place in _cells_of_page("how-to/x.md", PAGE, "x")]
    assert named == [
        ("first", ("sqlite",), None, "How to x"),
        ("second", (), "the-procedure", "How to x › The procedure"),
        ("second", ("mariadb",), "the-procedure", "How to x › The procedure"),
        ("third", ("sqlite", "postgresql", "mariadb"), "migrate-app-zero-un-applies",
         "How to x › migrate &lt;app&gt; zero: un-applies"),
        ("fourth", ("postgresql",), "the-procedure_1", "How to x › The procedure"),
    ]


def test_a_clean_up_reported_after_the_error_is_not_the_error():
    """dumpdata's CommandError, then Python's report of a cursor closed late: the CommandError is it."""
    output = ("CommandError: Unable to serialize database: Parties.name (pk:5) contains unserializable characters\n"
              "Exception ignored in: <generator object cursor_iter at 0x…>\nTraceback (most recent call last):\n"
              '  File "<site-packages>/django/db/models/sql/compiler.py", line 2174, in cursor_iter\n'
              "    cursor.close()\nsqlite3.ProgrammingError: Cannot operate on a closed database.\n")
    assert error_line(output).startswith("CommandError: Unable to serialize database: Parties.name")
