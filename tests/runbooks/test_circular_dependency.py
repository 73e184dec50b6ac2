"""What a reader of how-to/circular-dependency checks: the cycle is real and made in the run, the
procedure reaches a working `migrate` from it only through the page's steps, the first pass is
needed (counter-run), a database that applied the old migrations is brought in line, and the old
guide's workaround fails."""
from .conftest import failed_as_expected, succeeded

CYCLE = "django.db.migrations.exceptions.CircularDependencyError: "


def cycle_of(lines: list[str]) -> set[str]:
    """The migrations Django names in the cycle (in no fixed order)."""
    assert lines and lines[-1].startswith(CYCLE), lines[-1:]
    return set(lines[-1][len(CYCLE):].split(", "))


def test_regenerated_migrations_give_the_cycle_with_finflo(record_of):
    record = record_of("circular-dependency")
    for cell_id in ("makemigrations-transaction-cycle", "symptom"):
        assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_of(failed_as_expected(record.cell(cell_id)))


def test_the_procedure_splits_by_the_rule_and_migrates(record_of):
    record = record_of("circular-dependency")
    first = succeeded(record.cell("makemigrations-first"))
    assert first[:5] == ["Migrations for 'accounts':", "  accounts/migrations/0001_initial.py",
                         "    + Create model Parties", "    + Create model User", "  accounts/migrations/0002_initial.py"]
    assert not any("PartyAction" in ln or "userprocessauth" in ln for ln in first)
    assert succeeded(record.cell("first-migration-without-finflo")) == ["0", "accounts' first migration: nothing of finflo"]
    assert succeeded(record.cell("makemigrations-second")) == [
        "Migrations for 'accounts':", "  accounts/migrations/0003_links_to_finflo.py",
        "    + Create proxy model PartyAction", "    + Create model userprocessauth"]
    plan = succeeded(record.cell("plan"))
    assert plan.index("accounts.0001_initial") < plan.index("finflo.0001_initial") < plan.index("accounts.0003_links_to_finflo")
    assert "  Applying accounts.0003_links_to_finflo... OK" in succeeded(record.cell("migrate"))
    assert succeeded(record.cell("makemigrations-check")) == ["No changes detected"]
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"


def test_without_the_first_pass_the_cycle_comes_back(record_of):
    record = record_of("circular-dependency")
    assert "    + Create proxy model PartyAction" in succeeded(record.cell("without-first-pass-makemigrations"))
    assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_of(
        failed_as_expected(record.cell("without-first-pass-cycle")))


def test_a_database_that_applied_the_old_migrations_is_brought_in_line(record_of):
    record = record_of("circular-dependency")
    assert "  Applying accounts.0002_links_to_finflo_and_transaction... OK" in succeeded(record.cell("old-database"))
    assert "  Applying accounts.0002_initial..." in " ".join(failed_as_expected(record.cell("old-database-migrate-fails")))
    assert succeeded(record.cell("old-database-compare"))[-2:] == [
        "accounts_parties.base_currency_id exists: True", "accounts_userprocessauth exists: True"]
    assert succeeded(record.cell("old-database-fake"))[-2:] == [
        "  Applying accounts.0002_initial... FAKED", "  Applying accounts.0003_links_to_finflo... FAKED"]
    assert succeeded(record.cell("old-database-check"))[-1] == "No changes detected"


def test_the_guides_workaround_leaves_accounts_and_transaction_in_a_cycle(record_of):
    lines = failed_as_expected(record_of("circular-dependency").cell("workaround-migrate-cycle"))
    assert cycle_of(lines) == {"accounts.0001_initial", "transaction.0001_initial"}
