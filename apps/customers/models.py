from django.core.validators import RegexValidator
from django.db import models

e164 = RegexValidator(
    r"^\+[1-9]\d{6,14}$", "Enter the phone number in international form, e.g. +4915112345678."
)


class Customer(models.Model):
    """The person the data is about, keyed by the brand's own id.

    The ledger refers to customers only by this row's surrogate key, so erasing the personal fields
    here leaves every consent chain verifiable.
    """

    class Locale(models.TextChoices):
        EN = "en", "English"
        DE = "de", "Deutsch"

    external_id = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=16, blank=True, db_index=True, validators=[e164])
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, choices=Locale.choices, default=Locale.EN)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.external_id
