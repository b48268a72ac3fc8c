"""Each platform's export, read row by row into what it says about consent. No database here.

Column names and states follow each platform's documented export (see ``docs/imports.md``):
- Mailchimp audience export CSV (one per status, or with a ``Status`` column): ``Email Address``, ``OPTIN_TIME``,
  ``OPTIN_IP``, ``CONFIRM_TIME``, ``CONFIRM_IP``, ``UNSUB_TIME``, ``UNSUB_REASON``, ``CLEAN_TIME``, ``LEID``;
  interest-group columns named in the mapping file;
- Klaviyo profile export CSV: ``Email``, ``Phone Number``, ``Email Marketing Consent``,
  ``Email Marketing Consent Timestamp``, ``Email Suppressions``, ``IP Address``;
- Braze user CSV: ``external_id``, ``email``, ``phone``, ``email_subscribe``, ``push_subscribe``,
  ``subscription_group_id``, ``subscription_state`` (Braze keeps no consent time: ``exported_at`` stands in);
- Shopify bulk-operation JSONL of customers: ``id``, ``email``, ``phone``, ``emailMarketingConsent`` and
  ``smsMarketingConsent`` (``marketingState``, ``marketingOptInLevel``, ``consentUpdatedAt``);
- ``ndjson``: Candor's own line format (``external_id``, ``email``, ``choices`` with ``captured_at``).

A row becomes *changes*, each one ``record_choices`` call with its captured time. A cleaned or bounced address is
a deliverability flag, not a consent.
"""

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from apps.catalog.purposes import channel_purpose
from apps.consent.rules import Confirmation, State

from .mapping import RowProblem, TopicMap, Wanted

FORMATS = ("mailchimp", "klaviyo", "braze", "shopify", "ndjson")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Change:
    choices: tuple[Wanted, ...]
    captured_at: datetime
    confirmation: Confirmation | None = None
    ip_address: str | None = None
    reason: str = ""


