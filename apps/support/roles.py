"""The console's roles: which permissions each staff group holds.

Migration ``support/0002_roles`` creates these groups (with its own frozen copy of this table);
``ensure_roles`` puts back what is missing, e.g. after a test emptied the tables.
"""

from django.contrib.auth.models import Group, Permission

ROLES = {
    "Support agent": [
        "support.search_customers",
        "support.view_customer_data",
        "support.record_change_on_behalf",
        "support.retry_delivery",
    ],
    "Privacy officer": [
        "support.search_customers",
        "support.view_customer_data",
        "support.export_proof",
        "support.run_data_subject_requests",
        "support.view_staff_access_log",
        "support.verify_ledger",
        "support.import_consents",
        "support.view_insights",
        "support.view_experiments",
        "support.approve_experiments",
    ],
    "Marketing admin": [
        *(
            f"catalog.{action}_{model}"
            for model in ("channel", "topic", "option", "notice", "noticeversion", "noticetext")
            for action in ("view", "add", "change")
        ),
        "support.view_insights",
        "support.view_experiments",
        "support.run_experiments",
    ],
}


def ensure_roles() -> None:
    for role, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for permission in permissions:
            app_label, codename = permission.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
