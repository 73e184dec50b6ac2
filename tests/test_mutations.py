"""Mutation testing of the docs: each kind of lie a page could tell is put into a fresh copy of the
docs, runbooks or sample project, and the build (or the validation) must refuse it, naming the cause.

Builds use the session's SQLite records (tests/test_site.py, made once); validations run one
runbook on SQLite, on a copy, and stop at the first failing cell. Run with `-s` to see, for each
mutant, the line that killed it.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

try:  # tests/ may or may not be a package
    from .test_site import BIN, DOCS, REPO, RUNBOOKS, build, validate_records
except ImportError:
    from test_site import BIN, DOCS, REPO, RUNBOOKS, build, validate_records

pytestmark = pytest.mark.slow
SAMPLE = REPO / "sampleproject"


@dataclass
class Copy:
    """Fresh copies of docs/, runbooks/ and sampleproject/ to spoil."""

    root: Path

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    @property
    def runbooks(self) -> Path:
        return self.root / "runbooks"

    @property
    def sample(self) -> Path:
        return self.root / "sampleproject"

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace ``old``, which must occur exactly once, in a file of the copy."""
        file = self.root / relative
        text = file.read_text()
        assert text.count(old) == 1, f"{relative}: {old!r} occurs {text.count(old)} times"
        file.write_text(text.replace(old, new))

    def append(self, relative: str, text: str) -> None:
        file = self.root / relative
        file.write_text(file.read_text() + text)

    def notebook(self, slug: str, change: Callable[[dict], None]) -> None:
        """Change a runbook's JSON (cells as nbformat stores them)."""
        path = self.runbooks / f"{slug}.ipynb"
        nb = json.loads(path.read_text())
        change(nb)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")

    def env(self) -> dict[str, str]:
        return {"RUNBOOK_DIR": str(self.runbooks), "RUNBOOK_SAMPLE_PROJECT": str(self.sample)}

    def build(self, records: Path) -> tuple[int, str]:
        result = build(self.root / "site", records, self.docs, **self.env())
        return result.returncode, result.log

    def validate(self, slug: str) -> tuple[int, str]:
        result = subprocess.run(
            [BIN / "runbook", "validate", slug, "--django", "5.2", "--engine", "sqlite", "--jobs", "1",
             "--records", str(self.root / "records")],
            cwd=REPO, capture_output=True, text=True, env={**os.environ, **self.env()}, timeout=600,
        )
        return result.returncode, result.stdout + result.stderr


def cell(nb: dict, cell_id: str) -> dict:
    return next(c for c in nb["cells"] if c.get("id") == cell_id)


def source_of(nb: dict, cell_id: str, old: str, new: str) -> None:
    text = "".join(cell(nb, cell_id)["source"])
    assert text.count(old) == 1, (cell_id, old)
    cell(nb, cell_id)["source"] = text.replace(old, new)


def swap_cells(nb: dict, first: str, second: str) -> None:
    ids = [c.get("id") for c in nb["cells"]]
    i, j = ids.index(first), ids.index(second)
    nb["cells"][i], nb["cells"][j] = nb["cells"][j], nb["cells"][i]


def move_before(nb: dict, moved: str, anchor: str) -> None:
    node = cell(nb, moved)
    nb["cells"].remove(node)
    nb["cells"].insert(nb["cells"].index(cell(nb, anchor)), node)


def add_fake_procedure(nb: dict) -> None:
    """A procedure cell, just before the last one, that the page does not show."""
    node = copy.deepcopy(cell(nb, "migrate-check"))
    node["id"], node["source"] = "fake-accounts", "!python manage.py migrate --fake accounts zero"
    node["metadata"]["runbook"]["role"] = "procedure"
    nb["cells"].insert(len(nb["cells"]) - 1, node)


CIRCULAR = "docs/how-to/circular-dependency.md"
EXPLANATION = "docs/explanation/circular-dependency.md"
BASH = "\n```bash\npython manage.py migrate --fake accounts 0042_never_ran\n```\n"


@dataclass
class Mutant:
    lie: str
    apply: Callable[[Copy], None]
    check: str  # "build" or "validate <slug>"
    caught: list[str]  # each must be in the output


