"""Pure rules of the consent core: what a valid choice is, how an event changes the snapshot, and which
permissions follow from a snapshot. No queries here, so the write path, ``rebuild_snapshots`` and the
point-in-time answer all apply exactly the same rules.
"""

import math
import re
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError

from apps.catalog.purposes import Purpose, channel_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules, PublishedVersion, QuestionRule

from .documents import ChannelPermission, IsoDateTime, PermissionBody, ProfileReferences, QuietHours
from .entries import Choices, Held, SnapshotEntry, entries, entry_json
from .models import ConsentEvent

State = ConsentEvent.State
Source = ConsentEvent.Source

STATES = frozenset(State.values)  # once: ``State.values`` builds a new list at each reading
CUSTOMER_STATES = frozenset({State.REQUESTED, State.GIVEN, State.REFUSED, State.WITHDRAWN})
SYSTEM_STATES = frozenset({State.EXPIRED, State.INVALIDATED})
# Sources that prove the customer controls the address, so email consent counts without a further confirmation.
ADDRESS_PROOF_SOURCES = frozenset({Source.EMAIL_LINK, Source.IMPORT})
# Sources through which a provider reports a customer's own choice back (an unsubscribe, a STOP, a complaint).
INBOUND_SOURCES = frozenset(
    {Source.TWILIO, Source.SENDGRID, Source.POSTMARK, Source.MAILCHIMP, Source.BRAZE, Source.INBOUND_WEBHOOK}
)
# Sources that prove the customer holds the phone number: a text from it, or the source system's own proof.
NUMBER_PROOF_SOURCES = INBOUND_SOURCES | {Source.IMPORT, Source.SYSTEM}
ACTOR_PATTERN = re.compile(r"^(customer|system|staff:\S+|api:\S+|import:\S+|inbound:\S+)$")
SMS = channel_purpose("sms")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_WEEKLY_CAP = 50
# The one field of a location or personalization consent's value: the option chosen from the purpose's set.
OPTION_KEYS: dict[str, str] = {"location": "level", "personalization": "depth"}


@dataclass(frozen=True)
class Choice:
    """One answer to one purpose, as the customer (or whoever acts for them) gave it."""

    purpose: str
    state: str
    notice_version_id: int | None  # None when the purpose has no published version: validation refuses it
    value: dict[str, Any] | None = None
    expires_at: datetime | None = None


def validate_choices(choices: list[Choice], rules: CatalogRules, now: datetime, source: str) -> None:
    """Raise one ``ValidationError`` naming every bad choice by its purpose; return quietly if all are good."""
    errors: dict[str, list[str]] = {}
    seen = set()
    for choice in choices:
        problems = _choice_problems(choice, rules, now)
        if choice.state in SYSTEM_STATES and source != Source.SYSTEM:
            problems.append(f"Only the system records {choice.state}; a {source} change cannot.")
        if choice.purpose in seen:
            problems.append("The same purpose appears twice in one change.")
        seen.add(choice.purpose)
        if problems:
            errors.setdefault(choice.purpose or "purpose", []).extend(problems)
    if errors:
        raise ValidationError(errors)


def _choice_problems(choice: Choice, rules: CatalogRules, now: datetime) -> list[str]:
    purpose = choice.purpose
    if not rules.knows(purpose):
        return [f"Unknown purpose {purpose!r}."]
    if purpose not in rules.noticed_purposes:
        return [f"Purpose {purpose!r} has no notice, so it cannot be asked."]
    if choice.state not in STATES:
        return [f"Unknown state {choice.state!r}; use one of {', '.join(sorted(CUSTOMER_STATES))}."]
    problems = []
    parsed = Purpose.parse(purpose)
    version = rules.version(choice.notice_version_id)
    if version is None or version.purpose != purpose:
        problems.append(
            f"Notice version {choice.notice_version_id!r} is not a published version for {purpose}."
        )
    if choice.expires_at is not None:
        if choice.state != State.GIVEN:
            problems.append("Only a given consent can be time-boxed.")
        elif choice.expires_at <= now:
            problems.append("The end of a time-boxed consent must be in the future.")
    if rules.is_required_topic(parsed) and choice.state in (State.REFUSED, State.WITHDRAWN):
        problems.append("This topic is required (e.g. order updates) and cannot be switched off.")
    problems.extend(_value_problems(choice, parsed, rules))
    return problems


