"""The one table from a doctor finding to the page that fixes it: slug, section, what to do, plan parameters.

Pages are rewritten while their slugs stay; tests/test_doctor.py checks that every slug has a
runbook and every section is a heading of its page, so a renamed heading fails there, not on a
user's screen.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fix:
    slug: str  # runbooks/<slug>.ipynb, docs/how-to/<slug>.md
    section: str  # the heading's anchor on that page
    how: str  # one line: what the page has you do
    parameters: tuple[tuple[str, str], ...] = field(default=())  # -p NAME=<finding's name NAME>
    folder: str = "how-to"  # "explanation": a case the how-to links to, shown on the runbook's explanation page
    # The runbook's alternative procedure the plan chooses (--procedure), or BY_GIT, whose section is
    # then the chosen procedure's (SECTIONS). With it the plan also names the cycle's apps (-p user_app,
    # -p other_app) where they are not the sample's.
    procedure: str | None = None


_COMMITTED = "if-the-deleted-migrations-were-committed"
_REGENERATE = "if-they-were-never-committed"
COMMITTED, NEVER_COMMITTED = "committed", "never-committed"
# committed when git knows changed or deleted committed files in the migrations folders of the
# cycle's apps (they can be restored), else never-committed.
BY_GIT = "by-git"
SECTIONS = {COMMITTED: _COMMITTED, NEVER_COMMITTED: _REGENERATE}

FIXES: dict[str, Fix] = {
    "cycle": Fix("circular-dependency", _COMMITTED,
                 "restore the committed migrations from git; if they were never committed, make them again and "
                 "split the migration that touches finflo", procedure=BY_GIT),
    "missing-dependency": Fix("circular-dependency", _COMMITTED,
                              "restore the committed migrations from git, or make them again from the models",
                              procedure=BY_GIT),
    "missing-dependency-in-package": Fix("circular-dependency", _REGENERATE,
                                         "keep the package's migrations in the project (MIGRATION_MODULES, step 1) "
                                         "and depend only on migrations there", procedure=NEVER_COMMITTED),
    "unshipped-package-migrations": Fix("circular-dependency", _REGENERATE,
                                        "move the package's migrations into the project (MIGRATION_MODULES, step 1); "
                                        "a file in site-packages exists on this machine only", procedure=NEVER_COMMITTED),
    "finflo-migration-modules": Fix("circular-dependency", _REGENERATE,
                                    "set MIGRATION_MODULES = {'finflo': '<your module>'} and keep finflo's "
                                    "migrations in the project (step 1)", procedure=NEVER_COMMITTED),
    "finflo-model-changes": Fix("circular-dependency", _REGENERATE,
                                "finflo's models drifted from its migrations: keep its migrations in the project, "
                                "where makemigrations finflo can record the change (step 1)", procedure=NEVER_COMMITTED),
    "inconsistent-history": Fix("circular-dependency", _REGENERATE,
                                "compare the database with `sqlmigrate`, then record only what you compared "
                                "with --fake (step 6)", procedure=NEVER_COMMITTED),
    "stale-rows": Fix("circular-dependency", _REGENERATE,
                      "rows of deleted migrations: `python manage.py migrate --prune` removes them (step 8)",
                      procedure=NEVER_COMMITTED),
    "unapplied": Fix("backup-and-restore", "the-procedure",
                     "take a backup that restores, then `python manage.py migrate`"),
    "model-changes": Fix("new-work-model", "register-the-model",
                         "record the change: `python manage.py makemigrations <app>`, check the plan, migrate"),
    "conflicting-leaves": Fix("circular-dependency", "when-finflo-ships-a-new-migration",
                              "keep both migrations and join them with `python manage.py makemigrations --merge`",
                              procedure=NEVER_COMMITTED),
    "irreversible": Fix("rollback-migrations", "the-plan-says-irreversible",
                        "fake the irreversible data migration back (`migrate <app> <migration> --fake`) once the "
                        "migrations after it are un-applied, or give it `RunPython.noop` as its reverse",
                        (("app", "app"), ("target", "target")), folder="explanation"),
    "finflo-seeded-rows": Fix("reset-database", "reset-the-database",
                              "finflo's migrations seed these rows: a reset database gets them back with migrate"),
    "work-model-without-flowmodel": Fix("new-work-model", "register-the-model",
                                        "add the Flowmodel row with a data migration"),
    "rows-without-workflows": Fix("new-work-model", "register-the-model",
                                  "give the existing rows their workflows with the page's data migration"),
}


def fix_for(kind: str) -> Fix:
    return FIXES[kind]


def page_path(fix: Fix) -> str:
    return f"{fix.folder}/{fix.slug}.md#{fix.section}"
