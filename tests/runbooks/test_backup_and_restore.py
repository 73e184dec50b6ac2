"""What a reader of how-to/backup-and-restore checks."""
from .conftest import failed_as_expected, succeeded


def test_model_label_is_app_label_dot_model_name(record_of):
    cell = record_of("backup-and-restore").cell("dumpdata-model-wrong-label")
    assert failed_as_expected(cell) == ["CommandError: Unknown model: accounts.users"]


def test_flush_and_loaddata_of_the_backup_restore_every_row(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("flush-restore")) == []
    assert succeeded(record.cell("counts-diff")) == ["row counts: identical"]
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"


def test_a_plain_dump_restores_only_where_content_type_ids_match(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("loaddata-plain-same-ids"))[-1].startswith("Installed ")
    lines = failed_as_expected(record.cell("loaddata-plain-fails"))
    # PostgreSQL adds a DETAIL line after the error.
    error = next(line for line in reversed(lines) if "Error: " in line)
    assert "Could not load contenttypes.ContentType(pk=" in error


# Tables the value fingerprint leaves out: flush re-creates content types and permissions with ids of
# Django's choosing, sessions are not in the backup, and migrate (not loaddata) writes the record of
# applied migrations.
NOT_COMPARED = {"django_content_type", "auth_permission", "django_session", "django_migrations"}
# The sample's tables whose rows carry timezone.now() timestamps, with their microseconds.
TIMESTAMPED = {"accounts_user", "finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents"}


def test_the_xml_backup_restores_every_value_at_full_precision(record_of):
    record = record_of("backup-and-restore")
    fingerprints = dict(line.split() for line in succeeded(record.cell("values-before")))
    assert TIMESTAMPED | {"accounts_parties", "transaction_invoice", "finflo_signlist"} <= set(fingerprints)
    assert not NOT_COMPARED & set(fingerprints)
    assert all(len(sha) == 64 for sha in fingerprints.values())
    assert succeeded(record.cell("values-diff")) == ["values: identical"]


def test_the_json_dump_of_the_same_data_loses_the_microseconds(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("counts-json"))[-1] == "row counts: identical"  # every row is there ...
    lines = failed_as_expected(record.cell("values-json-differ"))  # ... but not every value
    before = {line.split()[1] for line in lines if line.startswith("< ")}
    after = {line.split()[1] for line in lines if line.startswith("> ")}
    assert before == after == TIMESTAMPED
    xml, json = (int(line.rsplit(" ", 1)[1]) for line in succeeded(record.cell("date-joined-json")))
    assert json % 1000 == 0 and json // 1000 == xml // 1000  # cut to the millisecond, not changed otherwise


def test_finflo_first_then_the_other_apps_restores_one_workflow_per_invoice(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("loaddata-backup"))[-1].endswith(" object(s) from 2 fixture(s)")
    assert succeeded(record.cell("one-workflow-per-row")) == ["one workflow per work-model row: OK"]


def test_a_dump_that_lists_the_work_model_first_gives_the_invoice_after_the_gap_two_workflows(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("loaddata-work-model-first"))[-1].startswith("Installed ")
    assert failed_as_expected(record.cell("workflows-duplicated")) == [
        "FAILED: transaction.invoice 4 has 2 workflows (TransitionManager ids [3, 4])"]


def test_the_engines_own_backup_restores_every_value_and_the_xml_backup_strips_spaces(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("spaces-native")) == ["'  Ångström Trading  '"]
    for stem in ("native-backup", "native-destroy", "native-restore"):  # the engine's own commands ran
        assert record.cell(f"{stem}-{record.engine}").outcome == "passed", stem
    assert succeeded(record.cell("native-destroyed")) == ["tables: 0"]  # really destroyed ...
    assert succeeded(record.cell("values-native-restored")) == ["values: identical"]  # ... and all back
    assert succeeded(record.cell("spaces-native-restored")) == ["'  Ångström Trading  '"]
    # The counter-run: the same database through the page's XML backup loses the spaces, and only them.
    lines = failed_as_expected(record.cell("values-xml-native-differ"))
    assert {line.split()[1] for line in lines if line[:2] in ("< ", "> ")} == {"accounts_parties"}
    assert succeeded(record.cell("spaces-xml-native")) == ["'Ångström Trading'"]