def _value_problems(choice: Choice, parsed: Purpose, rules: CatalogRules) -> list[str]:
    value, purpose = choice.value, choice.purpose
    if choice.state != State.GIVEN or parsed.is_channel:
        return [] if value in (None, {}) else [f"{purpose} {choice.state} takes no value."]
    if not isinstance(value, dict):
        return [f"{purpose} needs a value object."]
    topic = rules.topic_rule(parsed)
    if topic is not None:
        return _topic_value_problems(value, topic.channels, rules)
    if parsed.question_code is not None:
        return answer_problems(value, rules.questions[parsed.question_code], choice.notice_version_id)
    if purpose == "frequency":
        return _frequency_value_problems(value, rules)
    key = OPTION_KEYS[purpose]
    problems = _unknown_keys(value, {key})
    if value.get(key) not in rules.options.get(purpose, ()):
        problems.append(f"{key} must be one of {', '.join(rules.options.get(purpose, ()))}.")
    elif purpose == "location" and value[key] == "off":
        problems.append("Giving location consent needs a level other than off; refuse or withdraw instead.")
    return problems


def _topic_value_problems(value: dict[str, Any], allowed: frozenset[str], rules: CatalogRules) -> list[str]:
    problems = _unknown_keys(value, {"channels", "frequency"})
    channels = value.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        problems.append("channels must be a non-empty list of channel codes.")
    else:
        not_allowed = sorted(set(channels) - allowed)
        if not_allowed:
            problems.append(
                f"This topic may not use {', '.join(not_allowed)}; it may use {', '.join(sorted(allowed))}."
            )
        if len(set(channels)) != len(channels):
            problems.append("channels lists a channel twice.")
    frequency = value.get("frequency")
    if frequency is not None and frequency not in rules.options.get("frequency", ()):
        problems.append(f"frequency must be one of {', '.join(rules.options.get('frequency', ()))}.")
    return problems


def answer_problems(
    value: dict[str, Any], question: QuestionRule, notice_version_id: int | None
) -> list[str]:
    """A profile answer as a caller gives it: ``{"answer": [option codes]}`` from the version it answers."""
    problems = _unknown_keys(value, {"answer"})
    offered = question.options.get(notice_version_id, ()) if notice_version_id is not None else ()
    answer = value.get("answer")
    if not isinstance(answer, list) or not answer or not all(isinstance(code, str) for code in answer):
        return [*problems, "answer must be a non-empty list of option codes; to take it back, withdraw."]
    unknown = sorted(set(answer) - set(offered))
    if unknown:
        problems.append(
            f"Not an option of this question: {', '.join(unknown)}; it offers {', '.join(offered)}."
        )
    if len(set(answer)) != len(answer):
        problems.append("answer lists an option twice.")
    if not question.many and len(answer) > 1:
        problems.append("This question takes one answer.")
    return problems


def _frequency_value_problems(value: dict[str, Any], rules: CatalogRules) -> list[str]:
    problems = _unknown_keys(value, {"digest", "weekly_cap", "paused_until", "quiet_hours"})
    if value.get("digest") not in rules.options.get("frequency", ()):
        problems.append(f"digest must be one of {', '.join(rules.options.get('frequency', ()))}.")
    cap = value.get("weekly_cap")
    if cap is not None and (
        not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_WEEKLY_CAP
    ):
        problems.append(f"weekly_cap must be a whole number from 1 to {MAX_WEEKLY_CAP}, or null.")
    paused_until = value.get("paused_until")
    if paused_until is not None:
        try:
            date.fromisoformat(paused_until)
        except (TypeError, ValueError):
            problems.append("paused_until must be a date (YYYY-MM-DD) or null.")
    quiet = value.get("quiet_hours")
    if quiet is not None:
        if not isinstance(quiet, dict) or _unknown_keys(quiet, {"start", "end", "timezone"}):
            problems.append("quiet_hours must be an object with start, end and timezone.")
        else:
            for key in ("start", "end"):
                if not isinstance(quiet.get(key), str) or not TIME_PATTERN.match(quiet[key]):
                    problems.append(f"quiet_hours.{key} must be a time HH:MM.")
            if quiet.get("timezone") not in zoneinfo.available_timezones():
                problems.append("quiet_hours.timezone must be an IANA time zone such as Europe/Berlin.")
    return problems


