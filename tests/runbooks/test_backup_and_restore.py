"""What a reader of how-to/backup-and-restore (and its explanation page) checks."""
import re

from runbook import notebooks

from .conftest import failed_as_expected, succeeded

SLUG = "backup-and-restore"
# The sample's tables whose rows carry timezone.now() timestamps, with their microseconds.
TIMESTAMPED = {"accounts_user", "finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents"}
# Left out of the comparison: migrate makes content types and permissions with ids of its own
# choosing (step 9 lists what it does not make), sessions are not in the dumpdata backup, and
# django_migrations records when migrate ran.
NOT_COMPARED = ("django_content_type", "auth_permission", "django_session", "django_migrations")


def procedure_commands(runbook=None) -> list[str]:
    runbook = runbook or notebooks.find(SLUG)
    return [c for cell in runbook.cells if cell.role == "procedure" for c in cell.commands]


def test_the_procedure_never_writes_to_the_source_database():
    """No flush, no loaddata, no migrate on the project's own settings: only the scratch database is written."""
    assert_only_the_scratch_database_is_written(notebooks.find(SLUG))


def assert_only_the_scratch_database_is_written(runbook) -> None:
    commands = procedure_commands(runbook)
    assert not [c for c in commands if re.search(r"manage\.py (flush|sqlflush)\b", c)]
    writes = [c for c in commands if re.search(r"manage\.py (loaddata|migrate)\b", c)]
    assert writes and all("--settings=config.scratch_settings" in c for c in writes), writes
    restores = [c for c in commands if re.search(r"\.restore|pg_restore|< \"\$BACKUP_DIR/database\.sql\"", c)]
    assert len(restores) == 3 and all("--settings=config.scratch_settings" in c for c in restores), restores


def test_the_comparison_streams_each_table_and_leaves_out_only_what_migrate_makes():
    runbook = notebooks.find(SLUG)
    (first,) = runbook.cell("compare-native").commands  # writes the fingerprint script, then compares
    script = re.match(r"printf '%s\\n' \"(.*?)\" > \"\$BACKUP_DIR/fingerprint\.py\"", first).group(1)
    assert "LIMIT 1000" in script and "ORDER BY {q(k)}" in script  # a page at a time, in key order
    assert "sorted(r" not in script and "fetchall()))" not in script  # never a whole table in memory
    assert re.search(r"if t not in \{([^}]*)\}", script).group(1) == ", ".join(f"'{t}'" for t in NOT_COMPARED)
    for cell in ("compare-native", "compare-dumpdata"):
        (command,) = runbook.cell(cell).commands
        assert '--settings=config.scratch_settings < "$BACKUP_DIR/fingerprint.py"' in command
        assert "FAILED: " in command and command.endswith(f"cmp -s \"$BACKUP_DIR/values.txt\" \"$BACKUP_DIR/{cell.replace('compare-', 'values-')}.txt\"")


def test_model_label_model_part_is_case_insensitive_the_plural_is_the_error(record_of):
    record = record_of(SLUG)
    assert failed_as_expected(record.cell("dumpdata-model-wrong-label")) == ["CommandError: Unknown model: accounts.users"]
    assert succeeded(record.cell("dumpdata-model-lowercase")) == ["2"]  # accounts.user: both users


def test_nothing_else_is_connected_while_the_backup_is_taken_and_a_connection_is_caught(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("writers-stopped")) == ["other connections: 0"]
    assert failed_as_expected(record.cell("writers-connected")) == ["other connections: 1"]


def test_a_control_character_stops_the_dump(record_of):
    lines = failed_as_expected(record_of(SLUG).cell("control-character-dumpdata"))
    # SQLite adds a warning from a generator closed after the error.
    assert any(re.fullmatch(r"CommandError: Unable to serialize database: Parties\.name \(pk:\d+\) contains "
                            r"unserializable characters", line) for line in lines), lines


