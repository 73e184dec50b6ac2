"""src/runbook/pagecheck.py on the real pages and on small spoiled sources (no build, no records)."""
from __future__ import annotations

import dataclasses
import importlib.util
import re
from types import SimpleNamespace
from pathlib import Path

import pytest

from runbook import notebooks, pagecheck

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MACROS = ("command", "output", "step", "engine_outputs", "edit", "file_excerpt", "status", "operator_box",
          "commands_reference", "status_table", "error_index", "benchmark_results")
CIRCULAR = DOCS / "how-to" / "circular-dependency.md"


def problems(text: str, slug: str | None = "circular-dependency") -> list[str]:
    return pagecheck.problems_of(text, notebooks.find(slug) if slug else None, MACROS)


def test_the_macros_module_has_the_same_macros():
    spec = importlib.util.spec_from_file_location("site_macros", REPO / "hooks" / "macros.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.MACROS == MACROS


@pytest.mark.parametrize("page", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")))
def test_every_page_passes(page):
    """As the build checks it (hooks/macros.py): a how-to page, or a runbook's explanation page, with
    the other page of the pair as its companion."""
    path = DOCS / page
    section = page.split("/")[0]
    slugs = {p.stem for p in notebooks.RUNBOOKS.glob("*.ipynb")}
    slug = path.stem if section in ("how-to", "explanation") and path.stem in slugs else None
    other = DOCS / ("explanation" if section == "how-to" else "how-to") / path.name
    companion = other.read_text() if slug and other.is_file() else None
    assert pagecheck.check_page(page, path.read_text(), notebooks.find(slug) if slug else None, MACROS, companion) is None


def test_a_dropped_step_names_the_cell_and_its_neighbours():
    text = CIRCULAR.read_text().replace('{{ step("circular-dependency", "node-not-found") }}', "")
    [problem] = problems(text)
    assert problem.startswith("does not show cell 'node-not-found' (demo) of runbook 'circular-dependency', "
                              "which runs between 'drop-migration-modules' (page line ")
    assert "and 'restore-settings' (page line " in problem and "runbook.hidden" in problem


def test_swapped_steps_name_both_cells():
    a, b = '{{ step("circular-dependency", "plan") }}', '{{ command("circular-dependency", "migrate") }}'
    text = CIRCULAR.read_text().replace(a, "@A@").replace(b, a).replace("@A@", b)
    [problem] = problems(text)
    assert problem.startswith("shows cell 'plan' (line ")
    assert "after 'migrate' (line " in problem and "runs it before, between 'show-second-dependencies' and 'migrate'" in problem


def test_a_hidden_cell_may_be_left_off_but_not_shown():
    box = '{{ operator_box("circular-dependency") }}'
    text = CIRCULAR.read_text().replace(box, box + '\n\n{{ step("circular-dependency", "setup") }}')
    [problem] = problems(text)
    assert problem.startswith("shows cell 'setup' (line ") and "marks hidden (\"runner plumbing:" in problem


def test_engine_siblings_are_one_step_in_any_order_but_each_is_shown():
    page = (DOCS / "how-to" / "rollback-migrations.md").read_text()
    sqlite = '{{ output("rollback-migrations", "migrate-fails-sqlite", collapsed=False) }}'
    mariadb = '{{ output("rollback-migrations", "migrate-fails-mariadb", engine="mariadb", collapsed=False) }}'
    assert problems(page.replace(sqlite, "@S@").replace(mariadb, sqlite).replace("@S@", mariadb), "rollback-migrations") == []
    [problem] = problems(page.replace(mariadb, ""), "rollback-migrations")
    assert problem.startswith("does not show cell 'migrate-fails-mariadb' (demo)")


def test_a_step_in_a_comment_is_not_shown():
    step = '{{ step("circular-dependency", "node-not-found") }}'
    for hidden in (f"<!-- {step} -->", f"{{# {step} #}}"):
        [problem] = problems(CIRCULAR.read_text().replace(step, hidden))
        assert problem.startswith("does not show cell 'node-not-found'")


@pytest.mark.parametrize("typed, found", [
    ("```bash\npython manage.py migrate --fake accounts 0042_never_ran\n```", "a typed ```bash block"),
    ("```sh\nrm -rf accounts/migrations\n```", "a typed ```sh block"),
    ("~~~console\n$ python manage.py flush\n~~~", "a typed ```console block"),
    ('```{ .zsh title="x" }\nls\n```', "a typed ```zsh block"),
    ("```text\n$ python manage.py flush\n```", "a typed prompt line `$ python manage.py flush`"),
    ("1. Run:\n\n    $ python manage.py flush\n", "a typed prompt line `$ python manage.py flush`"),
    ("> $ python manage.py flush", "a typed prompt line `$ python manage.py flush`"),
    ('<pre><code class="language-bash">python manage.py flush</code></pre>', "raw HTML code in a shell language"),
    ('{{ "```bash\\nrm -rf /\\n```" }}', "is not a call of a macro"),
    ('{% set x = 1 %}', "a Jinja statement"),
    ('{{ step("circular-dependency", "plan") | replace("plan", "x") }}', "is not a call of a macro"),
])
def test_typed_shell_is_refused(typed, found):
    found_in = problems(f"# Page\n\nText.\n\n{typed}\n", slug=None)
    assert len(found_in) == 1 and found in found_in[0], found_in
    assert re.match(r"line [5-7]: ", found_in[0]), found_in


def test_the_opt_out_class_lets_a_typed_block_through():
    text = "```{ .bash .not-a-runbook-step }\n.venv/bin/python benchmarks/run.py\n$ echo shown as typed\n```\n"
    assert problems(text, slug=None) == []


def test_check_page_names_the_page():
    with pytest.raises(pagecheck.PageError, match=r"^docs/how-to/circular-dependency\.md:\n  line 3: a typed"):
        pagecheck.check_page("how-to/circular-dependency.md", "x\n\n$ ls\n", None, MACROS)


# -- demonstrations fenced off from the reader's data ----------------------------------------------

SAVE_WORK_MODEL_BLOCK = '''??? danger "Do not run this on your data: a new invoice gets its workflow (creates rows)"

    On the sample project, a new invoice then gets its workflow from finflo's signal (this creates
    rows; it is not part of the procedure):

    {{ step("circular-dependency", "save-work-model") }}'''


def test_the_circular_page_fences_the_demo_that_creates_rows():
    assert SAVE_WORK_MODEL_BLOCK in CIRCULAR.read_text()


def test_a_demo_that_loses_its_sample_only_settings_is_refused():
    text = CIRCULAR.read_text()
    runbook = notebooks.find("circular-dependency")
    cell = runbook.cell("save-work-model")
    spoiled = cell.source.replace(" --settings=config.sample_only", "")
    [problem] = pagecheck.fencing_problems(
        pagecheck.macro_calls(text, MACROS)[0],
        _with_source(runbook, "save-work-model", spoiled), text)
    assert re.match(r"line \d+: demo cell 'save-work-model' would run on a reader's own project or database "
                    r"when copied: give each manage.py command --settings=config.sample_only", problem)


def test_a_procedure_step_inside_a_do_not_run_block_is_refused():
    step = '{{ step("circular-dependency", "makemigrations-second") }}'
    text = CIRCULAR.read_text().replace(f"    {step}", f'    ??? danger "Do not run this"\n\n        {step}')
    [problem] = problems(text)
    assert re.match(r"line \d+: procedure cell 'makemigrations-second' is inside a \"Do not run this\" block", problem)


def _with_source(runbook, cell_id, source):
    """The runbook with one cell's source replaced (its commands re-read from it)."""
    cells = [dataclasses.replace(c, source=source) if c.id == cell_id else c for c in runbook.cells]
    return dataclasses.replace(runbook, cells=cells)


def _cell(*commands: str, edits: bool = False):
    return SimpleNamespace(commands=list(commands), edits_files=edits)


@pytest.mark.parametrize("commands, closed", [
    (["THROWAWAY_DATABASE_URL={old_database_url} python manage.py migrate --settings=config.sample_only"], True),
    (["python manage.py shell --settings=config.sample_only -c \"print(1); print(2)\" > \"$BACKUP_DIR/x.txt\""
      " && diff \"$BACKUP_DIR/a.txt\" \"$BACKUP_DIR/x.txt\""], True),
    (["python manage.py migrate --settings=config.sample_only && python manage.py flush --noinput"], False),
    (["DATABASE_URL={old_database_url} python manage.py migrate"], False),  # Django reads no DATABASE_URL
    (["python manage.py migrate"], False),
    (["test -f config/sample_only.py && rm -r accounts/migrations && git status --short"], True),
    (["test -f config/sample_only.py || rm -r accounts/migrations"], False),
    (["rm -r accounts/migrations && test -f config/sample_only.py"], False),
    (["python manage.py showmigrations", "rm -r accounts/migrations"], False),
])
def test_a_demo_fails_closed_only_if_every_command_stops_outside_the_sample(commands, closed):
    assert pagecheck.fails_closed(_cell(*commands)) is closed


@pytest.mark.parametrize("command, reads", [
    ("python manage.py showmigrations finflo", True),
    ("python manage.py migrate accounts 0001 --plan", True),
    ("python manage.py migrate accounts 0001", False),
    ("python manage.py makemigrations transaction --empty --dry-run", True),
    ("python manage.py makemigrations transaction --empty", False),
    ("python manage.py dumpdata accounts > \"$BACKUP_DIR/accounts.json\"", True),
    ("python manage.py dumpdata accounts > ../accounts.json", False),
    ("python manage.py shell -c \"from accounts.models import User; print(User.objects.count())\"", True),
    ("python manage.py shell -c \"from accounts.models import User; User.objects.all().delete()\"", False),
    ("python manage.py shell -c \"from django.db import connection; connection.cursor().execute('DROP TABLE x')\"", False),
    ("git status --short", True),
    ("git restore .", False),
    ("grep -c finflo accounts/migrations/0001_initial.py || echo none", True),
    ("python manage.py showmigrations && rm -r accounts/migrations", False),
])
def test_what_counts_as_only_reading(command, reads):
    assert pagecheck._reads_only(_cell(command)) is reads


# -- a how-to and its explanation page show the runbook's cells between them ------------------------

def test_a_demo_shown_on_the_explanation_page_counts_as_shown():
    step = '{{ step("circular-dependency", "save-work-model") }}'
    assert step in CIRCULAR.read_text()
    how_to = CIRCULAR.read_text().replace(step, "")
    runbook = notebooks.find("circular-dependency")
    assert any("does not show cell 'save-work-model'" in p for p in pagecheck.problems_of(how_to, runbook, MACROS))
    assert pagecheck.problems_of(how_to, runbook, MACROS, companion=f"# Why\n\n{step}\n") == []


def test_a_procedure_step_on_the_explanation_page_is_refused():
    runbook = notebooks.find("circular-dependency")
    [problem] = pagecheck.problems_of('# Why\n\n{{ step("circular-dependency", "migrate") }}\n', runbook, MACROS,
                                      companion=CIRCULAR.read_text(), procedure_page=False)
    assert re.match(r"line 3: shows procedure cell 'migrate': a procedure step belongs on the how-to page", problem)