def _unknown_keys(value: dict[str, Any], known: set[str]) -> list[str]:
    unknown = sorted(set(value) - known)
    return [f"Unknown field(s): {', '.join(unknown)}."] if unknown else []


@dataclass(frozen=True)
class Provenance:
    """Where a change comes from, for the ledger: the door it came through (``source``), who acted (``actor``:
    customer, system, staff:<id>, api:<client>, import:<batch> or inbound:<source>), what showed it was the
    customer's choice (``evidence``: known keys only, ``apps.consent.evidence``) and, if the customer made it
    elsewhere before now (at checkout, in an old system), when (``captured_at``)."""

    source: str
    actor: str
    evidence: dict[str, Any] | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class Confirmation:
    """Proof that the customer already confirmed the address elsewhere (the source system's double opt-in)."""

    confirmed_at: datetime
    ip_address: str | None = None


def captured_time_problems(at: datetime | None, now: datetime, floor: datetime, what: str) -> list[str]:
    """A time the customer acted elsewhere: with a time zone, not in the future, not before the configured floor."""
    if at is None:
        return []
    if at.tzinfo is None:
        return [f"{what} needs a time zone offset."]
    if at > now:
        return [f"{what} is in the future."]
    if at < floor:
        return [f"{what} is before {floor.isoformat()}, the earliest time this installation accepts."]
    return []


def effective_state(
    choice: Choice, current: SnapshotEntry | None, rules: CatalogRules, source: str, confirmed: bool = False
) -> str:
    """The state to record: a first ``given`` on a double opt-in channel waits for confirmation, unless the
    source proves the address or the change carries proof of a confirmation already made elsewhere."""
    needs_confirmation = (
        choice.state == State.GIVEN
        and rules.needs_double_opt_in(Purpose.parse(choice.purpose))
        and source not in ADDRESS_PROOF_SOURCES
        and not confirmed
        and not (current and current.is_given)
    )
    return State.REQUESTED if needs_confirmation else choice.state


def unverified_number_problems(
    choices: list[Choice], source: str, number_verified: bool
) -> dict[str, list[str]]:
    """Texts only after the number is verified, from any door (beside email's double opt-in): SMS consent is
    given only for a number the customer proved with a code on their page, unless the source proves it."""
    if number_verified or source in NUMBER_PROOF_SOURCES:
        return {}
    if any(choice.purpose == SMS and choice.state == State.GIVEN for choice in choices):
        return {
            SMS: [
                "Texts need a verified number: the customer confirms it on their preference page with the code "
                "we text them."
            ]
        }
    return {}


def system_change_applies(
    choice: Choice, current: SnapshotEntry | None, rules: CatalogRules, now: datetime
) -> bool:
    """Whether an expiry or invalidation still holds under the lock (the customer may have answered anew)."""
    if current is None:
        return choice.state not in SYSTEM_STATES
    if choice.state == State.EXPIRED:
        expiry = current.expiry
        return current.is_given and expiry is not None and expiry <= now
    if choice.state == State.INVALIDATED:
        shown, new = rules.published.get(current.notice_version), rules.version(choice.notice_version_id)
        return bool(shown and new and current.holds and shown.number < new.number)
    return True


def takes_effect(event: ConsentEvent, current: SnapshotEntry | None, rules: CatalogRules) -> bool:
    """Whether the event changes its purpose's current choice, or is kept as history only.

    An event never overrides a later choice for the same purpose: one that took effect (was captured) before the
    current choice is history. Unsubscribes stay put: consent given or asked for where the customer had
    withdrawn or refused counts only if strictly newer and under a notice version no material change had
    superseded when it was recorded. Judged from the ledger and the catalog's publication history alone, so a
    replay decides exactly as the write path did.
    """
    if current is None:
        return True
    at, current_at = event.effective_at, current.effective_at
    if at < current_at:
        return False
    if event.state in (State.GIVEN, State.REQUESTED) and current.is_off:
        version = rules.published.get(event.notice_version_id)
        # A tie goes to the customer's earlier withdrawal, unless the event was recorded live (no captured
        # time): then sequence order is the order the customer acted in.
        newer = at > current_at or event.captured_at is None
        return (
            newer
            and version is not None
            and version.number >= rules.material_floor(event.purpose, event.recorded_at)
        )
    return True


