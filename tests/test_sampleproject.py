"""The sample project is healthy, and breaks in exactly the ways the troubleshooting guide describes.

Each test starts from a fresh copy of the healthy project and its own empty database, on every
engine, and asserts Django's real message, not just a non-zero exit.
"""
import re

CYCLE = re.compile(r"CircularDependencyError: (.+)")


def cycle_members(output: str) -> set[str]:
    match = CYCLE.search(output)
    assert match, f"no CircularDependencyError in:\n{output}"
    return {m.strip() for m in match.group(1).split(",")}


def test_healthy_project_migrates_on_an_empty_database(project):
    assert project.manage("makemigrations", "--check", "--dry-run").output.strip() == "No changes detected"
    migrate = project.manage("migrate")
    assert migrate.returncode == 0, migrate.output
    assert "Applying accounts.0002_links_to_finflo_and_transaction... OK" in migrate.output
    check = project.manage("migrate", "--check")
    assert check.returncode == 0, check.output


def test_healthy_plan_runs_accounts_first_migration_before_finflo(project):
    plan = project.manage("migrate", "--plan").output
    order = [line for line in plan.splitlines() if re.match(r"(accounts|transaction|finflo)\.", line)]
    assert order == [
        "accounts.0001_initial", "transaction.0001_initial", "finflo.0001_initial",
        "finflo.0002_remigrate", "finflo.0003_alter_action_stage_required",
        "accounts.0002_links_to_finflo_and_transaction",
    ]


def test_regenerated_migrations_make_accounts_and_finflo_depend_on_each_other(project):
    """The guide's starting point: migrations deleted and made again, app by app."""
    project.run("rm", "-r", "accounts/migrations", "transaction/migrations")
    assert project.manage("makemigrations", "accounts").returncode == 0
    result = project.manage("makemigrations", "transaction")
    assert result.returncode == 1
    assert {"accounts.0001_initial", "finflo.0001_initial"} <= cycle_members(result.output)


def test_guide_workaround_still_leaves_accounts_and_transaction_in_a_cycle(project):
    """Commenting out the finflo links, then one makemigrations per app, as the guide says."""
    models = (project.path / "accounts/models.py").read_text()
    start, end = models.index("    user = models.ForeignKey(User"), models.index("class PartyAction")
    models = models[:start].rstrip() + "\n\n\n" + models[end:]
    models = models[: models.index("class PartyAction(Action):")] + "class PartyAction(models.Model):\n    pass\n"
    (project.path / "accounts/models.py").write_text(models)
    project.edit("accounts/admin.py", "admin.site.register(PartyAction", "# admin.site.register(PartyAction")
    project.run("rm", "-r", "accounts/migrations", "transaction/migrations")
    assert project.manage("makemigrations", "accounts").returncode == 0
    assert project.manage("makemigrations", "transaction").returncode == 0
    result = project.manage("migrate", "--run-syncdb")
    assert result.returncode == 1
    assert cycle_members(result.output) == {"accounts.0001_initial", "transaction.0001_initial"}


def test_parties_created_after_finflo_runs_cannot_be_resolved(project):
    """finflo's 0001 points at accounts.Parties but only waits for accounts' first migration."""
    first = (project.path / "accounts/migrations/0001_initial.py").read_text()
    start = first.index("        migrations.CreateModel(\n            name='Parties'")
    end = first.index("        migrations.CreateModel(\n            name='User'")
    parties = first[start:end]
    first = first[:start] + first[end:]
    first = re.sub(r"    run_before = \[\n.*?\n    \]\n", "", first, flags=re.S)
    (project.path / "accounts/migrations/0001_initial.py").write_text(first)
    project.edit(
        "accounts/migrations/0002_links_to_finflo_and_transaction.py",
        "    operations = [\n", "    operations = [\n" + parties,
    )
    project.edit(
        "transaction/migrations/0001_initial.py",
        "('accounts', '0001_initial')", "('accounts', '0002_links_to_finflo_and_transaction')",
    )
    # transaction now waits for accounts.0002, which needs transaction: move base_currency out of the way.
    project.edit(
        "accounts/migrations/0002_links_to_finflo_and_transaction.py",
        "        ('transaction', '0001_initial'),\n", "",
    )
    project.edit(
        "accounts/migrations/0002_links_to_finflo_and_transaction.py",
        "        migrations.AddField(\n            model_name='parties',\n            name='base_currency',",
        "        migrations.AddField(\n            model_name='parties',\n            name='base_currency_unused',",
    )
    result = project.manage("migrate")
    assert result.returncode == 1
    assert "ValueError: Related model 'accounts.parties' cannot be resolved" in result.output


def test_without_migration_modules_makemigrations_writes_into_site_packages(project):
    """How the project got a migration that depends on a file in site-packages."""
    project.edit("config/settings.py", 'MIGRATION_MODULES = {"finflo": "finflo_migrations"}', "")
    project.edit(
        "accounts/migrations/0002_links_to_finflo_and_transaction.py",
        "('finflo', '0003_alter_action_stage_required')", "('finflo', '0002_remigrate')",
    )
    # --dry-run: show where the file would go without writing into the shared virtualenv.
    result = project.manage("makemigrations", "--dry-run")
    assert result.returncode == 0, result.output
    match = re.search(r"^\s*(/\S+/site-packages/finflo/migrations/0003_alter_action_stage_required\.py)$",
                      result.output, re.M)
    assert match, result.output


def test_a_migration_depending_on_finflo_0003_fails_on_a_machine_without_it(project):
    project.edit("config/settings.py", 'MIGRATION_MODULES = {"finflo": "finflo_migrations"}', "")
    result = project.manage("migrate")
    assert result.returncode == 1
    assert (
        "NodeNotFoundError: Migration accounts.0002_links_to_finflo_and_transaction dependencies "
        "reference nonexistent parent node ('finflo', '0003_alter_action_stage_required')"
    ) in result.output


def test_drop_tables_drops_everything_including_django_migrations(project):
    assert project.manage("migrate", "-v0").returncode == 0
    dropped = project.manage("drop_tables", "--noinput")
    assert dropped.returncode == 0, dropped.output
    assert re.fullmatch(r"Dropped \d+ tables\.\n", dropped.output)
    tables = project.manage("shell", "-v0", "-c", "from django.db import connection; print(connection.introspection.table_names())")
    assert tables.output.strip() == "[]"
    assert project.manage("migrate", "-v0").returncode == 0


def test_drop_tables_asks_before_dropping(project):
    assert project.manage("migrate", "-v0").returncode == 0
    result = project.manage("drop_tables")  # no terminal: the prompt reads end-of-file
    assert result.returncode != 0
    assert "Type 'yes' to continue" in result.output
    assert project.manage("migrate", "--check").returncode == 0
