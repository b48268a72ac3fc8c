"""Profile questions, and the catalog revision triggers (migration 0003) on their tables: the write path's
cached catalog rules hold every question's answer options."""

import django.db.models.deletion
from django.db import migrations, models


QUESTION_TABLES = ("catalog_question", "catalog_questionversion")


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in QUESTION_TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION candor_new_catalog_revision()"
            )
        else:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_revision_{operation.lower()} AFTER {operation} ON {table} "
                    "BEGIN UPDATE catalog_catalogrevision SET token = lower(hex(randomblob(16))); END"
                )


def drop_triggers(apps, schema_editor):
    for table in QUESTION_TABLES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision ON {table}")
        else:
            for operation in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_revision_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_benefit_kinds"),
    ]

    operations = [
        migrations.CreateModel(
            name="Question",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.SlugField(max_length=40, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("one", "One answer (a size, a store, a birthday month)"),
                            ("many", "Several answers (interests)"),
                        ],
                        default="one",
                        max_length=4,
                    ),
                ),
                (
                    "serves",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text='The purposes the answer is used for, e.g. ["topic:new-arrivals"]; shown to the customer.',
                    ),
                ),
                (
                    "may_send_downstream",
                    models.BooleanField(
                        default=False,
                        help_text="Destinations configured with profile receive the answer (at depth interests or deeper).",
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0)),
            ],
            options={
                "ordering": ["position", "code"],
            },
        ),
        migrations.CreateModel(
            name="QuestionVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "options",
                    models.JSONField(
                        help_text='In order: [{"code": "m", "label": {"en": "M", "de": "M"}}, …]; English is required.'
                    ),
                ),
                (
                    "notice_version",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="question_version",
                        to="catalog.noticeversion",
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="versions",
                        to="catalog.question",
                    ),
                ),
            ],
            options={
                "ordering": ["question", "-notice_version__number"],
            },
        ),
        migrations.RunPython(triggers, drop_triggers),
    ]
