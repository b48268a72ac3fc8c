"""Ledger checkpoints (docs/ledger.md): append-only in the database, like the ledger itself (consent/0002)."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

append_only = import_module("apps.consent.migrations.0002_append_only_ledger")
CHECKPOINT_TABLES = ("consent_ledgercheckpoint", "consent_checkpointhead")


def forwards(apps, schema_editor):
    append_only.make_append_only(schema_editor, CHECKPOINT_TABLES)


def backwards(apps, schema_editor):
    append_only.undo_append_only(schema_editor, CHECKPOINT_TABLES, drop_function=False)


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0004_drop_indexes_the_unique_constraints_cover'),
        ('customers', '0003_customer_phone_verified_at_and_user'),
    ]

    operations = [
        migrations.CreateModel(
            name='LedgerCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('taken_at', models.DateTimeField()),
                ('customers', models.PositiveIntegerField(help_text='Chains anchored (customers with at least one event).')),
                ('events', models.PositiveBigIntegerField(help_text='Events in those chains: the sum of their head sequences.')),
                ('root', models.CharField(help_text='RFC 6962 Merkle tree hash over the heads, hex.', max_length=64)),
                ('signature', models.CharField(help_text='HMAC-SHA256 under LEDGER_CHECKPOINT_KEY, hex.', max_length=64)),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='CheckpointHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.PositiveIntegerField()),
                ('hash', models.CharField(max_length=64)),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='customers.customer')),
                ('checkpoint', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='heads', to='consent.ledgercheckpoint')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('customer', 'sequence'), name='consent_checkpoint_head_unique')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
