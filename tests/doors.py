"""The invariant every door that can write is walked against: no customer's identity or consent changes, and the
catalog widens nothing Candor may do with it, without the ledger event the write path would have written.

Used by tests/test_admin_walk.py (admin) and tests/test_door_walk.py (URLs and management commands).
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import Group

from apps.api.services import api_client_create
from apps.catalog.models import Option, Topic
from apps.catalog.selectors import catalog_rules, current_notice_version
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance, derive_permissions
from apps.consent.services import record_choices
from apps.customers.models import Customer
from apps.delivery.models import Delivery
from apps.delivery.services import fan_out_outbox
from apps.inbound.services import add_inbound_source
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice
from tests.inbound.conftest import TWILIO_TOKEN

State = ConsentEvent.State


@dataclass(frozen=True)
class Seen:
    identity: tuple
    choices: dict
    allowances: frozenset
    events: int
    topics: frozenset  # the catalog's topics the customer could have been asked about


def allowances(document: dict, ranks: dict) -> frozenset:
    """What a permission document lets Candor do, as a set: a wider document is a strict superset.

    A location precision or personalization depth stands for itself and every lesser one (by the options' ranks).
    """
    allowed = set()
    for code, channel in document["channels"].items():
        if channel["allowed"]:
            allowed.add(("channel", code))
        allowed |= {("topic", code, slug) for slug in channel["topics"]}
        allowed |= {("required", code, slug) for slug in channel["required_topics"]}
    for option_set, level in (
        ("location", document["location"]["level"]),
        ("personalization", document["personalization"]),
    ):
        rank = ranks.get((option_set, level), 0)
        allowed |= {(option_set, r) for r in range(rank + 1)}
    return frozenset(allowed)


def seen(at: datetime) -> dict[int, Seen]:
    rules = catalog_rules()
    ranks = {(option.set, option.code): option.rank for option in Option.objects.all()}
    topics = frozenset(Topic.objects.values_list("slug", flat=True))
    found = {}
    for customer in Customer.objects.all():
        snapshot = Snapshot.objects.filter(customer=customer).first()
        choices = snapshot.choices if snapshot else {}
        found[customer.pk] = Seen(
            identity=(customer.email, customer.phone, customer.erased_at),
            choices=choices,
            allowances=allowances(derive_permissions(choices, rules, at), ranks),
            events=ConsentEvent.objects.filter(customer=customer).count(),
            topics=topics,
        )
    return found


def owes_an_event(then: Seen, now: Seen) -> bool:
    """Whether the write path records an identity change: only when it pauses or ends consent that is live
    (``change_identity``, ``erase_customer``); a new address on a customer with no live email consent is no
    consent event."""
    live = {
        purpose
        for purpose, choice in then.choices.items()
        if choice["state"] in (State.GIVEN, State.REQUESTED)
    }
    (email, phone, erased_at), (new_email, new_phone, new_erased_at) = then.identity, now.identity
    return bool(
        (email != new_email and "channel:email" in live)
        or (phone != new_phone and "channel:sms" in live)
        or (erased_at != new_erased_at and live)
    )


def unrecorded_changes(before: dict[int, Seen], after: dict[int, Seen]) -> list[str]:
    problems = []
    for pk, then in before.items():
        now = after.get(pk)
        if now is None:
            problems.append(f"customer {pk}: deleted")  # erasure keeps the row; only a bypass removes it
            continue
        if now.events > then.events:
            continue  # the write path ran for this customer
        if now.identity != then.identity and owes_an_event(then, now):
            problems.append(f"customer {pk}: identity changed without a ledger event")
        if now.choices != then.choices:
            problems.append(f"customer {pk}: consent changed without a ledger event")
        widened = {
            allowed
            for allowed in now.allowances - then.allowances
            # A new transactional topic may be required from its creation (``Topic.refuse_widening``): it
            # needs no consent, and nobody can have refused it yet.
            if not (allowed[0] == "required" and allowed[2] not in then.topics)
        }
        if widened:
            problems.append(f"customer {pk}: the catalog widened {sorted(widened)}")
    return problems


def seed_world():
    """Customers with every kind of answer, a destination with a dead delivery, an API client, a draft notice,
    an inbound source for texts."""
    ada = CustomerFactory(external_id="ada", email="ada@example.com", phone="+4915112345678")
    record_choices(
        customer=ada,
        choices=[
            make_choice("channel:email"),
            make_choice("channel:sms"),
            make_choice("topic:news", value={"channels": ["email"]}),
            make_choice("topic:offers", state="refused"),
            make_choice("topic:orders", value={"channels": ["email"]}),
            make_choice("personalization", value={"depth": "interests"}),
            make_choice("location", value={"level": "city"}),
        ],
        provenance=Provenance(source="web", actor="customer"),
    )
    CustomerFactory(external_id="bob")
    DestinationFactory(name="crm")
    fan_out_outbox()
    Delivery.objects.update(status=Delivery.Status.DEAD)
    api_client_create(name="shop", scopes=["permissions:read"])
    NoticeVersionFactory(notice=current_notice_version("personalization").notice, material=False)
    Group.objects.get_or_create(name="Auditors")
    add_inbound_source(name="texts", kind="twilio", signing_key=TWILIO_TOKEN)
