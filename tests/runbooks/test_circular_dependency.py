"""What a reader of how-to/circular-dependency checks: the cycle is real and made in the run, the
procedure reaches a working `migrate` from it only through the page's steps, the first pass is
needed (counter-run), and the old guide's workaround fails."""


def test_regenerated_migrations_give_the_cycle_with_finflo(record_of):
    record = record_of("circular-dependency")
    for cell_id in ("makemigrations-transaction-cycle", "symptom"):
        cell = record.cell(cell_id)
        assert cell.outcome == "expected-failure" and cell.exit == 1, (cell_id, cell.outcome)
        last = cell.output.strip().splitlines()[-1]
        assert last.startswith("django.db.migrations.exceptions.CircularDependencyError: ")
        assert {"accounts.0001_initial", "finflo.0001_initial"} <= set(last.split(": ", 1)[1].split(", "))


def test_the_procedure_splits_by_the_rule_and_migrates(record_of):
    record = record_of("circular-dependency")
    first = record.cell("makemigrations-first").output
    assert "accounts/migrations/0001_initial.py\n    + Create model Parties\n    + Create model User\n" in first
    assert "PartyAction" not in first and "userprocessauth" not in first
    second = record.cell("makemigrations-second").output
    assert "accounts/migrations/0003_links_to_finflo.py\n    + Create proxy model PartyAction\n" \
           "    + Create model userprocessauth" in second
    plan = record.cell("plan").output.splitlines()
    assert plan.index("accounts.0001_initial") < plan.index("finflo.0001_initial") < plan.index("accounts.0003_links_to_finflo")
    assert "Applying accounts.0003_links_to_finflo... OK" in record.cell("migrate").output
    assert record.cell("makemigrations-check").output.strip() == "No changes detected"
    assert "finflo seeded rows: OK" in record.cell("verify-finflo").output


def test_without_the_first_pass_the_cycle_comes_back(record_of):
    record = record_of("circular-dependency")
    made = record.cell("without-first-pass-makemigrations")
    assert made.outcome == "passed" and "+ Create proxy model PartyAction" in made.output
    cycle = record.cell("without-first-pass-cycle")
    assert cycle.outcome == "expected-failure" and cycle.exit == 1
    assert "CircularDependencyError: " in cycle.output.strip().splitlines()[-1]


def test_the_guides_workaround_leaves_accounts_and_transaction_in_a_cycle(record_of):
    cell = record_of("circular-dependency").cell("workaround-migrate-cycle")
    assert cell.outcome == "expected-failure" and cell.exit == 1
    last = cell.output.strip().splitlines()[-1]
    assert last.startswith("django.db.migrations.exceptions.CircularDependencyError: ")
    assert set(last.split(": ", 1)[1].split(", ")) == {"accounts.0001_initial", "transaction.0001_initial"}


def test_a_database_that_applied_the_old_migrations_is_brought_in_line(record_of):
    record = record_of("circular-dependency")
    assert "Applying accounts.0002_links_to_finflo_and_transaction... OK" in record.cell("old-database").output
    failed = record.cell("old-database-migrate-fails")
    assert failed.outcome == "expected-failure" and failed.exit == 1
    assert "Applying accounts.0002_initial..." in failed.output
    compared = record.cell("old-database-compare").output
    assert compared.endswith("accounts_parties.base_currency_id exists: True\naccounts_userprocessauth exists: True\n")
    assert "Applying accounts.0003_links_to_finflo... FAKED" in record.cell("old-database-fake").output
    assert record.cell("old-database-check").outcome == "passed"