@dataclass
class SourceRow:
    number: int
    raw: dict
    source_id: str = ""
    external_id: str = ""
    email: str = ""
    phone: str = ""
    locale: str = "en"
    changes: list[Change] = field(default_factory=list)
    undeliverable: bool = False
    undeliverable_since: datetime | None = None  # when known; else from the import
    problem: str = ""

    @cached_property
    def content_hash(self) -> str:
        canonical = json.dumps(
            self.raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def read_rows(
    path, fmt: str, topic_map: TopicMap, exported_at: datetime | None = None
) -> Iterator[SourceRow]:
    """Every data row of the file, parsed; a row that cannot be imported carries its ``problem``."""
    parse = {
        "mailchimp": _mailchimp,
        "klaviyo": _klaviyo,
        "braze": _braze,
        "shopify": _shopify,
        "ndjson": _ndjson,
    }[fmt]
    for number, raw in enumerate(_records(path, fmt), start=1):
        row = SourceRow(number=number, raw=raw)
        try:
            if not isinstance(raw, dict):
                raise RowProblem("not an object")
            parse(row, raw, topic_map, exported_at)
        except RowProblem as problem:
            row.problem = str(problem)
        yield row


def _records(path, fmt) -> Iterator:
    with open(path, newline="", encoding="utf-8-sig") as file:
        if fmt in ("shopify", "ndjson"):
            for line in file:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        yield {"_unparsed": line.rstrip("\n")}
        else:
            yield from csv.DictReader(file)


def count_rows(path, fmt: str) -> int:
    """How many data rows ``read_rows`` will yield: reads the whole file once, so a file that is not UTF-8 text
    (or not CSV) fails here, before a run starts, with ``UnicodeDecodeError`` or ``csv.Error``."""
    return sum(1 for _ in _records(path, fmt))


# ---- shared helpers ----------------------------------------------------------------------------------------


def _email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise RowProblem(f"bad email address {value!r}")
    return email


def _time(value: str | None, what: str) -> datetime | None:
    """Mailchimp writes ``YYYY-MM-DD HH:MM:SS`` in UTC; the others ISO 8601, or seconds since 1970."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RowProblem(f"bad {what} {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _email_consent(captured_at, confirmed_at, confirm_ip, optin_ip) -> Change:
    """Email consent from elsewhere: ``given`` with proof of the confirmation made there, else ``requested`` (and
    Candor sends its own confirmation mail)."""
    if confirmed_at:
        confirmation = Confirmation(confirmed_at=confirmed_at, ip_address=confirm_ip or None)
        return Change((Wanted("channel:email", State.GIVEN),), captured_at, confirmation, optin_ip or None)
    return Change((Wanted("channel:email", State.REQUESTED),), captured_at, None, optin_ip or None)


def _labels(value: str | None) -> list[str]:
    return [label.strip() for label in (value or "").split(",") if label.strip()]


# ---- Mailchimp ---------------------------------------------------------------------------------------------


def _mailchimp(row: SourceRow, raw: dict, topic_map: TopicMap, exported_at) -> None:
    row.email = _email(raw.get("Email Address"))
    row.source_id = (raw.get("LEID") or "").strip() or row.email
    status = (raw.get("Status") or raw.get("status") or "").strip().lower()
    if not status:
        status = "unsubscribed" if "UNSUB_TIME" in raw else "cleaned" if "CLEAN_TIME" in raw else "subscribed"
    optin_at = _time(raw.get("OPTIN_TIME"), "OPTIN_TIME")
    confirmed_at = _time(raw.get("CONFIRM_TIME"), "CONFIRM_TIME")
    captured_at = confirmed_at or optin_at
    topics = topic_map.topics_for(
        [label for column in topic_map.columns for label in _labels(raw.get(column))]
    )
    if status in ("subscribed", "cleaned"):
        if captured_at is None:
            raise RowProblem("subscribed without OPTIN_TIME or CONFIRM_TIME: no time the consent was given")
        email = _email_consent(captured_at, confirmed_at, raw.get("CONFIRM_IP"), raw.get("OPTIN_IP"))
        row.changes.append(Change(email.choices + topics, captured_at, email.confirmation, email.ip_address))
        if status == "cleaned":
            row.undeliverable = True
            row.undeliverable_since = _time(raw.get("CLEAN_TIME"), "CLEAN_TIME") or captured_at
    elif status == "pending":
        if optin_at is None:
            raise RowProblem("pending without OPTIN_TIME")
        row.changes.append(_email_consent(optin_at, None, None, raw.get("OPTIN_IP")))
    elif status == "unsubscribed":
        unsub_at = _time(raw.get("UNSUB_TIME"), "UNSUB_TIME")
        if unsub_at is None:
            raise RowProblem("unsubscribed without UNSUB_TIME")
        reason = " ".join(filter(None, [raw.get("UNSUB_REASON"), raw.get("UNSUB_REASON_OTHER")])).strip()
        row.changes.append(
            Change(
                (Wanted("channel:email", State.WITHDRAWN),), unsub_at, reason=f"unsubscribed: {reason}"[:200]
            )
        )
        if captured_at is not None:  # the earlier opt-in, kept as history
            row.changes.append(
                _email_consent(captured_at, confirmed_at, raw.get("CONFIRM_IP"), raw.get("OPTIN_IP"))
            )
    else:
        raise RowProblem(f"unknown status {status!r}")


# ---- Klaviyo -----------------------------------------------------------------------------------------------

KLAVIYO_WITHDRAWING_SUPPRESSIONS = {"UNSUBSCRIBED", "USER_SUPPRESSED", "SPAM_COMPLAINT"}
KLAVIYO_UNDELIVERABLE = {"HARD_BOUNCE", "INVALID_EMAIL"}


def _klaviyo(row: SourceRow, raw: dict, topic_map: TopicMap, exported_at) -> None:
    row.email = _email(raw.get("Email"))
    row.source_id = (raw.get("Klaviyo ID") or raw.get("Id") or "").strip() or row.email
    row.phone = (raw.get("Phone Number") or "").strip()
    consent = (raw.get("Email Marketing Consent") or "").strip().upper()
    at = _time(raw.get("Email Marketing Consent Timestamp"), "Email Marketing Consent Timestamp")
    suppressions = {s.strip(" []'\"").upper() for s in (raw.get("Email Suppressions") or "").split(",")} - {
        ""
    }
    unknown = suppressions - KLAVIYO_WITHDRAWING_SUPPRESSIONS - KLAVIYO_UNDELIVERABLE
    if unknown:
        raise RowProblem(f"unknown suppression {', '.join(sorted(unknown))}")
    if suppressions & KLAVIYO_UNDELIVERABLE:
        row.undeliverable, row.undeliverable_since = True, at or exported_at
    if consent not in ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"):
        raise RowProblem(f"unknown status {consent!r}")
    if consent == "NEVER_SUBSCRIBED" and not suppressions & KLAVIYO_WITHDRAWING_SUPPRESSIONS:
        return
    if at is None:
        raise RowProblem("consent without Email Marketing Consent Timestamp")
    if consent == "UNSUBSCRIBED" or suppressions & KLAVIYO_WITHDRAWING_SUPPRESSIONS:
        reason = ", ".join(sorted(suppressions & KLAVIYO_WITHDRAWING_SUPPRESSIONS)) or "unsubscribed"
        row.changes.append(Change((Wanted("channel:email", State.WITHDRAWN),), at, reason=reason))
        return
    double_opt_in = (raw.get("Email Marketing Double Opt-in") or "").strip().lower() in ("true", "1", "yes")
    row.changes.append(_email_consent(at, at if double_opt_in else None, None, raw.get("IP Address")))


# ---- Braze -------------------------------------------------------------------------------------------------

BRAZE_STATES = {"opted_in": State.GIVEN, "unsubscribed": State.WITHDRAWN}


def _braze(row: SourceRow, raw: dict, topic_map: TopicMap, exported_at) -> None:
    row.external_id = (raw.get("external_id") or "").strip()
    if not row.external_id:
        raise RowProblem("no external_id")
    row.source_id = row.external_id + (
        f"/{raw['subscription_group_id']}" if raw.get("subscription_group_id") else ""
    )
    row.email = _email(raw.get("email")) if (raw.get("email") or "").strip() else ""
    row.phone = (raw.get("phone") or "").strip()
    wanted = []
    for column, purpose in (("email_subscribe", "channel:email"), ("push_subscribe", "channel:push")):
        state = (raw.get(column) or "").strip().lower()
        if state and state not in (*BRAZE_STATES, "subscribed"):
            raise RowProblem(f"unknown {column} {state!r}")
        if (
            state in BRAZE_STATES
        ):  # "subscribed" is Braze's default, not an explicit opt-in: nothing to record
            # Braze proves no address: email opted in elsewhere waits for Candor's own confirmation.
            given = State.REQUESTED if purpose == "channel:email" else State.GIVEN
            wanted.append(Wanted(purpose, given if BRAZE_STATES[state] == State.GIVEN else State.WITHDRAWN))
    group = (raw.get("subscription_group_id") or "").strip()
    if group:
        state = (raw.get("subscription_state") or "").strip().lower()
        if state not in ("subscribed", "unsubscribed"):
            raise RowProblem(f"unknown subscription_state {state!r}")
        (topic,) = topic_map.topics_for([group])
        wanted.append(topic if state == "subscribed" else Wanted(topic.purpose, State.WITHDRAWN))
    if wanted:
        row.changes.append(Change(tuple(wanted), exported_at))


# ---- Shopify -----------------------------------------------------------------------------------------------

SHOPIFY_STATES = {"SUBSCRIBED", "PENDING", "UNSUBSCRIBED", "NOT_SUBSCRIBED", "REDACTED", "INVALID"}


def _shopify(row: SourceRow, raw: dict, topic_map: TopicMap, exported_at) -> None:
    if "_unparsed" in raw:
        raise RowProblem("not JSON")
    row.source_id = str(raw.get("id") or "").strip()
    if not row.source_id:
        raise RowProblem("no id")
    row.email = _email(raw.get("email")) if raw.get("email") else ""
    row.phone = str(raw.get("phone") or "").strip()
    for key, channel in (("emailMarketingConsent", "email"), ("smsMarketingConsent", "sms")):
        consent = raw.get(key)
        if not consent:
            continue
        state = str(consent.get("marketingState") or "").upper()
        if state not in SHOPIFY_STATES:
            raise RowProblem(f"unknown status {state!r}")
        if state == "REDACTED":
            raise RowProblem("redacted in Shopify (the customer was erased there)")
        at = _time(consent.get("consentUpdatedAt"), "consentUpdatedAt")
        if state == "INVALID":
            if channel == "email":
                row.undeliverable, row.undeliverable_since = True, at or exported_at
            continue
        if state == "NOT_SUBSCRIBED":
            continue
        if at is None:
            raise RowProblem(f"{key} {state} without consentUpdatedAt")
        purpose = channel_purpose(channel)
        if state == "UNSUBSCRIBED":
            row.changes.append(Change((Wanted(purpose, State.WITHDRAWN),), at, reason="unsubscribed"))
        elif channel == "email":
            confirmed = state == "SUBSCRIBED" and consent.get("marketingOptInLevel") == "CONFIRMED_OPT_IN"
            row.changes.append(_email_consent(at, at if confirmed else None, None, None))
        elif state == "SUBSCRIBED":
            row.changes.append(Change((Wanted(purpose, State.GIVEN),), at))


# ---- Candor's own line format --------------------------------------------------------------------------------


def _ndjson(row: SourceRow, raw: dict, topic_map: TopicMap, exported_at) -> None:
    if "_unparsed" in raw:
        raise RowProblem("not JSON")
    row.external_id = str(raw.get("external_id") or "").strip()
    if not row.external_id:
        raise RowProblem("no external_id")
    row.source_id = row.external_id
    row.email = _email(raw["email"]) if raw.get("email") else ""
    row.phone = str(raw.get("phone") or "").strip()
    row.locale = str(raw.get("locale") or "en")
    captured_at = _time(raw.get("captured_at"), "captured_at")
    if captured_at is None:
        raise RowProblem("no captured_at")
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices:
        raise RowProblem("no choices")
    wanted = []
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("purpose"), str):
            raise RowProblem("a choice needs a purpose")
        wanted.append(Wanted(choice["purpose"], str(choice.get("state")), choice.get("value")))
    confirmed_at = _time(raw.get("confirmed_at"), "confirmed_at")
    confirmation = Confirmation(confirmed_at, raw.get("confirm_ip") or None) if confirmed_at else None
    row.changes.append(Change(tuple(wanted), captured_at, confirmation, raw.get("ip_address") or None))
