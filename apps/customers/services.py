from .models import Customer


def customer_upsert(
    *, external_id: str, email: str = "", phone: str = "", name: str = "", locale: str = "en"
):
    """Create the customer or update their identity; returns ``(customer, created)``.

    Raises ``ValidationError`` naming each bad field, and then writes nothing.
    """
    customer = Customer.objects.filter(external_id=external_id).first() or Customer(external_id=external_id)
    created = customer.pk is None
    customer.email = email.strip().lower()
    customer.phone = phone.strip()
    customer.name = name.strip()
    customer.locale = locale
    customer.full_clean()
    customer.save()
    return customer, created


def erase_identity(*, customer: Customer, at) -> Customer:
    """Blank the customer's personal fields and mark them erased; the surrogate key and external id stay.

    The external id is the brand's own pseudonymous key: it lets the brand's systems match the erasure.
    Call it through ``apps.consent.services.erase_customer``, which first withdraws what the customer allowed.
    """
    Customer.objects.filter(pk=customer.pk).update(email="", phone="", name="", erased_at=at)
    customer.refresh_from_db()
    return customer