MUTANTS = [
    Mutant("a page drops a step",
           lambda c: c.replace(CIRCULAR, '{{ command("circular-dependency", "remove-regenerated") }}', ""),
           # The build checks the explanation page first; it names the step missing from both pages.
           "build", ["docs/explanation/circular-dependency.md:", "does not show cell 'remove-regenerated' (procedure)",
                     "which runs between 'symptom-never-committed' (page line", "and 'cycle-before-split' (page line"]),
    Mutant("a page swaps two steps",
           lambda c: (c.replace(CIRCULAR, '{{ step("circular-dependency", "fake-compared") }}', "@FAKE@"),
                      c.replace(CIRCULAR, '{{ step("circular-dependency", "migrate") }}',
                                '{{ step("circular-dependency", "fake-compared") }}'),
                      c.replace(CIRCULAR, "@FAKE@", '{{ step("circular-dependency", "migrate") }}')),
           "build", ["docs/how-to/circular-dependency.md:", "shows cell 'fake-compared' (line",
                     "after 'migrate' (line", "runs it before, between 'schema-mariadb' and 'migrate'"]),
    Mutant("a page gets a pasted bash block",
           lambda c: c.append(CIRCULAR, BASH), "build",
           ["docs/how-to/circular-dependency.md:", "a typed ```bash block", ".not-a-runbook-step"]),
    Mutant("the home page gets a typed $ line in a text block",
           lambda c: c.append("docs/index.md", "\n```text\n$ python manage.py flush --noinput\n```\n"), "build",
           ["docs/index.md:", "a typed prompt line `$ python manage.py flush --noinput`"]),
    Mutant("a reference page gets a typed console block",
           lambda c: c.append("docs/reference/commands.md", "\n~~~console\n$ python manage.py migrate\n~~~\n"),
           "build", ["docs/reference/commands.md:", "a typed ```console block"]),
    Mutant("a step is hidden from readers in an HTML comment",
           lambda c: c.replace(CIRCULAR, '{{ step("circular-dependency", "prune") }}',
                               '<!-- {{ step("circular-dependency", "prune") }} -->'),
           "build", ["does not show cell 'prune' (procedure)"]),
    Mutant("a page stops rendering its macros",
           lambda c: c.replace(CIRCULAR, "# How to break", "---\nrender_macros: false\n---\n\n# How to break"),
           "build", ["docs/how-to/circular-dependency.md: render_macros: false"]),
    Mutant("a page writes text through a Jinja expression",
           lambda c: c.append(CIRCULAR, '\n{{ "```bash\\npython manage.py flush\\n```" }}\n'), "build",
           ["docs/how-to/circular-dependency.md:", "is not a call of a macro"]),
    Mutant("the runbook swaps two cells its page shows in order",
           lambda c: c.notebook("circular-dependency", lambda nb: swap_cells(nb, "fake-compared", "migrate")),
           "build", ["docs/how-to/circular-dependency.md:", "shows cell 'migrate' (line", "after 'fake-compared'"]),
    Mutant("the runbook gains a procedure cell its page does not show",
           lambda c: c.notebook("circular-dependency", add_fake_procedure), "build",
           ["docs/explanation/circular-dependency.md:", "does not show cell 'fake-accounts' (procedure)",
            "which runs between 'workaround-makemigrations-transaction' (page line"]),
    Mutant("a demonstration that edits the sample's files leaves its 'Do not run this' block",
           lambda c: c.replace(EXPLANATION, '??? danger "Do not run this on your project: the project without finflo_migrations"',
                               '??? note "The project without finflo_migrations"'),
           "build", ["docs/explanation/circular-dependency.md:", "demo cell 'never-committed-settings' edits the "
                     "sample's files"]),
    Mutant("a demonstration on a throwaway database loses the settings only the sample has",
           lambda c: c.notebook("circular-dependency", lambda nb: source_of(
               nb, "fresh-database", " --settings=config.sample_only", "")),
           "build", ["docs/explanation/circular-dependency.md:", "demo cell 'fresh-database' would run on a "
                     "reader's own project or database"]),
    Mutant("a cell the page shows is marked hidden",
           lambda c: c.notebook("circular-dependency", lambda nb: cell(nb, "fake-compared")["metadata"]["runbook"].update(
               hidden="not interesting")),
           "build", ["shows cell 'fake-compared'", "marks hidden ('not interesting')"]),
    Mutant("a cell is hidden without a reason",
           lambda c: c.notebook("circular-dependency", lambda nb: cell(nb, "run-syncdb-named")["metadata"]["runbook"].update(
               hidden="")),
           "build", ["cell 'run-syncdb-named': runbook.hidden says why the page leaves the cell out, got ''"]),
    Mutant("an expected failure loses its message pattern",
           lambda c: c.notebook("circular-dependency", lambda nb: cell(nb, "symptom")[
               "metadata"]["runbook"]["expect"].pop("output")),
           "build", ["cell 'symptom': an expected failure needs runbook.expect.output"]),
    Mutant("the sample project loses finflo's migration it keeps (the MIGRATION_MODULES fix)",
           lambda c: (c.sample / "finflo_migrations" / "0003_alter_action_stage_required.py").unlink(),
           "validate circular-dependency",
           ["cell 'database-applied-old'", "on sqlite: CommandFailed: exit status 1"]),
    Mutant("a runbook command changes an app label",
           lambda c: c.notebook("circular-dependency", lambda nb: source_of(
               nb, "makemigrations-links", "makemigrations {user_app}", "makemigrations acounts")),
           "validate circular-dependency",
           ["cell 'makemigrations-links' (python manage.py makemigrations acounts --name links_to_finflo) on sqlite: "
            "CommandFailed"]),
    Mutant("an expected failure stops failing",
           lambda c: c.notebook("circular-dependency", lambda nb: source_of(
               nb, "cycle-before-split", "migrate --plan", "migrate --version")),
           "validate circular-dependency", ["cycle-before-split", "expected exit status 1, but the cell succeeded"]),
]

