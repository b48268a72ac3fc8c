"""Indexes that keep the console's search fast on a million customers (PostgreSQL only).

Exact matches on email, phone and external id use the customers table's own b-tree indexes. A part of a name or
of an email (``icontains``, which Django writes as ``UPPER(col::text) LIKE UPPER('%…%')``) uses these trigram
indexes on the same expression. SQLite (the embedded default) skips them: a demo has a few hundred customers.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "support_customer_name_trgm": "UPPER((name)::text)",
    "support_customer_email_trgm": "UPPER((email)::text)",
}


class PostgresOnlySQL(migrations.RunSQL):
    """Raw SQL run on PostgreSQL only; the model state is untouched, so makemigrations sees nothing to do."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_roles"),
        ("customers", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on SQLite
        *[
            PostgresOnlySQL(
                f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer USING gin ({expression} gin_trgm_ops)",
                f"DROP INDEX IF EXISTS {name}",
            )
            for name, expression in INDEXES.items()
        ],
    ]
