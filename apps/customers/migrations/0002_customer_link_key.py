"""A per-customer key that every signed link depends on; each existing customer gets its own random key."""

import secrets

from django.db import migrations, models

import apps.customers.models


def give_each_customer_its_own_key(registry, schema_editor):
    # AddField computed the default once for all existing rows; a shared key would revoke them together.
    Customer = registry.get_model("customers", "Customer")
    for pk in Customer.objects.values_list("pk", flat=True).iterator():
        Customer.objects.filter(pk=pk).update(link_key=secrets.token_urlsafe(24))


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="link_key",
            field=models.CharField(
                default=apps.customers.models.new_link_key,
                editable=False,
                help_text="Part of every signed link's key: rotating it revokes all links sent so far.",
                max_length=64,
            ),
        ),
        migrations.RunPython(give_each_customer_its_own_key, migrations.RunPython.noop),
    ]