def test_the_engines_backup_restores_every_value_in_the_scratch_database(record_of):
    record = record_of(SLUG)
    for stem in ("native-backup", "native-restore"):  # the engine's own commands ran
        assert record.cell(f"{stem}-{record.engine}").outcome == "passed", stem
    assert succeeded(record.cell("scratch-empty"))[0].endswith("_scratch")
    (line,) = succeeded(record.cell("compare-native"))
    assert re.fullmatch(r"the engine's backup: identical, (\d+) tables", line) and int(line.split()[-2]) >= 19


def test_the_dumpdata_pair_restores_every_value_in_the_scratch_database(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("loaddata-backup"))[-1].endswith(" object(s) from 2 fixture(s)")
    assert re.fullmatch(r"the dumpdata backup: identical, \d+ tables", succeeded(record.cell("compare-dumpdata"))[0])
    assert succeeded(record.cell("not-in-dumpdata")) == ["no permission left out"]
    dropped = succeeded(record.cell("scratch-drop"))
    assert dropped[0].startswith("dropped ") and dropped[0].endswith("_scratch")
    assert dropped[1] == "removed 'config/scratch_settings.py'"


def test_a_value_the_dump_cannot_carry_stops_the_procedure_with_the_source_intact(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("spaces-party")) == ["'  Ångström Trading  '"]
    lines = failed_as_expected(record.cell("spaces-compare"))
    assert {line.split()[1] for line in lines if line[:2] in ("< ", "> ")} == {"accounts_parties"}
    assert succeeded(record.cell("spaces-names")) == ["database: '  Ångström Trading  '", "scratch:  'Ångström Trading'"]


def test_a_permission_added_by_hand_is_named_as_not_in_the_backup(record_of):
    lines = failed_as_expected(record_of(SLUG).cell("spaces-not-in-dumpdata"))
    assert lines == ["NOT IN THE BACKUP: permission transaction.approve_invoice"]


def test_a_plain_dump_restores_only_where_content_type_ids_match(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("loaddata-plain-same-ids"))[-1].startswith("Installed ")
    lines = failed_as_expected(record.cell("loaddata-plain-fails"))
    # PostgreSQL adds a DETAIL line after the error.
    error = next(line for line in reversed(lines) if "Error: " in line)
    assert "Could not load contenttypes.ContentType(pk=" in error


def test_the_json_dump_of_the_same_data_loses_the_microseconds(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("loaddata-json"))[-1].startswith("Installed ")  # every row loads ...
    lines = failed_as_expected(record.cell("values-json-differ"))  # ... but not every value
    before = {line.split()[1] for line in lines if line.startswith("< ")}
    after = {line.split()[1] for line in lines if line.startswith("> ")}
    assert before == after == TIMESTAMPED
    xml, json = (int(line.rsplit(" ", 1)[1]) for line in succeeded(record.cell("date-joined-json")))
    assert json % 1000 == 0 and json // 1000 == xml // 1000  # cut to the millisecond, not changed otherwise


def test_a_dump_that_lists_the_work_model_first_gives_an_invoice_two_workflows_and_breaks_transitions(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("loaddata-work-model-first"))[-1].startswith("Installed ")
    assert failed_as_expected(record.cell("workflows-duplicated")) == [
        "FAILED: transaction.invoice 4 has 2 workflows (TransitionManager ids [3, 4])"]
    assert failed_as_expected(record.cell("transition-lookup-fails"))[-1] == (
        "finflo.models.TransitionManager.MultipleObjectsReturned: get() returned more than one TransitionManager "
        "-- it returned 2!")


def test_natural_primary_keys_keep_the_counts_but_renumber_the_parties(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("counts-natural-primary")) == ["row counts: identical"]
    assert "parties: [(1, 'Buyer Ltd'), (2, 'Seller GmbH')]" in succeeded(record.cell("party-ids-natural-primary"))
