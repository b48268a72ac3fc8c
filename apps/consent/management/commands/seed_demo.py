"""Seed the embedded demo: the Candor Outfitters catalog, its published notices, and demo customers with history.

Every consent event goes through the one write path, ``record_choices``. Running the command again records
nothing new: customers are found by their external id, and only a customer without any consent event yet gets
a history. Everything is drawn from ``random.Random(2026)``, in the same order on every run, so demo-0042 is
always the same person with the same history (only the timestamps differ).
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from apps.catalog.demo import seed_demo_catalog
from apps.catalog.models import NoticeVersion
from apps.catalog.purposes import Purpose, channel_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules, catalog_rules
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance, Source, State
from apps.consent.services import publish_notice_version, record_choices
from apps.customers.models import Customer
from apps.customers.services import customer_upsert

SEED = 2026
IMPORT_ACTOR = "import:crm-2026"
IMPORT_EVIDENCE = {"captured_via": "import"}
IMPORT_FILE = "crm-export-2026-01.csv"
STAFF_ACTOR = "staff:demo"
REQUIRED_TOPIC = "topic:order-updates"

# fmt: off
EN_FIRST = ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Jack", "Grace", "Leo", "Freya",
            "Arthur", "Evie", "Oscar", "Poppy", "Charlie", "Lily", "Thomas", "Rosie", "Samir", "Priya", "Kwame",
            "Niamh"]
EN_LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
           "Wright", "Hughes", "Patel", "Khan", "Murphy", "Campbell", "Clarke", "Turner", "Hill", "Okafor"]
DE_FIRST = ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Paul", "Sophie", "Jan", "Jana", "Tobias", "Lena",
            "Maximilian", "Hannah", "Jürgen", "Käthe", "Björn", "Sören", "Özlem", "Elif", "Matthias", "Laura"]
DE_LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
           "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
           "Krüger", "Hofmann", "Größer", "Yilmaz"]
# fmt: on
ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})

# Weights for what people tend to pick.
DIGESTS = (("real_time", 1), ("daily", 2), ("weekly", 5), ("monthly", 3))
LEVELS = (("country", 4), ("region", 3), ("city", 3), ("precise", 1))
DEPTHS = (("interests", 2), ("activity", 1))
WEB_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
)


@dataclass(frozen=True)
class Person:
    external_id: str
    email: str
    phone: str
    name: str
    locale: str


@dataclass
class Step:
    """One call of the write path: what one customer answered at one moment, through one door."""

    source: str
    actor: str
    choices: list[tuple[str, str, dict | None, datetime | None]]  # purpose, state, value, expires_at
    evidence: dict | None = None
    note: str | None = None  # free text: kept beside the ledger, erasable
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass
class History:
    """A customer's planned history, and what each purpose will hold once it is recorded."""

    rules: CatalogRules
    steps: list[Step] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)
    topic_channels: dict[str, list[str]] = field(default_factory=dict)

    def add(self, step: Step) -> None:
        if not step.choices:
            return
        self.steps.append(step)
        for purpose, state, value, _ in step.choices:
            requested = (
                state == State.GIVEN
                and self.rules.needs_double_opt_in(Purpose.parse(purpose))
                and step.source not in (Source.EMAIL_LINK, Source.IMPORT)
                and self.held.get(purpose) != State.GIVEN
            )
            self.held[purpose] = State.REQUESTED if requested else state
            if Purpose.parse(purpose).is_topic and state == State.GIVEN:
                self.topic_channels[purpose] = value["channels"]

    def given(self, purpose: str) -> bool:
        return self.held.get(purpose) == State.GIVEN


def _weighted(rng: random.Random, pairs) -> str:
    codes, weights = zip(*pairs, strict=True)
    return rng.choices(codes, weights=weights)[0]


def _web(rng: random.Random, choices) -> Step:
    return Step(
        source=Source.WEB,
        actor="customer",
        choices=choices,
        ip_address=f"203.0.113.{rng.randint(1, 254)}",
        user_agent=rng.choice(WEB_AGENTS),
    )


def _external_id(number: int) -> str:
    return f"demo-{number:04d}"


def _person(number: int, rng: random.Random) -> Person:
    external_id = _external_id(number)
    if number == 1:
        return Person(external_id, "ada@example.com", "+447700900123", "Ada Lovelace", "en")
    if number == 2:
        return Person(external_id, "jonas.mueller@example.com", "+4915790012345", "Jonas Müller", "de")
    locale = "de" if rng.random() < 0.4 else "en"
    first = rng.choice(DE_FIRST if locale == "de" else EN_FIRST)
    last = rng.choice(DE_LAST if locale == "de" else EN_LAST)
    email = f"{first}.{last}{number}@example.com".translate(ASCII).lower()
    phone = ""
    if rng.random() < 0.7:
        if locale == "de":
            phone = f"+49{rng.choice(['151', '160', '170', '176'])}{rng.randint(1000000, 99999999)}"
        else:
            phone = f"+447700900{rng.randint(0, 999):03d}"  # Ofcom's range for fiction
    return Person(external_id, email, phone, f"{first} {last}", locale)


