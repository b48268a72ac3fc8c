"""The change feed's order: each permission document records the id of the transaction that wrote it.

PostgreSQL fills ``commit_xid`` with ``pg_current_xact_id()`` as the row is inserted (a column default, so the
write path is unchanged and rows already there get the migration's own id, which is below every later one).
SQLite, where writers are serialised and id order is commit order, leaves it NULL.

SQLite adds such a column by rebuilding the table, which drops the append-only triggers of migration 0002:
they are installed again here.
"""

import apps.consent.models
from django.db import migrations, models

TABLE = "consent_permissiondocument"


def reinstall_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for operation in ("UPDATE", "DELETE"):
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {operation} refused'); END"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0002_append_only_ledger"),
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="permissiondocument",
            name="commit_xid",
            field=models.BigIntegerField(
                db_default=apps.consent.models.CurrentTransactionId(),
                editable=False,
                help_text="The writing transaction's id (PostgreSQL), set by the database: the change feed's order.",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="permissiondocument",
            index=models.Index(fields=["commit_xid", "id"], name="permission_doc_commit_order"),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
