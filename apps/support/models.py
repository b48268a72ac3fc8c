"""The staff access log, and the permissions the support console's roles are made of.

The log says who opened which customer's data, when, and what they looked at or did. It never holds the
customer's personal data (a search is logged by a keyed hash of its query), so an erasure leaves it intact.
"""

from django.conf import settings
from django.db import models

from apps.customers.models import Customer


class StaffAccess(models.Model):
    class What(models.TextChoices):
        SEARCH = "search", "Searched customers"
        GLANCE = "glance", "Opened the customer at a glance"
        TIMELINE = "timeline", "Read the consent timeline"
        DELIVERIES = "deliveries", "Read the delivery status"
        CHANGE_FORM = "change_form", "Opened the change form"
        RECORDED_CHANGE = "recorded_change", "Recorded a change on the customer's behalf"
        PROOF = "proof", "Exported proof of consent"
        ACCESS_EXPORT = "access_export", "Exported everything held (data-subject access)"
        ERASURE = "erasure", "Erased the customer (data-subject erasure)"
        RETRY_DELIVERY = "retry_delivery", "Retried a delivery"
        SEARCH_RESULT = "search_result", "Was shown in search results"
        REFUSED_CHANGE = "refused_change", "Tried to record a change that was refused"
        ADMIN_VIEW = "admin_view", "Opened in the admin"
        EXPLAIN = "explain", "Read why a message may or may not be sent"
        IMPORT = "import", "Started an import of consent from another system"
        REVIEW_QUEUE = "review_queue", "Was shown in the review queue (a held text or an overdue revocation)"
        REVIEW_DECISION = "review_decision", "Decided a held text message"

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="staff_accesses"
    )
    what = models.CharField(max_length=20, choices=What.choices)
    detail = models.CharField(
        max_length=200, blank=True, help_text="Never personal data: a purpose, a filter, a count, a hash."
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ()
        permissions = [
            ("search_customers", "Search customers"),
            ("view_customer_data", "View a customer's preferences, timeline and deliveries"),
            ("record_change_on_behalf", "Record a change on a customer's behalf"),
            ("retry_delivery", "Retry a customer's failed delivery"),
            ("export_proof", "Export proof of consent"),
            ("run_data_subject_requests", "Run data-subject access and erasure requests"),
            ("view_staff_access_log", "See the staff access log"),
            ("verify_ledger", "Verify the consent ledger"),
            ("import_consents", "Import consent from another system's export"),
            ("view_insights", "See what customers choose (aggregates only)"),
        ]
        indexes = [models.Index(fields=["customer", "-at"], name="staff_access_customer_at")]
        verbose_name = "staff access"
        verbose_name_plural = "staff access log"

    def __str__(self):
        return f"{self.staff_id} {self.what} {self.customer_id} at {self.at:%Y-%m-%d %H:%M}"


class StaffInvite(models.Model):
    """A single-use, expiring link with which a new staff member enrols their first authenticator.

    Only a hash of the link's token is kept; a password alone never enrols an authenticator.
    """

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"enrolment invite for {self.staff_id} until {self.expires_at:%Y-%m-%d %H:%M}"