def _topic_value(rng: random.Random, history: History, slug: str, channels: list[str]) -> dict | None:
    """A value for giving ``slug``: some of the channels it may use that the customer also chose."""
    allowed = sorted(history.rules.topics[slug].channels & set(channels), key=history.rules.channels.index)
    if not allowed:
        return None
    picked = set(rng.sample(allowed, rng.randint(1, len(allowed))))
    value = {"channels": [code for code in allowed if code in picked]}
    if rng.random() < 0.2:
        value["frequency"] = _weighted(rng, DIGESTS)
    return value


def _frequency_value(rng: random.Random, channels: list[str], today) -> dict:
    value = {"digest": _weighted(rng, DIGESTS)}
    if rng.random() < 0.3:
        value["weekly_cap"] = rng.choice([1, 2, 3, 5, 7, 10, 20, 50])
    if {"sms", "push"} & set(channels) and rng.random() < 0.5:
        zone = rng.choice(["Europe/Berlin", "Europe/London", "Europe/Vienna", "Europe/Zurich"])
        value["quiet_hours"] = {
            "start": rng.choice(["21:00", "22:00", "22:30"]),
            "end": "08:00",
            "timezone": zone,
        }
    if rng.random() < 0.1:
        value["paused_until"] = (today + timedelta(days=rng.randint(5, 45))).isoformat()
    return value


