"""What a reader of how-to/circular-dependency checks: the cycle is real, the guide's workaround
fails, and the committed migrations migrate an empty database."""


def test_regenerated_migrations_give_the_cycle_with_finflo(record_of):
    cell = record_of("circular-dependency").cell("makemigrations-transaction-cycle")
    assert cell.outcome == "expected-failure" and cell.exit == 1
    assert "CircularDependencyError: " in cell.output and "finflo.0001_initial" in cell.output


def test_the_guides_workaround_leaves_accounts_and_transaction_in_a_cycle(record_of):
    cell = record_of("circular-dependency").cell("workaround-migrate-cycle")
    assert cell.outcome == "expected-failure"
    last = cell.output.strip().splitlines()[-1]
    assert last.startswith("django.db.migrations.exceptions.CircularDependencyError: ")
    assert set(last.split(": ", 1)[1].split(", ")) == {"accounts.0001_initial", "transaction.0001_initial"}


def test_committed_migrations_apply_and_check_clean(record_of):
    record = record_of("circular-dependency")
    assert "Applying accounts.0002_links_to_finflo_and_transaction... OK" in record.cell("migrate").output
    assert record.cell("makemigrations-check").output.strip() == "No changes detected"
    assert "finflo seeded rows: OK" in record.cell("verify-finflo").output
    assert record.cell("nothing-outside-project").output.strip() == ""
