"""The console's roles as Django groups with their permissions.

Permissions are normally created after all migrations run; this creates them first so the groups can hold them.
Running it again (or after the groups were edited) only adds what is missing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Support agent": [
        ("support", "search_customers"),
        ("support", "view_customer_data"),
        ("support", "record_change_on_behalf"),
        ("support", "retry_delivery"),
    ],
    "Privacy officer": [
        ("support", "search_customers"),
        ("support", "view_customer_data"),
        ("support", "export_proof"),
        ("support", "run_data_subject_requests"),
        ("support", "view_staff_access_log"),
        ("support", "verify_ledger"),
    ],
    "Marketing admin": [
        (app, f"{action}_{model}")
        for app, model in [
            ("catalog", "channel"),
            ("catalog", "topic"),
            ("catalog", "option"),
            ("catalog", "notice"),
            ("catalog", "noticeversion"),
            ("catalog", "noticetext"),
        ]
        for action in ("view", "add", "change")
    ],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in codenames:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0001_staff_access"),
        ("catalog", "0003_catalog_revision_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