def _history(rng: random.Random, person: Person, rules: CatalogRules, now: datetime) -> History:
    """A short, plausible history: sign-up, maybe a confirmation, then perhaps a change of mind or two."""
    history = History(rules=rules)
    today = now.date()
    marketing = [slug for slug, topic in rules.topics.items() if not topic.required]

    # Sign-up: on the preference page, or brought over from the old CRM (which had proof of the address).
    imported = rng.random() < 0.15
    channels = ["email"] if rng.random() < 0.92 else []
    if person.phone and rng.random() < 0.45:
        channels.append("sms")
    if not imported and rng.random() < 0.4:
        channels.append("push")
    if rng.random() < 0.12:
        channels.append("postal")
    if person.phone and rng.random() < 0.06:
        channels.append("phone")
    choices = [(channel_purpose(code), State.GIVEN, None, None) for code in channels]
    if person.phone and "sms" not in channels and rng.random() < 0.3:
        choices.append(("channel:sms", State.REFUSED, None, None))
    if not imported and "push" not in channels and rng.random() < 0.2:
        choices.append(("channel:push", State.REFUSED, None, None))
    if rng.random() < 0.6:
        order_channels = [code for code in ("email", "sms", "push") if code in channels] or ["email"]
        choices.append((REQUIRED_TOPIC, State.GIVEN, {"channels": order_channels}, None))
    wanted = rng.sample(marketing, rng.choice([0, 1, 1, 2, 2, 3, 4]))
    for slug in wanted:
        value = _topic_value(rng, history, slug, channels)
        if value:
            choices.append((topic_purpose(slug), State.GIVEN, value, None))
    unwanted = [slug for slug in marketing if slug not in wanted]
    if unwanted and rng.random() < 0.3:
        choices.append((topic_purpose(rng.choice(unwanted)), State.REFUSED, None, None))
    if rng.random() < 0.65:
        choices.append(("frequency", State.GIVEN, _frequency_value(rng, channels, today), None))
    if not imported:
        roll = rng.random()
        if roll < 0.25:
            choices.append(("location", State.REFUSED, None, None))
        elif roll < 0.55:
            level = _weighted(rng, LEVELS)
            boxed = rng.random() < (0.6 if level == "precise" else 0.25)
            choices.append(
                ("location", State.GIVEN, {"level": level}, now + timedelta(days=30) if boxed else None)
            )
        roll = rng.random()
        if roll < 0.2:
            choices.append(("personalization", State.REFUSED, None, None))
        elif roll < 0.55:
            choices.append(("personalization", State.GIVEN, {"depth": _weighted(rng, DEPTHS)}, None))
    if not choices:  # even the most reticent answered where their order news should go
        choices.append((REQUIRED_TOPIC, State.GIVEN, {"channels": ["email"]}, None))
    if imported:
        history.add(Step(Source.IMPORT, IMPORT_ACTOR, choices, IMPORT_EVIDENCE, note=IMPORT_FILE))
    else:
        history.add(_web(rng, choices))

    # Double opt-in: most click the link in the confirmation email, some never do.
    if history.held.get("channel:email") == State.REQUESTED and rng.random() < 0.8:
        history.add(Step(Source.EMAIL_LINK, "customer", [("channel:email", State.GIVEN, None, None)]))

    # Later, on the preference page: pause for a holiday, add a topic, or take something back.
    if rng.random() < 0.35:
        later = []
        roll = rng.random()
        if roll < 0.3:
            value = _frequency_value(rng, channels, today)
            value["paused_until"] = (today + timedelta(days=rng.randint(7, 60))).isoformat()
            later.append(("frequency", State.GIVEN, value, None))
        elif roll < 0.6:
            fresh = [slug for slug in marketing if not history.given(topic_purpose(slug))]
            if fresh:
                slug = rng.choice(fresh)
                value = _topic_value(rng, history, slug, channels)
                if value:
                    later.append((topic_purpose(slug), State.GIVEN, value, None))
        else:
            taken_back = [p for p in ("location", "personalization") if history.given(p)]
            taken_back += [topic_purpose(slug) for slug in marketing if history.given(topic_purpose(slug))]
            if taken_back:
                later.append((rng.choice(taken_back), State.WITHDRAWN, None, None))
        history.add(_web(rng, later))

    # An SMS answered with STOP.
    if history.given("channel:sms") and rng.random() < 0.1:
        history.add(Step(Source.SMS_KEYWORD, "customer", [("channel:sms", State.WITHDRAWN, None, None)]))

    # The one-click unsubscribe link in the header of a marketing email: one topic, or all email.
    if history.given("channel:email") and rng.random() < 0.15:
        by_email = [p for p, codes in history.topic_channels.items() if "email" in codes and history.given(p)]
        by_email = [p for p in by_email if p != REQUIRED_TOPIC]
        purpose = rng.choice(by_email) if by_email and rng.random() < 0.7 else "channel:email"
        history.add(Step(Source.ONE_CLICK_UNSUBSCRIBE, "customer", [(purpose, State.WITHDRAWN, None, None)]))

    # A call to customer service, recorded by the agent.
    if rng.random() < 0.08:
        if rng.random() < 0.5:
            codes = {*history.topic_channels.get("topic:new-arrivals", []), "postal"}
            value = {"channels": [code for code in rules.channels if code in codes]}
            history.add(
                Step(
                    Source.SUPPORT_AGENT,
                    STAFF_ACTOR,
                    [
                        ("channel:postal", State.GIVEN, None, None),
                        ("topic:new-arrivals", State.GIVEN, value, None),
                    ],
                    evidence={"how_asked": "phone"},
                    note="Asked by phone for the printed catalogue.",
                )
            )
        else:
            history.add(
                Step(
                    Source.SUPPORT_AGENT,
                    STAFF_ACTOR,
                    [("frequency", State.GIVEN, {"digest": "monthly", "weekly_cap": 1}, None)],
                    evidence={"how_asked": "letter"},
                    note="Wrote in: fewer messages, please.",
                )
            )

    # A browser sending Global Privacy Control switches off what honours it.
    if rng.random() < 0.05:
        gpc = sorted(p for p in rules.gpc_purposes if history.given(p))
        history.add(Step(Source.GPC, "customer", [(p, State.WITHDRAWN, None, None) for p in gpc]))
    return history


def _ada(rules: CatalogRules, now: datetime) -> History:
    history = History(rules=rules)
    signup = Step(
        Source.WEB,
        "customer",
        [
            ("channel:email", State.GIVEN, None, None),
            ("channel:sms", State.GIVEN, None, None),
            ("channel:push", State.GIVEN, None, None),
            ("channel:phone", State.REFUSED, None, None),
            (REQUIRED_TOPIC, State.GIVEN, {"channels": ["email", "push"]}, None),
            ("topic:new-arrivals", State.GIVEN, {"channels": ["email", "push"], "frequency": "weekly"}, None),
            ("topic:back-in-stock", State.GIVEN, {"channels": ["sms", "push"]}, None),
            ("topic:local-events", State.GIVEN, {"channels": ["email"]}, None),
            ("topic:style-tips", State.GIVEN, {"channels": ["email"]}, None),
            ("topic:sales-and-offers", State.REFUSED, None, None),
            (
                "frequency",
                State.GIVEN,
                {
                    "digest": "weekly",
                    "weekly_cap": 5,
                    "quiet_hours": {"start": "21:00", "end": "08:00", "timezone": "Europe/London"},
                },
                None,
            ),
            ("location", State.GIVEN, {"level": "city"}, now + timedelta(days=30)),
            ("personalization", State.GIVEN, {"depth": "interests"}, None),
        ],
        ip_address="203.0.113.7",
        user_agent=WEB_AGENTS[0],
    )
    history.add(signup)
    history.add(Step(Source.EMAIL_LINK, "customer", [("channel:email", State.GIVEN, None, None)]))
    history.add(
        Step(
            Source.WEB,
            "customer",
            [("topic:product-reviews", State.GIVEN, {"channels": ["email"]}, None)],
            ip_address="203.0.113.7",
            user_agent=WEB_AGENTS[1],
        )
    )
    history.add(
        Step(Source.ONE_CLICK_UNSUBSCRIBE, "customer", [("topic:style-tips", State.WITHDRAWN, None, None)])
    )
    return history


