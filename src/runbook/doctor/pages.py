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


_KEEP_FINFLO = "keep-finflos-migrations-in-the-project"
_OLD_DATABASE = "a-database-that-applied-the-old-migrations"

FIXES: dict[str, Fix] = {
    "cycle": Fix("circular-dependency", "the-procedure",
                 "make the migrations again app by app, in two passes, so no dependency points back"),
    "missing-dependency": Fix("circular-dependency", "the-procedure",
                              "make the apps' migrations again from the models, so every dependency exists"),
    "missing-dependency-in-package": Fix("circular-dependency", _KEEP_FINFLO,
                                         "keep the package's migrations in the project (MIGRATION_MODULES) and "
                                         "depend only on migrations there"),
    "unshipped-package-migrations": Fix("circular-dependency", _KEEP_FINFLO,
                                        "move the package's migrations into the project (MIGRATION_MODULES); "
                                        "a file in site-packages exists on this machine only"),
    "finflo-migration-modules": Fix("circular-dependency", _KEEP_FINFLO,
                                    "set MIGRATION_MODULES = {'finflo': '<your module>'} and keep finflo's "
                                    "migrations in the project"),
    "finflo-model-changes": Fix("circular-dependency", _KEEP_FINFLO,
                                "finflo's models drifted from its migrations: keep its migrations in the project, "
                                "where makemigrations finflo can record the change"),
    "inconsistent-history": Fix("circular-dependency", _OLD_DATABASE,
                                "compare the database with the migrations, then record the ones it has (--fake) "
                                "only for changes you compared"),
    "stale-rows": Fix("circular-dependency", _OLD_DATABASE,
                      "rows of deleted migrations: `python manage.py migrate --prune` removes them"),
    "unapplied": Fix("backup-and-restore", "the-procedure-back-up-restore-prove",
                     "take a backup that restores, then `python manage.py migrate`"),
    "model-changes": Fix("new-work-model", "register-the-model",
                         "record the change: `python manage.py makemigrations <app>`, check the plan, migrate"),
    "conflicting-leaves": Fix("rollback-migrations", "the-procedure-undo-the-latest-migration-of-an-app",
                              "undo one branch's latest migration and delete it, or `makemigrations --merge`",
                              (("app", "app"), ("target", "target"))),
    "irreversible": Fix("rollback-migrations", "finflo-cannot-be-rolled-back",
                        "these operations have no reverse: restore a backup instead of migrating back",
                        (("app", "app"), ("target", "target"))),
    "finflo-seeded-rows": Fix("reset-database", "reset-the-database",
                              "finflo's migrations seed these rows: a reset database gets them back with migrate"),
    "work-model-without-flowmodel": Fix("new-work-model", "register-the-model",
                                        "add the Flowmodel row with a data migration"),
    "rows-without-workflows": Fix("new-work-model", "register-the-model",
                                  "give the existing rows their workflows with finflo's own signal handler (step 7)"),
}


def fix_for(kind: str) -> Fix:
    return FIXES[kind]


def page_path(fix: Fix) -> str:
    return f"how-to/{fix.slug}.md#{fix.section}"
