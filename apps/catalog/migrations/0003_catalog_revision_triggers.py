"""Every write to a catalog table gives the catalog revision a new random token (see CatalogRevision)."""

from django.db import migrations

CATALOG_TABLES = (
    "catalog_channel",
    "catalog_topic",
    "catalog_topic_channels",
    "catalog_option",
    "catalog_notice",
    "catalog_noticeversion",
    "catalog_noticetext",
)

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION candor_new_catalog_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_catalogrevision SET token = md5(random()::text || clock_timestamp()::text);
    RETURN NULL;
END;
$$;
"""


def forwards(apps, schema_editor):
    apps.get_model("catalog", "CatalogRevision").objects.create(token="initial")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION, params=None)
        for table in CATALOG_TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION candor_new_catalog_revision()"
            )
    elif vendor == "sqlite":
        for table in CATALOG_TABLES:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_revision_{operation.lower()} AFTER {operation} ON {table} "
                    "BEGIN UPDATE catalog_catalogrevision SET token = lower(hex(randomblob(16))); END"
                )
    else:
        raise NotImplementedError(f"No catalog revision triggers for {vendor}.")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in CATALOG_TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision ON {table}")
        else:
            for operation in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision_{operation}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS candor_new_catalog_revision()")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_catalog_revision")]

    operations = [migrations.RunPython(forwards, backwards)]