def _jonas(rules: CatalogRules, now: datetime) -> History:
    history = History(rules=rules)
    history.add(
        Step(
            Source.IMPORT,
            IMPORT_ACTOR,
            [
                ("channel:email", State.GIVEN, None, None),
                ("channel:postal", State.GIVEN, None, None),
                (REQUIRED_TOPIC, State.GIVEN, {"channels": ["email"]}, None),
                ("topic:new-arrivals", State.GIVEN, {"channels": ["email", "postal"]}, None),
                ("topic:sales-and-offers", State.GIVEN, {"channels": ["email"]}, None),
                ("topic:loyalty-rewards", State.GIVEN, {"channels": ["email"]}, None),
            ],
            IMPORT_EVIDENCE,
            note=IMPORT_FILE,
        )
    )
    history.add(
        Step(
            Source.SUPPORT_AGENT,
            STAFF_ACTOR,
            [("frequency", State.GIVEN, {"digest": "monthly"}, None)],
            evidence={"how_asked": "phone"},
            note="Rief an: lieber seltener, einmal im Monat reicht.",
        )
    )
    history.add(
        Step(
            Source.WEB,
            "customer",
            [
                ("location", State.GIVEN, {"level": "region"}, None),
                ("personalization", State.REFUSED, None, None),
                ("topic:local-events", State.GIVEN, {"channels": ["email"]}, None),
            ],
            ip_address="203.0.113.42",
            user_agent=WEB_AGENTS[2],
        )
    )
    history.add(
        Step(
            Source.ONE_CLICK_UNSUBSCRIBE,
            "customer",
            [("topic:sales-and-offers", State.WITHDRAWN, None, None)],
        )
    )
    return history


def _plan(number: int, rng: random.Random, rules: CatalogRules, now: datetime) -> tuple[Person, History]:
    person = _person(number, rng)
    if number == 1:
        return person, _ada(rules, now)
    if number == 2:
        return person, _jonas(rules, now)
    return person, _history(rng, person, rules, now)


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


class Command(BaseCommand):
    help = (
        "Seed the demo: the Candor Outfitters catalog, published notices, and demo customers with a consent "
        "history. Safe to run again: it records nothing for customers who already have a history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers", type=int, default=300, help="How many demo customers (default 300)."
        )

    def handle(self, *args: Any, customers: int, **options: Any) -> None:
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
        seed_demo_catalog()
        published = 0
        for version in NoticeVersion.objects.filter(number=1, published_at__isnull=True).select_related(
            "notice"
        ):
            publish_notice_version(version=version)
            published += 1

        rules = catalog_rules()
        versions = {}
        for purpose in rules.purposes():
            current = rules.current_version(purpose)
            if current is None:
                raise CommandError(f"No published notice for {purpose}; cannot record choices for it.")
            versions[purpose] = current.id

        rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
        now = timezone.now()
        external_ids = [_external_id(number) for number in range(1, customers + 1)]
        existing = {c.external_id: c for c in Customer.objects.filter(external_id__in=external_ids)}
        with_history = set(
            ConsentEvent.objects.filter(customer__in=existing.values()).values_list("customer_id", flat=True)
        )
        created = histories = events = 0
        for number in range(1, customers + 1):
            # Draw person and history in the same order every time, whoever already exists: customer N is
            # always the same person with the same history, whatever --customers says.
            person, history = _plan(number, rng, rules, now)
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
                    created += 1
                events += _record(customer, history, versions)
                histories += bool(history.steps)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo seeded: catalog up to date, {published} notice version(s) published; "
                f"{created} customer(s) created, {customers - created} already there; "
                f"{events} consent event(s) recorded for {histories} customer(s)."
            )
        )
