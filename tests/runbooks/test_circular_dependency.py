"""What a reader of how-to/circular-dependency checks: the cycle is real, the guide's workaround
fails, and the committed migrations migrate an empty database."""
from .conftest import failed_as_expected, succeeded

CYCLE = "django.db.migrations.exceptions.CircularDependencyError: "


def cycle_of(lines: list[str]) -> set[str]:
    """The migrations Django names in the cycle (in no fixed order)."""
    assert lines and lines[-1].startswith(CYCLE), lines[-1:]
    return set(lines[-1][len(CYCLE):].split(", "))


def test_regenerated_migrations_give_the_cycle_with_finflo(record_of):
    lines = failed_as_expected(record_of("circular-dependency").cell("makemigrations-transaction-cycle"))
    assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_of(lines)


def test_the_guides_workaround_leaves_accounts_and_transaction_in_a_cycle(record_of):
    lines = failed_as_expected(record_of("circular-dependency").cell("workaround-migrate-cycle"))
    assert cycle_of(lines) == {"accounts.0001_initial", "transaction.0001_initial"}


def test_committed_migrations_apply_and_check_clean(record_of):
    record = record_of("circular-dependency")
    assert "  Applying accounts.0002_links_to_finflo_and_transaction... OK" in succeeded(record.cell("migrate"))
    assert succeeded(record.cell("makemigrations-check")) == ["No changes detected"]
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"
    assert succeeded(record.cell("nothing-outside-project")) == []
