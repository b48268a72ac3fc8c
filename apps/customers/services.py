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
