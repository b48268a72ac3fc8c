"""Search: a customer by exact email, phone or external id, or by part of a name or an email."""

import re
from dataclasses import dataclass

from django.db.models import Q

from apps.customers.models import Customer

PAGE_SIZE = 25


# A trigram index answers a part of a name or an email from three characters on.
MIN_PARTIAL_LENGTH = 3


PHONE_NOISE = re.compile(r"[\s\-().\/]")


PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class SearchPage:
    query: str
    customers: list
    next_after: int | None
    too_short: bool = False


def normalized_phone(text: str) -> str | None:
    """``+49 151 1234-5678`` or ``0049…`` as stored (E.164), or ``None`` if it is not a phone number."""
    compact = PHONE_NOISE.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if PHONE.match(compact) else None


def search_customers(query: str, *, after: int | None = None, limit: int = PAGE_SIZE) -> SearchPage:
    """Customers whose email, phone or external id is the query; failing that, whose name or email contains it.

    Exact matches come first and alone (each a b-tree lookup); only without one does the search look for a part
    of a name or an email (trigram indexes on PostgreSQL). Paged by id (``after`` the last id shown), never by
    OFFSET, so a late page costs what the first costs.
    """
    query = query.strip()
    if not query:
        return SearchPage(query=query, customers=[], next_after=None)
    exact = Q(external_id=query) | Q(email=query.lower())
    phone = normalized_phone(query)
    if phone:
        exact |= Q(phone=phone)
    partial = len(query) >= MIN_PARTIAL_LENGTH
    found = Customer.objects.filter(exact)
    if partial and not found.exists():
        found = Customer.objects.filter(Q(name__icontains=query) | Q(email__icontains=query))
    rows = _page(found, after, limit)
    return SearchPage(
        query=query,
        customers=rows[:limit],
        next_after=rows[limit - 1].pk if len(rows) > limit else None,
        too_short=not partial and not rows,
    )


def _page(found, after: int | None, limit: int) -> list:
    if after:
        found = found.filter(pk__gt=after)
    fields = ("pk", "external_id", "email", "phone", "name", "erased_at")
    return list(found.order_by("pk").only(*fields)[: limit + 1])