def apply_event(choices: Choices, event: ConsentEvent, rules: CatalogRules) -> bool:
    """Fold one ledger event into the snapshot's choices (in place); returns whether it took effect."""
    if not takes_effect(event, SnapshotEntry.of(choices, event.purpose), rules):
        return False
    choices[event.purpose] = entry_json(event)
    return True


def next_expiry(choices: Choices) -> datetime | None:
    ends = [entry.expiry for entry in entries(choices).values() if entry.is_given and entry.expiry]
    return min((end for end in ends if end is not None), default=None)


def is_in_force(entry: SnapshotEntry | None, purpose: str, rules: CatalogRules, at: datetime) -> bool:
    """Given, not yet expired, and given under a notice version no material change has superseded."""
    if entry is None or not entry.is_given:
        return False
    expiry = entry.expiry
    if expiry is not None and expiry <= at:
        return False
    version = rules.published.get(entry.notice_version)
    return version is not None and version.number >= rules.material_floor(purpose, at)


def derive_permissions(
    choices: Choices,
    rules: CatalogRules,
    at: datetime,
    email_undeliverable_at: datetime | None = None,
    inferences_revision: int = 0,
) -> PermissionBody:
    """The permission document body: per channel what may be sent, plus location and personalization.

    An address that bounced or was cleaned adds ``undeliverable_since`` to email: a deliverability flag, not
    a consent (the key is there only while the flag is, so other documents keep their exact shape). So does
    ``profile`` (``profile_section``), only for a customer who shared an answer or has inferences reported.
    """
    held = entries(choices)
    in_force = _in_force(held, rules, at)
    location = in_force.get("location")
    personalization = in_force.get("personalization")
    channels = {code: _channel_entry(held, in_force, rules, code, rules.topics) for code in rules.channels}
    if email_undeliverable_at is not None and "email" in channels:
        # In UTC, as the database hands it back: a rebuild must write the same bytes.
        channels["email"]["undeliverable_since"] = IsoDateTime(
            email_undeliverable_at.astimezone(UTC).isoformat()
        )
    body: PermissionBody = {
        "channels": channels,
        "location": {
            "level": location.value_of("level") if location else "off",
            "until": IsoDateTime(location.expires_at) if location and location.expires_at else None,
        },
        "personalization": (
            personalization.value_of("depth") if personalization else rules.defaults.get("personalization")
        ),
    }
    profile = profile_section(in_force, inferences_revision)
    if profile is not None:
        body["profile"] = profile
    return body


def profile_section(in_force: Held, inferences_revision: int) -> ProfileReferences | None:
    """The document's ``profile``: references, never the data. Per question, the ledger event that shares the
    current answer (among the entries ``in_force``), and how many times the reported inferences changed, so
    that any change makes a new version. Each destination configured with ``profile`` gets the answers and
    inferences themselves, as far as the depth allows, when the version is sent
    (``apps.delivery.services.profile_part``)."""
    answers: dict[str, int] = {}
    for purpose in sorted(in_force):
        code = Purpose.parse(purpose).question_code
        if code is not None:
            answers[code] = in_force[purpose].event
    if not answers and not inferences_revision:
        return None
    return {"answers": answers, "inferences_revision": inferences_revision}


def profile_depth(depth: str | None, rules: CatalogRules) -> tuple[bool, bool]:
    """What a personalization depth lets destinations use: (answers, inferences). The least depth ("none")
    neither, the next ("what I tell you") the customer's answers, any deeper ("what I do") inferences too."""
    depths = rules.options.get("personalization", ())
    rank = depths.index(depth) if depth in depths else 0
    return rank >= 1, rank >= 2


def _in_force(held: Held, rules: CatalogRules, at: datetime) -> dict[str, SnapshotEntry]:
    """The entries in force at ``at``, each judged once for the whole document or decision."""
    return {purpose: entry for purpose, entry in held.items() if is_in_force(entry, purpose, rules, at)}