# Not a lie: the page calls the sample's run_before a safeguard that nothing needs here (finflo's
# first migration already depends on accounts' first one). Emptying it must change no outcome.
HARMLESS = [
    Mutant("the sample project loses run_before, which the page calls a safeguard nothing needs here",
           lambda c: c.replace("sampleproject/accounts/migrations/0001_initial.py",
                               '    run_before = [\n        ("finflo", "0001_initial"),\n    ]', "    run_before = []"),
           "validate circular-dependency", ["1 passed, 0 failed"]),
]
FINFLO_MIGRATIONS = Path(__import__("finflo").__file__).parent / "migrations"


@pytest.fixture(autouse=True)
def installed_finflo_unchanged():
    """A spoiled sample (say, without MIGRATION_MODULES) must not write into the installed package."""
    before = sorted(p.name for p in FINFLO_MIGRATIONS.glob("*.py"))
    yield
    assert sorted(p.name for p in FINFLO_MIGRATIONS.glob("*.py")) == before, "a mutant wrote into finflo"


@pytest.fixture(scope="session")
def records(tmp_path_factory) -> Path:
    return validate_records(tmp_path_factory.getbasetemp())


@pytest.fixture
def fresh_copy(tmp_path) -> Copy:
    spoiled = Copy(tmp_path)
    shutil.copytree(DOCS, spoiled.docs)
    shutil.copytree(RUNBOOKS, spoiled.runbooks)
    shutil.copytree(SAMPLE, spoiled.sample, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__", "finflo.log"))
    return spoiled


def run(mutant: Mutant, copy: Copy, records: Path) -> tuple[int, str]:
    mutant.apply(copy)
    return copy.build(records) if mutant.check == "build" else copy.validate(mutant.check.split()[1])


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.lie for m in MUTANTS])
def test_the_lie_is_caught(mutant, fresh_copy, records):
    returncode, log = run(mutant, fresh_copy, records)
    assert returncode != 0, f"{mutant.lie}: the {mutant.check.split()[0]} passed\n{log[-3000:]}"
    missing = [text for text in mutant.caught if text not in log]
    assert not missing, f"{mutant.lie}: caught, but the output does not say {missing}\n{log[-3000:]}"
    cause = next(line for line in log.splitlines() if mutant.caught[-1] in line)
    print(f"\nKILLED {mutant.lie}: {cause.strip()[:300]}")


@pytest.mark.parametrize("mutant", HARMLESS, ids=[m.lie for m in HARMLESS])
def test_what_the_page_calls_a_safeguard_changes_no_outcome(mutant, fresh_copy, records):
    returncode, log = run(mutant, fresh_copy, records)
    assert returncode == 0 and all(text in log for text in mutant.caught), f"{mutant.lie}: an outcome changed\n{log[-3000:]}"


def test_the_copies_build_unspoiled(fresh_copy, records):
    """Without a mutation the copy builds: the failures above are the mutations' doing."""
    returncode, log = fresh_copy.build(records)
    assert returncode == 0, log[-3000:]
