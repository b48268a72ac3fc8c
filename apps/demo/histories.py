"""The demo's customers and their planned histories: who they are and what they answered, step by step.

Customer 1 (Ada) and 2 (Jonas) are written out in ``data/customers.json``; every other one is drawn from one
``random.Random``, always in the same order, so demo-0042 is always the same person with the same history (only
the timestamps differ). Each planned step becomes one call of the write path (``seeding.record_history``).
"""

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from apps.catalog.purposes import Purpose, channel_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules
from apps.consent.rules import Source, State

PEOPLE = Path(__file__).resolve().parent / "data" / "customers.json"
ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


@cache
def demo_people() -> dict:
    return json.loads(PEOPLE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Person:
    external_id: str
    email: str
    phone: str
    name: str
    locale: str


# purpose, state, value, expires_at
StepChoice = tuple[str, str, dict[str, Any] | None, datetime | None]


@dataclass
class Step:
    """One call of the write path: what one customer answered at one moment, through one door."""

    source: str
    actor: str
    choices: list[StepChoice]
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
            if Purpose.parse(purpose).is_topic and state == State.GIVEN and value:
                self.topic_channels[purpose] = value["channels"]

    def given(self, purpose: str) -> bool:
        return self.held.get(purpose) == State.GIVEN


def external_id(number: int) -> str:
    return f"demo-{number:04d}"


def plan(number: int, rng: random.Random, rules: CatalogRules, now: datetime) -> tuple[Person, History]:
    """Customer ``number`` and their history. Draws from ``rng`` for every number, written out or not."""
    person = _person(number, rng)
    written = demo_people()["people"]
    if number <= len(written):
        return person, _written_history(written[number - 1]["steps"], rules, now)
    return person, _drawn_history(rng, person, rules, now)


def _person(number: int, rng: random.Random) -> Person:
    written = demo_people()["people"]
    if number <= len(written):
        return Person(external_id(number), **written[number - 1]["person"])
    locale = "de" if rng.random() < 0.4 else "en"
    names = demo_people()["names"][locale]
    first, last = rng.choice(names["first"]), rng.choice(names["last"])
    email = f"{first}.{last}{number}@example.com".translate(ASCII).lower()
    phone = ""
    if rng.random() < 0.7:
        if locale == "de":
            phone = f"+49{rng.choice(['151', '160', '170', '176'])}{rng.randint(1000000, 99999999)}"
        else:
            phone = f"+447700900{rng.randint(0, 999):03d}"  # Ofcom's range for fiction
    return Person(external_id(number), email, phone, f"{first} {last}", locale)


def _written_history(steps: list[dict], rules: CatalogRules, now: datetime) -> History:
    history = History(rules=rules)
    agents = demo_people()["web_agents"]
    for step in steps:
        history.add(
            Step(
                source=step["source"],
                actor=step["actor"],
                choices=[
                    (
                        choice["purpose"],
                        choice["state"],
                        choice.get("value"),
                        now + timedelta(days=choice["expires_in_days"])
                        if "expires_in_days" in choice
                        else None,
                    )
                    for choice in step["choices"]
                ],
                evidence=step.get("evidence"),
                note=step.get("note"),
                ip_address=step.get("ip_address"),
                user_agent=agents[step["web_agent"]] if "web_agent" in step else None,
            )
        )
    return history


def _drawn_history(rng: random.Random, person: Person, rules: CatalogRules, now: datetime) -> History:
    """A short, plausible history: sign-up, maybe a confirmation, then perhaps a change of mind or two."""
    history = History(rules=rules)
    marketing = [slug for slug, topic in rules.topics.items() if not topic.required]
    channels = _sign_up(rng, history, person, marketing, now)
    # Double opt-in: most click the link in the confirmation email, some never do.
    if history.held.get("channel:email") == State.REQUESTED and rng.random() < 0.8:
        history.add(Step(Source.EMAIL_LINK, "customer", [("channel:email", State.GIVEN, None, None)]))
    if rng.random() < 0.35:
        history.add(_web(rng, _later_change(rng, history, channels, marketing, now.date())))
    # An SMS answered with STOP.
    if history.given("channel:sms") and rng.random() < 0.1:
        history.add(Step(Source.SMS_KEYWORD, "customer", [("channel:sms", State.WITHDRAWN, None, None)]))
    if history.given("channel:email") and rng.random() < 0.15:
        history.add(_one_click_unsubscribe(rng, history))
    if rng.random() < 0.08:
        history.add(_support_call(rng, history))
    # A browser sending Global Privacy Control switches off what honours it.
    if rng.random() < 0.05:
        gpc = sorted(p for p in rules.gpc_purposes if history.given(p))
        history.add(Step(Source.GPC, "customer", [(p, State.WITHDRAWN, None, None) for p in gpc]))
    return history


def _sign_up(
    rng: random.Random, history: History, person: Person, marketing: list[str], now: datetime
) -> list[str]:
    """On the preference page, or brought over from the old CRM (which had proof of the address); returns the
    channels given."""
    people = demo_people()
    required_topic = people["required_topic"]
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
    choices: list[StepChoice] = [(channel_purpose(code), State.GIVEN, None, None) for code in channels]
    if person.phone and "sms" not in channels and rng.random() < 0.3:
        choices.append(("channel:sms", State.REFUSED, None, None))
    if not imported and "push" not in channels and rng.random() < 0.2:
        choices.append(("channel:push", State.REFUSED, None, None))
    if rng.random() < 0.6:
        order_channels = [code for code in ("email", "sms", "push") if code in channels] or ["email"]
        choices.append((required_topic, State.GIVEN, {"channels": order_channels}, None))
    wanted = rng.sample(marketing, rng.choice([0, 1, 1, 2, 2, 3, 4]))
    for slug in wanted:
        value = _topic_value(rng, history, slug, channels)
        if value:
            choices.append((topic_purpose(slug), State.GIVEN, value, None))
    unwanted = [slug for slug in marketing if slug not in wanted]
    if unwanted and rng.random() < 0.3:
        choices.append((topic_purpose(rng.choice(unwanted)), State.REFUSED, None, None))
    if rng.random() < 0.65:
        choices.append(("frequency", State.GIVEN, _frequency_value(rng, channels, now.date()), None))
    if not imported:
        choices += _location_and_personalization(rng, now)
    if not choices:  # even the most reticent answered where their order news should go
        choices.append((required_topic, State.GIVEN, {"channels": ["email"]}, None))
    if imported:
        source = people["import"]
        history.add(Step(Source.IMPORT, source["actor"], choices, source["evidence"], note=source["note"]))
    else:
        history.add(_web(rng, choices))
    return channels


def _location_and_personalization(rng: random.Random, now: datetime) -> list:
    choices: list[StepChoice] = []
    roll = rng.random()
    if roll < 0.25:
        choices.append(("location", State.REFUSED, None, None))
    elif roll < 0.55:
        level = _weighted(rng, "level")
        boxed = rng.random() < (0.6 if level == "precise" else 0.25)
        choices.append(
            ("location", State.GIVEN, {"level": level}, now + timedelta(days=30) if boxed else None)
        )
    roll = rng.random()
    if roll < 0.2:
        choices.append(("personalization", State.REFUSED, None, None))
    elif roll < 0.55:
        choices.append(("personalization", State.GIVEN, {"depth": _weighted(rng, "depth")}, None))
    return choices


def _later_change(
    rng: random.Random, history: History, channels: list[str], marketing: list[str], today: date
):
    """Later, on the preference page: pause for a holiday, add a topic, or take something back."""
    roll = rng.random()
    if roll < 0.3:
        value = _frequency_value(rng, channels, today)
        value["paused_until"] = (today + timedelta(days=rng.randint(7, 60))).isoformat()
        return [("frequency", State.GIVEN, value, None)]
    if roll < 0.6:
        fresh = [slug for slug in marketing if not history.given(topic_purpose(slug))]
        if fresh:
            slug = rng.choice(fresh)
            topic_value = _topic_value(rng, history, slug, channels)
            if topic_value:
                return [(topic_purpose(slug), State.GIVEN, topic_value, None)]
        return []
    taken_back = [p for p in ("location", "personalization") if history.given(p)]
    taken_back += [topic_purpose(slug) for slug in marketing if history.given(topic_purpose(slug))]
    return [(rng.choice(taken_back), State.WITHDRAWN, None, None)] if taken_back else []


def _one_click_unsubscribe(rng: random.Random, history: History) -> Step:
    """The one-click unsubscribe link in the header of a marketing email: one topic, or all email."""
    by_email = [p for p, codes in history.topic_channels.items() if "email" in codes and history.given(p)]
    by_email = [p for p in by_email if p != demo_people()["required_topic"]]
    purpose = rng.choice(by_email) if by_email and rng.random() < 0.7 else "channel:email"
    return Step(Source.ONE_CLICK_UNSUBSCRIBE, "customer", [(purpose, State.WITHDRAWN, None, None)])


def _support_call(rng: random.Random, history: History) -> Step:
    """A call to customer service, recorded by the agent."""
    actor = demo_people()["staff_actor"]
    if rng.random() < 0.5:
        codes = {*history.topic_channels.get("topic:new-arrivals", []), "postal"}
        value = {"channels": [code for code in history.rules.channels if code in codes]}
        return Step(
            Source.SUPPORT_AGENT,
            actor,
            [("channel:postal", State.GIVEN, None, None), ("topic:new-arrivals", State.GIVEN, value, None)],
            evidence={"how_asked": "phone"},
            note="Asked by phone for the printed catalogue.",
        )
    return Step(
        Source.SUPPORT_AGENT,
        actor,
        [("frequency", State.GIVEN, {"digest": "monthly", "weekly_cap": 1}, None)],
        evidence={"how_asked": "letter"},
        note="Wrote in: fewer messages, please.",
    )


def _weighted(rng: random.Random, kind: str) -> str:
    codes, weights = zip(*demo_people()["weights"][kind], strict=True)
    return rng.choices(codes, weights=weights)[0]


def _web(rng: random.Random, choices) -> Step:
    return Step(
        source=Source.WEB,
        actor="customer",
        choices=choices,
        ip_address=f"203.0.113.{rng.randint(1, 254)}",
        user_agent=rng.choice(demo_people()["web_agents"]),
    )


def _topic_value(rng: random.Random, history: History, slug: str, channels: list[str]) -> dict | None:
    """A value for giving ``slug``: some of the channels it may use that the customer also chose."""
    allowed = sorted(history.rules.topics[slug].channels & set(channels), key=history.rules.channels.index)
    if not allowed:
        return None
    picked = set(rng.sample(allowed, rng.randint(1, len(allowed))))
    value: dict[str, Any] = {"channels": [code for code in allowed if code in picked]}
    if rng.random() < 0.2:
        value["frequency"] = _weighted(rng, "digest")
    return value


def _frequency_value(rng: random.Random, channels: list[str], today: date) -> dict:
    value: dict[str, Any] = {"digest": _weighted(rng, "digest")}
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
