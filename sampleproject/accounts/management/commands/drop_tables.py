"""Drop every table of the database, django_migrations included.

Django has no such command (``flush`` keeps the tables and ``django_migrations``); the
troubleshooting guide's project has its own, and so does the sample project.
"""
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections


class Command(BaseCommand):
    help = "Drops every table in the database, including django_migrations. Cannot be undone."

    def add_arguments(self, parser):
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive",
            help="Do not prompt for confirmation.",
        )
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS,
            help='Nominates a database to drop the tables of. Defaults to "default".',
        )

    def handle(self, *args, interactive, database, **options):
        connection = connections[database]
        tables = connection.introspection.table_names(include_views=False)
        if interactive:
            answer = input(
                f"This drops all {len(tables)} tables of the database "
                f"{connection.settings_dict['NAME']!r}. Type 'yes' to continue: "
            )
            if answer != "yes":
                raise CommandError("Drop tables cancelled.")
        with connection.cursor() as cursor:
            for statement in self._drop_statements(connection, tables):
                cursor.execute(statement)
        self.stdout.write(f"Dropped {len(tables)} tables.")

    @staticmethod
    def _drop_statements(connection, tables):
        quote = connection.ops.quote_name
        if connection.vendor == "postgresql":
            return [f"DROP TABLE IF EXISTS {quote(t)} CASCADE" for t in tables]
        if connection.vendor == "mysql":
            return (
                ["SET FOREIGN_KEY_CHECKS = 0"]
                + [f"DROP TABLE IF EXISTS {quote(t)}" for t in tables]
                + ["SET FOREIGN_KEY_CHECKS = 1"]
            )
        if connection.vendor == "sqlite":
            return (
                ["PRAGMA foreign_keys = OFF"]
                + [f"DROP TABLE IF EXISTS {quote(t)}" for t in tables]
                + ["PRAGMA foreign_keys = ON"]
            )
        raise CommandError(f"drop_tables does not support the {connection.vendor} backend.")
