"""Drop indexes the write path paid for and no query needs.

The customer indexes of events and documents: each unique (customer, …) constraint's index covers them.

Every change writes an event and a document, so each index less is one write less on the hot path. Only
PostgreSQL's indexes are dropped: SQLite would rebuild both tables to alter the fields, which drops the
append-only triggers, and its embedded database gains nothing worth that.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "consent_consentevent_customer_id_a3c53868": "consent_consentevent",
    "consent_permissiondocument_customer_id_d1c68983": "consent_permissiondocument",
}


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, table in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} (customer_id)")


def unindexed_customer(related_name):
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name=related_name,
        to="customers.customer",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0003_permissiondocument_commit_order"),
        ("customers", "0003_customer_phone_verified_at_and_user"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("consentevent", "customer", unindexed_customer("consent_events")),
                migrations.AlterField(
                    "permissiondocument", "customer", unindexed_customer("permission_documents")
                ),
            ],
        ),
        migrations.RunPython(drop_indexes, create_indexes),
        # Nothing reads events by time across customers; the index only cost a write per event.
        migrations.RemoveIndex(model_name="consentevent", name="consent_event_recorded_at"),
    ]
