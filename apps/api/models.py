"""API clients (marketing systems holding a key) and the idempotency record of the writes they made."""

from django.db import models


class ApiClient(models.Model):
    """A system that calls the API. Its key is shown once; only the SHA-256 of it is kept.

    Keys are long random secrets, so a fast hash is right: there is nothing to brute-force, and a slow
    password hasher would cost every request.
    """

    class Scope(models.TextChoices):
        PERMISSIONS_READ = "permissions:read", "Read permission documents"
        CONSENTS_READ = "consents:read", "Read consent history"
        CONSENTS_WRITE = "consents:write", "Record consent"
        CUSTOMERS_WRITE = "customers:write", "Create and update customers"
        CATALOG_READ = "catalog:read", "Read the catalog"
        LINKS_WRITE = "links:write", "Make preference and unsubscribe links for messages"
        MESSAGES_WRITE = "messages:write", "Report messages sent"

    name = models.SlugField(max_length=100, unique=True, help_text="Recorded in the ledger as api:<name>.")
    key_prefix = models.CharField(max_length=16, help_text="The start of the key, to recognise it by.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="A list of scopes, e.g. permissions:read.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    # DRF treats the authenticated principal as request.user.
    is_authenticated = True
    is_anonymous = False

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The answer given to one client's write under one Idempotency-Key, replayed when the request is retried."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request it answered.")
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_at")]

    def __str__(self):
        return f"{self.client} {self.key}"
