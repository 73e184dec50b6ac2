"""What a reader of how-to/new-work-model checks."""
import re

from runbook import notebooks
from runbook.paths import REPO

from .conftest import failed_as_expected, succeeded

PAGE = REPO / "docs/how-to/new-work-model.md"
THROWAWAY = ("DATABASE_URL={old_guide_database_url} ", "DATABASE_URL={fresh_database_url} ")


def _named_cells(text: str) -> list[str]:
    return re.findall(r'\{\{\s*\w+\("new-work-model",\s*"([\w-]+)"', text)


def test_the_page_opens_with_the_procedure_and_names_each_cell_once():
    """Procedure and checks first, then Why and the demonstrations; one output per step."""
    runbook, text = notebooks.find("new-work-model"), PAGE.read_text()
    named = _named_cells(text)
    assert len(named) == len(set(named)), f"a cell is shown twice: {sorted(c for c in named if named.count(c) > 1)}"
    roles = [runbook.cell(c).role for c in named]
    first_demo = roles.index("demo")
    assert set(roles[:first_demo]) == {"procedure", "check"} and set(roles[first_demo:]) == {"demo"}, \
        list(zip(named, roles))
    procedure = text[:text.index("\n## Why\n")]
    assert _named_cells(procedure) == named[:first_demo], "a demonstration sits inside the procedure"
    assert "--check" not in "".join(c.source for c in runbook.cells if c.role == "check"), \
        "a check that passes whether or not the task was done (migrate --check, makemigrations --check)"


def test_every_demonstration_the_page_shows_runs_on_a_throwaway_database():
    """A copied demonstration line targets the throwaway database it names, never the reader's."""
    runbook = notebooks.find("new-work-model")
    assert runbook.extra_databases == ["old_guide", "fresh"]
    for cell in runbook.cells:
        if cell.role == "demo" and not cell.hidden:
            assert cell.commands and all(c.startswith(THROWAWAY) for c in cell.commands), cell.id


def test_each_outcome_check_is_the_one_shown_failing_where_the_task_is_not_done():
    runbook = notebooks.find("new-work-model")
    for check, counter_run in (("verify-flowmodel", "guide-flowmodel-missing"),
                               ("every-payment-has-a-workflow", "guide-payments-without-workflow")):
        assert runbook.cell(check).role == "check"
        assert runbook.cell(counter_run).commands == [THROWAWAY[0] + c for c in runbook.cell(check).commands]
        assert runbook.cell(counter_run).expect.exit == 1


def test_the_procedure_registers_the_model_once_and_gives_each_payment_one_workflow(record_of):
    record = record_of("new-work-model")
    assert succeeded(record.cell("migrate-data-migration"))[-1] == \
        "  Applying transaction.0002_register_payment_work_model... OK"
    assert succeeded(record.cell("backfill-workflows")) == ["workflows created: 1"]
    assert succeeded(record.cell("verify-flowmodel")) == [
        "Flowmodel rows per work model: {'transaction.Invoice': 1, 'transaction.Payment': 1}",
        "every work model has one Flowmodel row"]
    assert succeeded(record.cell("every-payment-has-a-workflow")) == [
        "payments: 1, without a workflow: 0, with more than one: 0", "every payment has one workflow"]


def test_the_checks_fail_on_a_database_that_has_not_had_the_task(record_of):
    record = record_of("new-work-model")
    assert failed_as_expected(record.cell("guide-flowmodel-missing")) == [
        "Flowmodel rows per work model: {'transaction.Invoice': 1, 'transaction.Payment': 0}",
        "FAILED: not exactly one Flowmodel row for transaction.Payment"]
    # The settings line is no migration: the plan holds the data migration alone.
    plan = succeeded(record.cell("guide-plan"))
    assert plan[:2] == ["Planned operations:", "transaction.0002_register_payment_work_model"] and len(plan) == 3
    assert failed_as_expected(record.cell("guide-payments-without-workflow")) == [
        "payments: 1, without a workflow: 1, with more than one: 0", "FAILED: not every payment has exactly one workflow"]


def test_on_a_new_database_finflo_creates_the_row_and_the_data_migration_adds_none(record_of):
    record = record_of("new-work-model")
    assert not any("transaction.0002" in line for line in succeeded(record.cell("fresh-migrate-finflo")))
    assert succeeded(record.cell("fresh-flowmodel"))[-1] == "every work model has one Flowmodel row"
    assert "  Applying transaction.0002_register_payment_work_model... OK" in succeeded(record.cell("fresh-migrate"))
    assert succeeded(record.cell("fresh-flowmodel-again"))[0] == \
        "Flowmodel rows per work model: {'transaction.Invoice': 1, 'transaction.Payment': 1}"


def test_faking_finflo_0001_unapplies_the_apps_that_depend_on_it(record_of):
    lines = succeeded(record_of("new-work-model").cell("guide-fake-finflo-0001"))
    assert sorted(ln for ln in lines if ln.startswith("  Unapplying ")) == [
        "  Unapplying accounts.0002_links_to_finflo_and_transaction... FAKED",
        "  Unapplying finflo.0002_remigrate... FAKED",
        "  Unapplying finflo.0003_alter_action_stage_required... FAKED",
        "  Unapplying transaction.0002_register_payment_work_model... FAKED",
    ], lines


def test_the_backfill_runs_twice_safely_and_new_payments_get_their_workflow(record_of):
    record = record_of("new-work-model")
    assert succeeded(record.cell("guide-backfill")) == ["workflows created: 1"]
    assert succeeded(record.cell("guide-backfill-again")) == ["workflows created: 0"]
    assert succeeded(record.cell("guide-save-payment")) == ["Transaction.payment_2"]
    assert succeeded(record.cell("guide-every-payment-has-a-workflow")) == [
        "payments: 2, without a workflow: 0, with more than one: 0", "every payment has one workflow"]
