"""The database itself refuses to change or remove ledger rows and permission documents.

PostgreSQL: a trigger raises on UPDATE and DELETE of any row and on TRUNCATE. SQLite (the embedded default,
which has no TRUNCATE): triggers abort UPDATE and DELETE.
"""

from django.db import migrations

APPEND_ONLY_TABLES = ("consent_consentevent", "consent_permissiondocument")

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION candor_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def make_append_only(schema_editor, tables):
    """Also used by later migrations for tables of their own (consent/0005: ledger checkpoints)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION candor_refuse_change()"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()"
            )
    elif vendor == "sqlite":
        for table in tables:
            for operation in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
                )
    else:
        raise NotImplementedError(f"No append-only triggers for {vendor}; the ledger would be editable.")


def undo_append_only(schema_editor, tables, *, drop_function):
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if vendor == "postgresql" and drop_function:
        schema_editor.execute("DROP FUNCTION IF EXISTS candor_refuse_change()")


def forwards(apps, schema_editor):
    make_append_only(schema_editor, APPEND_ONLY_TABLES)


def backwards(apps, schema_editor):
    undo_append_only(schema_editor, APPEND_ONLY_TABLES, drop_function=True)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
