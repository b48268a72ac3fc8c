"""0008 added a column to catalog_noticeversion, which SQLite does by rebuilding the table, and 0003's revision
triggers went with the old one: in the embedded default, publishing a version did not give the catalog a new
revision token, so the write path could go on with cached rules that did not know the version."""

from importlib import import_module

from django.db import migrations

restore_sqlite_revision_triggers = import_module(
    "apps.catalog.migrations.0004_topic_kind"
).restore_sqlite_revision_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0009_notice_text_example"),
    ]

    operations = [
        migrations.RunPython(
            restore_sqlite_revision_triggers("catalog_noticeversion"), migrations.RunPython.noop
        ),
    ]