def _channel_entry(
    held: Held, in_force: Held, rules: CatalogRules, code: str, slugs: Collection[str]
) -> ChannelPermission:
    """The channel's entry with its topic lists taken over ``slugs`` only: all topics for the document, the
    one topic asked about for ``decide`` (so a decision checks three purposes, not every topic). ``in_force``:
    the entries of ``held`` in force at the document's or the decision's time."""
    frequency_entry = in_force.get("frequency")
    frequency = (frequency_entry.value if frequency_entry else None) or {}
    allowed = channel_purpose(code) in in_force
    topics, topic_frequency = [], {}
    for slug in slugs:
        topic = rules.topics[slug]
        chosen = in_force.get(topic_purpose(slug)) if allowed and not topic.required else None
        if chosen and code in chosen.channels:
            topics.append(slug)
            if chosen.value_of("frequency"):
                topic_frequency[slug] = chosen.value_of("frequency")
    return {
        "allowed": allowed,
        "topics": topics,
        "required_topics": [
            slug
            for slug in slugs
            if rules.topics[slug].required
            and code in rules.topics[slug].channels
            and _carries_required_topic(held, slug, code)
        ],
        "frequency": frequency.get("digest") or rules.defaults.get("frequency"),
        "topic_frequency": topic_frequency,
        "weekly_cap": frequency.get("weekly_cap"),
        "paused_until": frequency.get("paused_until"),
        "quiet_hours": frequency.get("quiet_hours") if code in rules.quiet_hours_channels else None,
    }


def _carries_required_topic(held: Held, slug: str, channel: str) -> bool:
    """A required topic cannot be switched off, but the customer may pick which of its channels carry it."""
    chosen = held.get(topic_purpose(slug))
    if chosen is None or not chosen.is_given:
        return True
    return channel in chosen.channels


def derived_from(choices: Choices) -> list[int]:
    return sorted(entry.event for entry in entries(choices).values())


# --- decisions: may a sender send this one message now? -------------------------------------------------------

REAL_TIME = "real_time"
UTC = zoneinfo.ZoneInfo("UTC")


class Reason(StrEnum):
    """Why a decision came out as it did. The first two allow; every other one denies."""

    GIVEN = "given"
    REQUIRED = "required"
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    REQUESTED_UNCONFIRMED = "requested_unconfirmed"
    PAUSED_UNTIL = "paused_until"
    QUIET_HOURS_UNTIL = "quiet_hours_until"
    DIGEST_ONLY = "digest_only"
    WEEKLY_CAP_REACHED = "weekly_cap_reached"
    UNDELIVERABLE = "undeliverable"
    ERASED = "erased"
    UNKNOWN = "unknown"


class Step(NamedTuple):
    """One rule the decision checked: which, on which purpose's ledger entry it rests, and how it came out.

    A named tuple, not a dataclass: a batch of 10,000 decisions makes 70,000 of them."""

    rule: str
    purpose: str | None
    passed: bool
    reason: Reason | None = None
    until: datetime | None = None


class Decision(NamedTuple):
    """A named tuple, not a dataclass, as ``Step``: a batch makes 10,000."""

    allow: bool
    reason: Reason
    until: datetime | None = None
    steps: tuple[Step, ...] = ()


def denied(reason: Reason) -> Decision:
    """A decision made before any rule: the customer is unknown or erased."""
    return Decision(allow=False, reason=reason)


def customer_timezone(choices: Choices) -> zoneinfo.ZoneInfo:
    """The customer's time zone: the one they gave with their quiet hours, else UTC (as the page reckons)."""
    return _timezone(SnapshotEntry.of(choices, "frequency"))


def _timezone(frequency: SnapshotEntry | None) -> zoneinfo.ZoneInfo:
    quiet = (frequency.value_of("quiet_hours") if frequency else None) or {}
    return zoneinfo.ZoneInfo(quiet["timezone"]) if quiet.get("timezone") else UTC


