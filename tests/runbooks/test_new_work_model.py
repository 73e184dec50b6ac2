"""What a reader of how-to/new-work-model (and of its explanation page) checks."""
import re

from runbook import notebooks
from runbook.paths import REPO

from .conftest import failed_as_expected, succeeded

HOW_TO = REPO / "docs/how-to/new-work-model.md"
EXPLANATION = REPO / "docs/explanation/new-work-model.md"
SAMPLE_ONLY = "--settings=config.sample_only"
THROWAWAY = {"guide": "THROWAWAY_DATABASE_URL={old_guide_database_url} ",
             "fresh": "THROWAWAY_DATABASE_URL={fresh_database_url} "}
MIGRATION = "  Applying transaction.0002_register_payment_work_model... OK"


def _named_cells(text: str) -> list[str]:
    return re.findall(r'\{\{\s*\w+\("new-work-model",\s*"([\w-]+)"', text)


def _as_demo(check_command: str, database: str) -> str:
    """A check's command as a demonstration runs it: on a throwaway database, with the sample's settings."""
    return THROWAWAY[database] + check_command.replace(
        "python manage.py shell ", f"python manage.py shell {SAMPLE_ONLY} ", 1)


def test_the_how_to_is_the_procedure_and_the_explanation_has_every_demonstration():
    runbook = notebooks.find("new-work-model")
    how_to, explanation = _named_cells(HOW_TO.read_text()), _named_cells(EXPLANATION.read_text())
    assert {runbook.cell(c).role for c in how_to} == {"procedure", "check"}, how_to
    assert {runbook.cell(c).role for c in explanation} == {"demo"}, explanation
    shown = [c.id for c in runbook.cells if c.role in ("demo", "procedure") and not c.hidden and c.id != "parameters"]
    assert sorted(shown) == sorted(c for c in how_to + explanation if runbook.cell(c).role != "check")
    assert len(how_to + explanation) == len(set(how_to + explanation)), "a cell is shown twice"
    text = HOW_TO.read_text().lower()
    for machinery in ("old guide", "runbook", " cell", "porcelain", "wc -l"):
        assert machinery not in text.replace('status("new-work-model")', "").replace(
            'operator_box("new-work-model")', ""), machinery


def test_every_demonstration_fails_closed_outside_the_sample():
    runbook = notebooks.find("new-work-model")
    assert runbook.extra_databases == ["old_guide", "fresh"]
    for cell in runbook.cells:
        if cell.role != "demo":
            continue
        for command in cell.commands:
            if "manage.py" in command:
                assert f"python manage.py {command.split('manage.py ')[1].split()[0]} {SAMPLE_ONLY}" in command, command
            else:
                assert command.startswith("test -f config/sample_only.py && "), command
                assert "DJANGO_SETTINGS_MODULE=config.sample_only " in command, command


def test_the_data_migration_uses_historical_models_batches_and_no_receiver():
    source = notebooks.find("new-work-model").cell("write-data-migration").source
    for needed in ('apps.get_model("{work_app}", "{work_model}")', "using(db)", "atomic = False",
                   "with transaction.atomic(using=db):  # one transaction per batch", "[:BATCH_SIZE]",
                   'description="SUBMIT", model=flowmodel', "migrations.RunPython.noop"):
        assert needed in source, needed
    assert "finflo.signals" not in source and "creates_finflo_work_models" not in source


def test_each_check_is_the_one_shown_failing_where_the_task_is_not_done():
    runbook = notebooks.find("new-work-model")
    for check, counter_runs in (("verify-flowmodel", [("guide-flowmodel-missing", "guide"),
                                                      ("fresh-flowmodel-substring", "fresh")]),
                                ("every-row-has-a-workflow", [("guide-payments-without-workflow", "guide"),
                                                                  ("fresh-payment-without-workflow", "fresh")]),
                                ("a-row-takes-submit", [("guide-payment-cannot-submit", "guide")])):
        assert runbook.cell(check).role == "check"
        for counter_run, database in counter_runs:
            assert runbook.cell(counter_run).commands == [_as_demo(c, database) for c in runbook.cell(check).commands]
            assert runbook.cell(counter_run).expect.exit == 1, counter_run


