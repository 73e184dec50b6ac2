"""What a reader of how-to/circular-dependency checks: the cycle is real and made in the run; restoring
the committed migrations fixes it with nothing faked; when they were never committed, finflo's
migrations kept in the project (without them a teammate cannot load the graph), the regenerated files
removed by name, the manual split, the compared --fake and --prune bring a database that applied the
old files in line, and a new database migrates; the counter-runs fail."""
from .conftest import failed_as_expected, operation, succeeded

CYCLE = "django.db.migrations.exceptions.CircularDependencyError: "


def cycle_of(lines: list[str]) -> set[str]:
    """The migrations Django names in the cycle (in no fixed order)."""
    assert lines and lines[-1].startswith(CYCLE), lines[-1:]
    return set(lines[-1][len(CYCLE):].split(", "))


def test_regenerated_migrations_give_the_cycle_with_finflo(record_of):
    record = record_of("circular-dependency")
    assert operation(record, "Create proxy model PartyAction") in succeeded(record.cell("makemigrations-regenerate"))
    assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_of(failed_as_expected(record.cell("symptom")))


def test_committed_migrations_are_restored_and_nothing_is_faked(record_of):
    record = record_of("circular-dependency")
    assert "?? accounts/migrations/0002_initial.py" in succeeded(record.cell("migrations-status"))
    # The files git never had, listed and then deleted: the regenerated second migration, nothing else.
    assert succeeded(record.cell("regenerated-untracked")) == ["Would remove accounts/migrations/0002_initial.py"]
    assert succeeded(record.cell("remove-regenerated-restored")) == ["Removing accounts/migrations/0002_initial.py"]
    # The database that applied the committed migrations is up to date again: migrate --check passed.
    assert succeeded(record.cell("restored-check")) == [
        "accounts", " [X] 0001_initial", " [X] 0002_links_to_finflo_and_transaction", "transaction", " [X] 0001_initial"]


def test_without_migration_modules_a_teammate_cannot_load_the_graph(record_of):
    record = record_of("circular-dependency")
    # The final check, failing on the project without the setting (then passing after step 1).
    assert failed_as_expected(record.cell("finflo-read-from-package"))[-1].startswith(
        "FAILED: finflo migrations are read from the installed package")
    assert failed_as_expected(record.cell("symptom-never-committed"))[-1].endswith(
        "reference nonexistent parent node ('finflo', '0003_alter_action_stage_required')")
    assert succeeded(record.cell("finflo-read-from-project")) == ["finflo migrations are read from finflo_migrations"]


def test_the_regenerate_path_splits_and_brings_the_old_database_in_line(record_of):
    record = record_of("circular-dependency")
    assert succeeded(record.cell("show-stub")) == [
        "from importlib import import_module", "", 'Migration = import_module("finflo.migrations.0002_remigrate").Migration']
    made = succeeded(record.cell("makemigrations-both"))
    assert made[:2] == ["Migrations for 'finflo':", "  finflo_migrations/0003_alter_action_stage_required.py"]
    # One makemigrations call is not enough: the split is what removes the cycle.
    assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_of(
        failed_as_expected(record.cell("cycle-before-split")))
    # Django 4.2 also leaves userprocessauth's foreign keys to finflo in the first migration: its own
    # two edits move them to 0002_initial; 5.2 put them there itself, and skips them.
    for edit in ("split-userprocessauth-fields", "split-userprocessauth-later"):
        expected = "passed" if record.django == "4.2" else "skipped"
        assert record.cell(edit).outcome == expected, (edit, record.cell(edit))
    assert succeeded(record.cell("first-migration-without-finflo")) == ["0", "accounts' first migration: nothing of finflo"]
    assert succeeded(record.cell("makemigrations-links")) == [
        "Migrations for 'accounts':", "  accounts/migrations/0003_links_to_finflo.py",
        operation(record, "Create proxy model PartyAction")]
    assert "accounts_us_user_id_466716_idx" in " ".join(succeeded(record.cell("sqlmigrate")))
    # Without --fake the old database stops on a column it has; with it, the rest applies.
    assert "  Applying accounts.0002_initial..." in " ".join(failed_as_expected(record.cell("migrate-fails-without-fake")))
    assert succeeded(record.cell("fake-compared"))[-1] == "  Applying accounts.0002_initial... FAKED"
    assert succeeded(record.cell("migrate"))[-1] == "  Applying accounts.0003_links_to_finflo... OK"
    assert succeeded(record.cell("prune"))[-1] == "  Pruning accounts.0002_links_to_finflo_and_transaction OK"
    assert succeeded(record.cell("makemigrations-check")) == ["No changes detected"]
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"


def test_a_new_database_migrates_accounts_first_then_finflo(record_of):
    applied = [ln for ln in succeeded(record_of("circular-dependency").cell("fresh-database")) if "Applying" in ln]
    names = [ln.split()[1].rstrip(".") for ln in applied]
    assert names.index("accounts.0001_initial") < names.index("finflo.0001_initial") \
        < names.index("accounts.0002_initial") < names.index("accounts.0003_links_to_finflo")


def test_a_finflo_upgrade_is_merged_not_renumbered(record_of):
    record = record_of("circular-dependency")
    assert "multiple leaf nodes in the migration graph: (0003_alter_action_stage_required, 0003_upstream_change in finflo)" \
        in failed_as_expected(record.cell("upstream-conflict"))[0]
    assert "  Applying finflo.0004_merge_upstream... OK" in succeeded(record.cell("upstream-migrate"))


def test_the_guides_workaround_leaves_accounts_and_transaction_in_a_cycle(record_of):
    lines = failed_as_expected(record_of("circular-dependency").cell("workaround-migrate-cycle"))
    assert cycle_of(lines) == {"accounts.0001_initial", "transaction.0001_initial"}