def week_start(at: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """Monday 00:00 of the customer's week holding ``at``: the weekly cap counts messages from here."""
    local = at.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return _wall_clock_reaches(datetime.combine(monday, time()), tz)


def deciding_purposes(channel: str, topic: str) -> tuple[str, str, str]:
    """The snapshot entries a decision about one message rests on, and all it reads: the channel's, the
    topic's and frequency's (a batch of decisions reads no others from the database)."""
    return channel_purpose(channel), topic_purpose(topic), "frequency"


def decide(
    choices: Choices,
    rules: CatalogRules,
    *,
    channel: str,
    topic: str,
    at: datetime,
    sent_this_week: int = 0,
    reachable: bool = True,
    digest: bool = False,
) -> Decision:
    """Whether one message on ``channel`` about ``topic`` may be sent at ``at``, and why.

    Reads the permission document's entry for the channel as ``derive_permissions`` makes it at ``at`` (so an
    expired time-boxed consent is already off, whether or not the expiry task has run), then applies what the
    document says about time: the pause, quiet hours (wall clock in the customer's time zone), the digest
    frequency and the weekly cap (``sent_this_week``: marketing messages since ``week_start``). ``reachable``:
    Candor has an address for the channel. The first rule that fails gives the reason.
    """
    # The document's entry for the channel, narrowed to this topic by the very function that builds it.
    purposes = deciding_purposes(channel, topic)
    channel_key, topic_key, _ = purposes
    # Only the three entries a decision rests on are read.
    held: dict[str, SnapshotEntry] = {}
    for key in purposes:
        if raw := choices.get(key):
            held[key] = SnapshotEntry.from_json(raw)
    permissions = _channel_entry(held, _in_force(held, rules, at), rules, channel, (topic,))
    if rules.topics[topic].required:
        carried = topic in permissions["required_topics"]
        steps = [Step("required_topic", topic_key, carried, None if carried else Reason.NO_CONSENT)]
        steps.append(Step("address", None, reachable, None if reachable else Reason.UNDELIVERABLE))
        return _decision(steps, Reason.REQUIRED)
    steps = [
        _consent_step("channel", held.get(channel_key), channel_key, permissions["allowed"]),
        _consent_step("topic", held.get(topic_key), topic_key, topic in permissions["topics"]),
        Step("address", None, reachable, None if reachable else Reason.UNDELIVERABLE),
    ]
    paused_until = permissions["paused_until"]
    pause_ends = (
        _wall_clock_reaches(
            datetime.combine(date.fromisoformat(paused_until) + timedelta(days=1), time()),
            _timezone(held.get("frequency")),
        )
        if paused_until
        else None
    )
    paused = pause_ends is not None and at < pause_ends
    steps.append(
        Step(
            "pause",
            "frequency",
            not paused,
            Reason.PAUSED_UNTIL if paused else None,
            pause_ends if paused else None,
        )
    )
    quiet_until = quiet_hours_end(permissions["quiet_hours"], at)
    steps.append(
        Step(
            "quiet_hours",
            "frequency",
            quiet_until is None,
            None if quiet_until is None else Reason.QUIET_HOURS_UNTIL,
            quiet_until,
        )
    )
    frequency = permissions["topic_frequency"].get(topic) or permissions["frequency"]
    real_time = digest or frequency == REAL_TIME
    steps.append(
        Step(
            "frequency",
            topic_key if topic in permissions["topic_frequency"] else "frequency",
            real_time,
            None if real_time else Reason.DIGEST_ONLY,
        )
    )
    cap = permissions["weekly_cap"]
    capped = cap is not None and sent_this_week >= cap
    steps.append(
        Step(
            "weekly_cap",
            "frequency",
            not capped,
            Reason.WEEKLY_CAP_REACHED if capped else None,
            week_start(at, _timezone(held.get("frequency"))) + timedelta(days=7) if capped else None,
        )
    )
    return _decision(steps, Reason.GIVEN)


def _decision(steps: list[Step], allowed_reason: Reason) -> Decision:
    failed = next((step for step in steps if not step.passed), None)
    if failed is None:
        return Decision(allow=True, reason=allowed_reason, steps=tuple(steps))
    # The first rule that fails gives the reason, and (if it ends by itself) when it ends.
    return Decision(
        allow=False, reason=failed.reason or Reason.UNKNOWN, until=failed.until, steps=tuple(steps)
    )


def _consent_step(rule: str, entry: SnapshotEntry | None, purpose: str, passed: bool) -> Step:
    if passed:
        return Step(rule, purpose, True)
    state = entry.state if entry else None
    if state == State.REQUESTED:
        reason = Reason.REQUESTED_UNCONFIRMED
    elif state in (State.WITHDRAWN, State.REFUSED):
        reason = Reason.WITHDRAWN
    else:
        # Never asked, expired, invalidated by a changed notice, or given for other channels than this one.
        reason = Reason.NO_CONSENT
    return Step(rule, purpose, False, reason)


def quiet_hours_end(quiet: QuietHours | None, at: datetime) -> datetime | None:
    """If ``at`` falls in the quiet hours (by the wall clock where the customer lives), the instant they end:
    the first instant after ``at`` at which that clock reads a time outside them.

    Quiet hours are wall-clock times, so the night the clocks change can end them early: when the clocks jump
    forward over their end, or back to a time before their start (in the repeated hour of a fall-back), they
    end at the jump.
    """
    if not quiet:
        return None
    return _quiet_hours_end(quiet["start"], quiet["end"], quiet["timezone"], at.astimezone(UTC))


# Remembered: the answer depends on the quiet hours and the instant alone, a batch of decisions asks at one
# instant, and customers share a few quiet hours and zones, so each is worked out once a batch, not per customer.
@lru_cache(maxsize=1024)
def _quiet_hours_end(start_text: str, end_text: str, timezone: str, at: datetime) -> datetime | None:
    tz = zoneinfo.ZoneInfo(timezone)
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    if not _in_quiet_hours(at.astimezone(tz).time(), start, end):
        return None
    instant = at
    # Under one UTC offset the clock runs evenly and leaves the window when it reads ``end``; if the offset
    # changes first, the clock jumps at that instant, out of the window or to a later point inside it.
    while True:
        wall = instant.astimezone(tz).replace(tzinfo=None)
        day = wall.date() if wall.time() < end else wall.date() + timedelta(days=1)
        reads_end = instant + (datetime.combine(day, end) - wall)
        jump = _offset_change(instant, reads_end, tz)
        if jump is None:
            return reads_end
        if not _in_quiet_hours(jump.astimezone(tz).time(), start, end):
            return jump
        instant = jump


def _in_quiet_hours(wall: time, start: time, end: time) -> bool:
    if start < end:
        return start <= wall < end
    return start != end and (wall >= start or wall < end)  # across midnight; equal ends mean none


def _wall_clock_reaches(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant at which the clock in ``tz`` reads ``wall`` or later."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # ``wall`` does not exist in ``tz`` (the clocks jump over it): its two readings lie either side of the jump.
    low, high = sorted(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    jump = _offset_change(low, high, tz)
    assert jump is not None  # readings that differ lie either side of an offset change
    return jump


def _offset_change(low: datetime, high: datetime, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """The instant (whole seconds, as zones change) after ``low`` and not after ``high`` when ``tz`` changes its
    UTC offset, or None when it has the same offset at both. The spans asked about are about a day long, and no
    zone changes its offset and back within one."""
    before = low.astimezone(tz).utcoffset()
    if high.astimezone(tz).utcoffset() == before:
        return None
    low_second, high_second = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while high_second - low_second > 1:
        middle = (low_second + high_second) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == before:
            low_second = middle
        else:
            high_second = middle
    return datetime.fromtimestamp(high_second, UTC)


# --- a customer's yes or no, as a form asks it -----------------------------------------------------------------

ON_STATES = frozenset({State.GIVEN, State.REQUESTED})


def switch_off_state(entry: SnapshotEntry | None) -> str | None:
    """The state a "no" records, from any door: withdraw what was on (given or awaiting confirmation), refuse
    what was never answered or has lapsed; a refusal or withdrawal stands as it is (``None``: nothing to record).
    """
    if entry is None or entry.state in SYSTEM_STATES:
        return State.REFUSED
    if entry.holds:
        return State.WITHDRAWN
    return None


@dataclass(frozen=True)
class Answer:
    """A yes or no to one purpose as a door reads it from its form (the preference page's sections, the support
    console's change form): the notice version the form showed and, for a yes, the value and the end (if
    time-boxed) it comes with. ``answer_choices`` turns answers into the choices ``record_choices`` takes."""

    purpose: str
    yes: bool
    notice_version_id: int | None
    value: dict[str, Any] | None = None
    expires_at: datetime | None = None


def answer_choices(answers: Iterable[Answer], held: Held) -> list[Choice]:
    """The choices a form's answers record against the customer's snapshot (``held``): a yes is given, with its
    value, pinned to the version shown; a no switches off (``switch_off_state``), and records nothing where a
    refusal or withdrawal already stands. Which purposes a form answers (all it shows, or only those changed)
    is the door's to say."""
    result = []
    for answer in answers:
        if answer.yes:
            result.append(
                Choice(answer.purpose, State.GIVEN, answer.notice_version_id, answer.value, answer.expires_at)
            )
        elif state := switch_off_state(held.get(answer.purpose)):
            result.append(Choice(answer.purpose, state, answer.notice_version_id))
    return result


def option_value(purpose: str, code: str | None) -> dict[str, Any]:
    """A location or personalization consent's value: the option chosen (``{"level": "city"}``)."""
    return {OPTION_KEYS[purpose]: code}


def topic_value(channels: Sequence[str], frequency: str | None = None) -> dict[str, Any]:
    """A topic consent's value: the channels it may use and, if the customer chose one, its own frequency."""
    return {"channels": list(channels), **({"frequency": frequency} if frequency else {})}


# --- revocations reported back by a provider (apps/inbound) --------------------------------------------------


def _current_version_id(purpose: str, rules: CatalogRules) -> int | None:
    version: PublishedVersion | None = rules.current_version(purpose)
    return version.id if version else None


def withdrawal_choices(
    choices: Choices, rules: CatalogRules, channel: str, topics: Sequence[str] = ()
) -> list[Choice]:
    """What stopping marketing on ``channel`` means for this snapshot: the channel itself when no topics are
    named, else each named topic loses the channel (withdrawn when no channel is left). Required topics stay;
    purposes that allow nothing on the channel already give nothing to withdraw."""
    if not topics:
        key = channel_purpose(channel)
        entry = SnapshotEntry.of(choices, key)
        if entry is None or not entry.holds:
            return []
        return [Choice(key, State.WITHDRAWN, _current_version_id(key, rules))]
    result = []
    for slug in topics:
        purpose, topic = topic_purpose(slug), rules.topics.get(slug)
        entry = SnapshotEntry.of(choices, purpose)
        if topic is None or topic.required or entry is None or not entry.is_given:
            continue
        if channel not in entry.channels:
            continue
        left = [code for code in entry.channels if code != channel]
        if left:
            result.append(
                Choice(purpose, State.GIVEN, entry.notice_version, {**(entry.value or {}), "channels": left})
            )
        else:
            result.append(Choice(purpose, State.WITHDRAWN, _current_version_id(purpose, rules)))
    return result


def regrant_choices(
    choices: Choices, rules: CatalogRules, channel: str, topics: Sequence[str] = ()
) -> list[Choice]:
    """A customer's own "start again" (START, a resubscribe): the channel, and each named topic on it, under
    the current notices. A double opt-in channel still waits for the address to be confirmed."""
    result = []
    key = channel_purpose(channel)
    entry = SnapshotEntry.of(choices, key)
    if entry is None or not entry.is_given:
        result.append(Choice(key, State.GIVEN, _current_version_id(key, rules)))
    for slug in topics:
        purpose, topic = topic_purpose(slug), rules.topics.get(slug)
        if topic is None or topic.required or channel not in topic.channels:
            continue
        entry = SnapshotEntry.of(choices, purpose)
        if entry is not None and entry.is_given:
            if channel not in entry.channels:
                value = {**(entry.value or {}), "channels": [*entry.channels, channel]}
                result.append(Choice(purpose, State.GIVEN, entry.notice_version, value))
        else:
            result.append(
                Choice(purpose, State.GIVEN, _current_version_id(purpose, rules), {"channels": [channel]})
            )
    return result


DEADLINE_PATTERN = re.compile(r"^(\d+)(h|bd)$")


def revocation_deadline(received_at: datetime, spec: str) -> datetime:
    """When a revocation received at ``received_at`` must be honoured: ``48h`` (hours, Gmail's bulk-sender rule)
    or ``10bd`` (business days, Monday to Friday: CAN-SPAM and the FCC's TCPA rule)."""
    match = DEADLINE_PATTERN.match(spec)
    if not match:
        raise ValueError(f"A deadline is <hours>h or <business days>bd, not {spec!r}.")
    amount, unit = int(match[1]), match[2]
    if unit == "h":
        return received_at + timedelta(hours=amount)
    at = received_at
    while amount:
        at += timedelta(days=1)
        if at.weekday() < 5:
            amount -= 1
    return at