def test_the_procedure_registers_the_model_and_a_payment_takes_a_transition(record_of):
    record = record_of("new-work-model")
    assert succeeded(record.cell("migrate-plan"))[-3:] == [
        "transaction.0002_register_payment_work_model",
        "    Raw Python operation -> Register Payment with finflo.",
        "    Raw Python operation -> Give existing payments a workflow."]
    assert succeeded(record.cell("migrate-data-migration"))[-1] == MIGRATION
    assert succeeded(record.cell("verify-flowmodel")) == [
        "Flowmodel rows per work model (exact, icontains): "
        "{'transaction.invoice': (1, 1), 'transaction.payment': (1, 1)}",
        "finflo finds one Flowmodel row for each work model"]
    assert succeeded(record.cell("every-row-has-a-workflow")) == [
        "payments: 1, without a workflow: 0, with more than one: 0", "every payment has one workflow"]
    assert succeeded(record.cell("a-row-takes-submit")) == ["payment 1 took SUBMIT: DRAFT -> Submitted (rolled back)"]
    # The backfilled workflow is the one finflo's receiver gives a new payment, still in its first state.
    same = succeeded(record.cell("same-workflow-as-receiver"))
    assert same[0] == "payment 1 (backfilled) and payment 2 (saved now): 2 rows each, the same workflow", same
    assert "'final_state': 'DRAFT'" in same[1] and "'action': 'DRAFT'" in same[1], same


def test_the_old_guide_registers_the_row_by_faking_and_leaves_the_rest_undone(record_of):
    record = record_of("new-work-model")
    assert succeeded(record.cell("guide-migrate"))[-1] == "  No migrations to apply."
    assert failed_as_expected(record.cell("guide-flowmodel-missing")) == [
        "Flowmodel rows per work model (exact, icontains): "
        "{'transaction.invoice': (1, 1), 'transaction.payment': (0, 0)}",
        "FAILED: finflo does not find exactly one Flowmodel row for transaction.payment"]
    assert sorted(ln for ln in succeeded(record.cell("guide-fake-finflo-0001")) if ln.startswith("  Unapplying ")) == [
        "  Unapplying accounts.0002_links_to_finflo_and_transaction... FAKED",
        "  Unapplying finflo.0002_remigrate... FAKED",
        "  Unapplying finflo.0003_alter_action_stage_required... FAKED"]
    assert succeeded(record.cell("guide-flowmodel-rows"))[-1] == "finflo finds one Flowmodel row for each work model"
    assert failed_as_expected(record.cell("guide-payments-without-workflow")) == [
        "payments: 1, without a workflow: 1, with more than one: 0", "FAILED: not every payment has exactly one workflow"]
    assert succeeded(record.cell("guide-save-payment")) == ["Transaction.payment_2"]
    assert failed_as_expected(record.cell("guide-payment-cannot-submit"))[-1].startswith(
        "finflo.exception.ModelNotFound: Matching action and type not found")


def test_a_new_database_a_late_restart_and_a_label_inside_another(record_of):
    record = record_of("new-work-model")
    assert MIGRATION in succeeded(record.cell("fresh-migrate"))
    assert succeeded(record.cell("fresh-flowmodel"))[0] == (
        "Flowmodel rows per work model (exact, icontains): "
        "{'transaction.invoice': (1, 1), 'transaction.payment': (1, 1)}")
    assert failed_as_expected(record.cell("fresh-payment-without-workflow"))[0] == \
        "payments: 1, without a workflow: 1, with more than one: 0"
    again = succeeded(record.cell("fresh-migrate-again"))
    assert "  Unapplying transaction.0002_register_payment_work_model... OK" in again and MIGRATION in again
    assert succeeded(record.cell("fresh-every-payment-has-a-workflow"))[0] == \
        "payments: 1, without a workflow: 0, with more than one: 0"
    # Six payments in batches of two: three transactions, every payment one workflow.
    assert succeeded(record.cell("fresh-batches")) == ["6 payments, batches of 2: 3 transactions committed"]
    assert succeeded(record.cell("fresh-batches-every-payment"))[0] == \
        "payments: 6, without a workflow: 0, with more than one: 0"
    assert failed_as_expected(record.cell("fresh-flowmodel-substring")) == [
        "Flowmodel rows per work model (exact, icontains): "
        "{'transaction.invoice': (1, 1), 'transaction.payment': (1, 2)}",
        "FAILED: finflo does not find exactly one Flowmodel row for transaction.payment"]
