"""Seed the embedded demo: the catalog, its published notices, and demo customers with a history.

Every consent event goes through the one write path, ``record_choices``; notices are published through
``publish_notice_version``. Running it again records nothing new: customers are found by their external id,
and only a customer without any consent event yet gets a history.
"""

import random
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from apps.catalog.models import NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance
from apps.consent.services import publish_notice_version, record_choices
from apps.customers.models import Customer
from apps.customers.services import customer_upsert, mark_phone_verified

from .catalog import load_demo_catalog
from .histories import History, external_id, plan

SEED = 2026


@dataclass(frozen=True)
class Seeded:
    published: int
    created: int
    existing: int
    events: int
    histories: int


def seed_demo(*, customers: int) -> Seeded:
    """Load the catalog, publish each notice's first version, and give demo customers 1..``customers`` a history."""
    load_demo_catalog()
    published = 0
    for first in NoticeVersion.objects.filter(number=1, published_at__isnull=True).select_related("notice"):
        publish_notice_version(version=first)
        published += 1

    rules = catalog_rules()
    versions = {}
    for purpose in rules.purposes():
        current = rules.current_version(purpose)
        if current is None:
            raise ImproperlyConfigured(f"No published notice for {purpose}; cannot record choices for it.")
        versions[purpose] = current.id

    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    now = timezone.now()
    external_ids = [external_id(number) for number in range(1, customers + 1)]
    existing = {c.external_id: c for c in Customer.objects.filter(external_id__in=external_ids)}
    with_history = set(
        ConsentEvent.objects.filter(customer__in=existing.values()).values_list("customer_id", flat=True)
    )
    created = histories = events = 0
    for number in range(1, customers + 1):
        # Draw person and history in the same order every time, whoever already exists: customer N is always
        # the same person with the same history, whatever ``customers`` says.
        person, history = plan(number, rng, rules, now)
        customer = existing.get(person.external_id)
        if customer is not None and customer.pk in with_history:
            continue
        with transaction.atomic():
            if customer is None:
                customer, _ = customer_upsert(
                    external_id=person.external_id,
                    email=person.email,
                    phone=person.phone,
                    name=person.name,
                    locale=person.locale,
                )
                if (
                    customer.phone
                ):  # proved on their page with the code we texted: texts need a verified number
                    mark_phone_verified(customer=customer)
                created += 1
            events += _record(customer, history, versions)
            histories += bool(history.steps)
    return Seeded(published, created, customers - created, events, histories)


def _record(customer: Customer, history: History, versions: dict[str, int]) -> int:
    """Record the history through the one write path, one call per step; returns how many events it wrote."""
    events = 0
    for step in history.steps:
        recorded = record_choices(
            customer=customer,
            choices=[
                Choice(purpose, state, versions[purpose], value, expires_at)
                for purpose, state, value, expires_at in step.choices
            ],
            provenance=Provenance(source=step.source, actor=step.actor, evidence=step.evidence),
            language=customer.locale,
            note=step.note,
            ip_address=step.ip_address,
            user_agent=step.user_agent,
        )
        events += len(recorded.events)
    return events
