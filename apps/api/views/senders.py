"""For senders (ESPs, CDPs) at send time, in bulk: the links a message carries, may I send it now, why, and what
was sent."""

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.catalog.selectors import catalog_rules
from apps.consent.rules import Reason
from apps.consent.selectors import DecisionRequest, decisions, explain_decision
from apps.consent.services import SentMessage, record_messages

from .. import selectors
from .catalog import NoticeTextOutput
from .common import EXTERNAL_ID, ApiView, StrictCharField, at_index, problems

MAX_LINKS = 1_000
MAX_DECISIONS = 10_000
MAX_MESSAGES = 1_000


# --- links ------------------------------------------------------------------------------------------------------


class RecipientInput(serializers.Serializer):
    external_id = StrictCharField(max_length=100)
    topic = StrictCharField(
        required=False, max_length=50, help_text="The topic the message is about: unsubscribe from it alone."
    )
    channel = StrictCharField(
        required=False,
        max_length=20,
        default="email",
        help_text="Unsubscribe links and headers are for email.",
    )


class LinksInput(serializers.Serializer):
    recipients = RecipientInput(many=True, allow_empty=False, max_length=MAX_LINKS)  # type: ignore[call-arg]  # many=True makes a ListSerializer

    def validate_recipients(self, recipients):
        errors = _unknown_topics_and_channels(recipients)
        if errors:
            raise DjangoValidationError(errors)
        return recipients


def _unknown_topics_and_channels(recipients: list[dict]) -> dict[str, list[str]]:
    rules = catalog_rules()
    errors = {}
    for index, recipient in enumerate(recipients):
        if recipient.get("topic") and recipient["topic"] not in rules.topics:
            errors[f"{index}/topic"] = [f"Unknown topic {recipient['topic']!r}."]
        if recipient["channel"] not in rules.channels:
            errors[f"{index}/channel"] = [f"Unknown channel {recipient['channel']!r}."]
    return errors


# What RecipientInput's fields take at most; a plain recipient holds only these, as short ASCII strings.
_RECIPIENT_FIELDS = {"external_id": 100, "topic": 50, "channel": 20}


def _plain_recipients(data) -> list[dict] | None:
    """The recipients as LinksInput would validate them, when every one is plainly valid: an object of
    RecipientInput's fields, each a non-empty ASCII string within its length without surrounding space, with
    known topic and channel. None otherwise, and the serializer then validates (and words the errors).

    DRF's per-field validation of a thousand recipients took longer than making their links."""
    recipients = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(recipients, list) or not 0 < len(recipients) <= MAX_LINKS:
        return None
    plain = []
    for recipient in recipients:
        if type(recipient) is not dict or "external_id" not in recipient:
            return None
        for field, value in recipient.items():
            longest = _RECIPIENT_FIELDS.get(field)
            if longest is None or type(value) is not str or not 0 < len(value) <= longest:
                return None
            if not value.isascii() or value.strip() != value or "\x00" in value:
                return None
        plain.append({"channel": "email", **recipient})
    return None if _unknown_topics_and_channels(plain) else plain


class HeadersOutput(serializers.Serializer):
    list_unsubscribe = serializers.CharField(source="List-Unsubscribe")
    list_unsubscribe_post = serializers.CharField(source="List-Unsubscribe-Post")


class LinkOutput(serializers.Serializer):
    external_id = serializers.CharField()
    page_url = serializers.URLField(help_text="The customer's preference page, signed for them.")
    page_expires_at = serializers.DateTimeField()
    unsubscribe_url = serializers.URLField(
        allow_null=True,
        help_text="RFC 8058 one-click: POST `List-Unsubscribe=One-Click` stops it. Email only.",
    )
    unsubscribe_expires_at = serializers.DateTimeField(allow_null=True)
    headers = HeadersOutput(allow_null=True, help_text="The exact header values to add. Email only.")


class LinksOutput(serializers.Serializer):
    links = LinkOutput(many=True)


class LinksApi(ApiView):
    """Links for one campaign batch: the preference-page link and the one-click unsubscribe for each message."""

    required_scopes = {"POST": "links:write"}

    @extend_schema(
        operation_id="message_links",
        description=f"Up to {MAX_LINKS:,} recipients. Per recipient: the signed preference-page link and, for "
        "email, the RFC 8058 unsubscribe URL with the exact `List-Unsubscribe` and `List-Unsubscribe-Post` header "
        "values. With a topic, the one-click unsubscribe stops that topic's email only; without, all email. "
        "Links are bound to the customer (and topic) and expire as `*_expires_at` say; rotating the customer's "
        "link key (or erasing them) ends them sooner. Answers are in the order of `recipients`.",
        request=LinksInput,
        responses={200: LinksOutput, **problems(400)},
    )
    def post(self, request):
        recipients = _plain_recipients(request.data)
        if recipients is None:
            data = LinksInput(data=request.data)
            data.is_valid(raise_exception=True)
            recipients = data.validated_data["recipients"]
        try:
            answers = selectors.message_links(recipients)
        except DjangoValidationError as error:
            raise at_index(error, "recipients") from error
        # Written out by hand in LinksOutput's shape: its serializer took longer than making the links. The
        # batch's links share their expiry times, so each is written out once.
        written: dict[datetime | None, str | None] = {}

        def utc(value: datetime | None) -> str | None:
            if value not in written:
                written[value] = _utc(value)
            return written[value]

        return Response({"links": [_link(answer, utc) for answer in answers]})


def _link(answer: selectors.MessageLinks, utc: Callable[[datetime | None], str | None]) -> dict:
    headers = answer.headers
    return {
        "external_id": answer.external_id,
        "page_url": answer.page_url,
        "page_expires_at": utc(answer.page_expires_at),
        "unsubscribe_url": answer.unsubscribe_url,
        "unsubscribe_expires_at": utc(answer.unsubscribe_expires_at),
        "headers": {
            "list_unsubscribe": headers["List-Unsubscribe"],
            "list_unsubscribe_post": headers["List-Unsubscribe-Post"],
        }
        if headers
        else None,
    }


def _utc(value: datetime | None) -> str | None:
    """As DRF writes a UTC time: ISO 8601 with ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


# --- decisions --------------------------------------------------------------------------------------------------


class DecisionItemInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    channel = serializers.CharField(help_text="A channel code from the catalog.")
    topic = serializers.CharField(help_text="A topic slug from the catalog.")
    at = serializers.DateTimeField(required=False, help_text="When it would be sent (ISO 8601); default now.")
    digest = serializers.BooleanField(
        required=False,
        default=False,
        help_text="This message is the customer's digest, not a single message.",
    )


class DecisionsInput(serializers.Serializer):
    decisions = DecisionItemInput(many=True, max_length=MAX_DECISIONS)  # type: ignore[call-arg]  # many=True makes a ListSerializer


class DecisionOutput(serializers.Serializer):
    external_id = serializers.CharField()
    channel = serializers.CharField()
    topic = serializers.CharField()
    decision = serializers.ChoiceField(choices=["allow", "deny"])
    reason = serializers.ChoiceField(
        choices=[reason.value for reason in Reason],
        help_text="Allowed: `given` (consent), `required` (a required topic such as order updates). Denied: "
        "`no_consent` (never given, expired, lapsed by a changed notice, or not for this channel), `withdrawn` "
        "(the customer said no), `requested_unconfirmed` (double opt-in pending), `paused_until`, "
        "`quiet_hours_until`, `digest_only` (the customer wants a digest; send `digest: true` for it), "
        "`weekly_cap_reached`, `undeliverable` (no address for the channel, or the email address bounced or was "
        "cleaned: `undeliverable_since` in the permission document), `erased`, `unknown` (no such "
        "customer).",
    )
    until = serializers.DateTimeField(allow_null=True, help_text="When a deny that ends by itself ends.")


class DecisionsOutput(serializers.Serializer):
    decisions = DecisionOutput(many=True)


class DecisionsApi(ApiView):
    """May I send this now? Allow or deny, with a reason, for up to 10,000 messages in one request."""

    required_scopes = {"POST": "permissions:read"}

    @extend_schema(
        operation_id="decisions",
        description=f"Up to {MAX_DECISIONS:,} `(external_id, channel, topic, at?)`; answers in the same order. "
        "Decided by the same rules as the permission document at `at`: a time-boxed consent is off from the "
        "instant it ends; pause, quiet hours (by the wall clock of the customer's time zone, including the "
        "nights the clocks change), digest frequency and the weekly cap (messages reported to "
        "`POST /api/v1/messages` since Monday 00:00 in the customer's time zone, required topics not counted) "
        "are applied on top. `at` is a send time, now or later, read against the customer's current choices; "
        "for the past use `GET /api/v1/customers/{external_id}/explain`.",
        request=DecisionsInput,
        responses={200: DecisionsOutput, **problems(400)},
    )
    def post(self, request):
        with _collector_paused():
            return self._decide(request)

    def _decide(self, request):
        # Parsed by hand, not by DecisionItemInput (which documents the shape): DRF's per-field validation costs
        # more than the decisions themselves at 10,000 items.
        items = request.data.get("decisions") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise serializers.ValidationError({"decisions": ["A list of decisions to make."]})
        if len(items) > MAX_DECISIONS:
            raise serializers.ValidationError({"decisions": [f"At most {MAX_DECISIONS:,} per request."]})
        asked = _decision_requests(items)
        answers = decisions(asked)
        return Response(
            {
                "decisions": [
                    {
                        "external_id": question.external_id,
                        "channel": question.channel,
                        "topic": question.topic,
                        "decision": "allow" if answer.allow else "deny",
                        "reason": answer.reason.value,
                        "until": _utc(answer.until),
                    }
                    for question, answer in zip(asked, answers, strict=True)
                ]
            }
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while a batch runs: 10,000 decisions allocate well over a hundred
    thousand small objects, none of them cyclic, and every few hundred allocations the collector walked them all
    again (about two fifths of a 10,000-decision request, measured). Reference counting still frees everything;
    the collector runs at the next allocation after. The switch is the process's: a request served alongside on
    another thread goes without the collector meanwhile too, which only delays it. Left as it was found if something
    else switched it off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _decision_requests(items: list) -> list[DecisionRequest]:
    rules = catalog_rules()
    now = timezone.now()
    asked, errors = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"decisions/{index}"] = ["An object with external_id, channel and topic."]
            continue
        problems_here = {}
        external_id, channel, topic = item.get("external_id"), item.get("channel"), item.get("topic")
        if not isinstance(external_id, str) or not 0 < len(external_id) <= 100 or "\x00" in external_id:
            problems_here["external_id"] = "A string of 1 to 100 characters."
        if not isinstance(channel, str) or channel not in rules.channels:
            problems_here["channel"] = f"Unknown channel {channel!r}."
        if not isinstance(topic, str) or topic not in rules.topics:
            problems_here["topic"] = f"Unknown topic {topic!r}."
        at = _parse_at(item.get("at"), now)
        if at is None:
            problems_here["at"] = "An ISO 8601 date and time with a time zone."
        digest = item.get("digest", False)
        if not isinstance(digest, bool):
            problems_here["digest"] = "true or false."
        for field, problem in problems_here.items():
            errors[f"decisions/{index}/{field}"] = [problem]
        if not problems_here:
            asked.append(DecisionRequest(external_id, channel, topic, at, digest))
    if errors:
        raise serializers.ValidationError(errors)
    return asked


def _parse_at(value, now: datetime) -> datetime | None:
    if value is None:
        return now
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


# --- explain ----------------------------------------------------------------------------------------------------


class ExplainQuery(serializers.Serializer):
    channel = serializers.CharField()
    topic = serializers.CharField()
    at = serializers.DateTimeField(required=False, help_text="ISO 8601; default now.")

    def validate(self, data):
        rules = catalog_rules()
        if data["channel"] not in rules.channels:
            raise serializers.ValidationError({"channel": f"Unknown channel {data['channel']!r}."})
        if data["topic"] not in rules.topics:
            raise serializers.ValidationError({"topic": f"Unknown topic {data['topic']!r}."})
        return data


class StepOutput(serializers.Serializer):
    rule = serializers.CharField(
        help_text="channel, topic, required_topic, address, pause, quiet_hours, frequency or weekly_cap."
    )
    purpose = serializers.CharField(allow_null=True, help_text="The purpose whose ledger entry it rests on.")
    passed = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    event = serializers.IntegerField(allow_null=True, help_text="The sequence of the event it rests on.")


class WordingOutput(NoticeTextOutput):
    """A notice's text in one language, as the catalog serves it, with the version it belongs to."""

    notice_version = serializers.IntegerField()
    number = serializers.IntegerField()
    text_hash = serializers.CharField()


class ExplainEventOutput(serializers.Serializer):
    sequence = serializers.IntegerField()
    purpose = serializers.CharField()
    state = serializers.CharField()
    value = serializers.DictField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]  # a field named like a Field attribute
    actor = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    hash = serializers.CharField()
    wording = WordingOutput(allow_null=True, help_text="The exact notice text the customer was shown.")


class ChainLinkOutput(serializers.Serializer):
    sequence = serializers.IntegerField()
    canonical = serializers.DictField(
        help_text="The object whose canonical JSON (keys sorted, no spaces, UTF-8) is hashed: docs/ledger.md."
    )
    prev_hash = serializers.CharField()
    hash = serializers.CharField(help_text="SHA-256 (hex) of the canonical bytes.")


class ExplainOutput(serializers.Serializer):
    external_id = serializers.CharField()
    channel = serializers.CharField()
    topic = serializers.CharField()
    at = serializers.DateTimeField()
    decision = serializers.ChoiceField(choices=["allow", "deny"])
    reason = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)
    steps = StepOutput(many=True)
    events = ExplainEventOutput(many=True)
    chain = ChainLinkOutput(many=True, help_text="From the customer's first event to the last one used.")


class ExplainApi(ApiView):
    """Why the decision for one customer, channel, topic and instant is what it is: rules, events, wording, hashes."""

    required_scopes = {"GET": "consents:read"}

    @extend_schema(
        operation_id="decision_explain",
        description="Worked out from the ledger as of `at` (any time, past or future): each rule step and the "
        "ledger event it rests on, those events (state, source, times) with the exact notice wording the "
        "customer agreed to, and the hash chain from the customer's first event to the last one used, with "
        "each event's canonical object so anyone can recompute every hash (`docs/ledger.md`). The chain "
        "includes each event's evidence (keyed hashes, reasons, notes), hence the `consents:read` scope.",
        parameters=[EXTERNAL_ID, ExplainQuery],
        responses={200: ExplainOutput, **problems(400, 404)},
    )
    def get(self, request, external_id):
        query = ExplainQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        explanation = explain_decision(
            self.get_customer(external_id),
            channel=query.validated_data["channel"],
            topic=query.validated_data["topic"],
            at=query.validated_data.get("at") or timezone.now(),
        )
        return Response(ExplainOutput(explanation_body(explanation)).data)


def explanation_body(explanation) -> dict:
    decision = explanation.decision
    sequences = {event.purpose: event.sequence for event in explanation.events}
    return {
        "external_id": explanation.customer.external_id,
        "channel": explanation.channel,
        "topic": explanation.topic,
        "at": explanation.at,
        "decision": "allow" if decision.allow else "deny",
        "reason": decision.reason.value,
        "until": decision.until,
        "steps": [
            {
                "rule": step.rule,
                "purpose": step.purpose,
                "passed": step.passed,
                "reason": step.reason.value if step.reason else None,
                "until": step.until,
                "event": sequences.get(step.purpose),
            }
            for step in decision.steps
        ],
        "events": [
            {
                "sequence": event.sequence,
                "purpose": event.purpose,
                "state": event.state,
                "value": event.value,
                "source": event.source,
                "actor": event.actor,
                "recorded_at": event.recorded_at,
                "expires_at": event.expires_at,
                "hash": event.hash,
                "wording": explanation.wording.get(event.pk),
            }
            for event in explanation.events
        ],
        "chain": [
            {
                "sequence": event.sequence,
                "canonical": event.canonical_body(),
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            for event in explanation.chain
        ],
    }


# --- messages sent ----------------------------------------------------------------------------------------------


class MessageInput(serializers.Serializer):
    external_id = StrictCharField(max_length=100)
    channel = StrictCharField(max_length=20)
    topic = StrictCharField(max_length=50)
    message_id = StrictCharField(
        max_length=200, help_text="Your own id: a message reported twice is kept once."
    )
    sent_at = serializers.DateTimeField()
    benefit = StrictCharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=50,
        help_text="What the customer got, as a benefit kind's code from the catalog (e.g. back-in-stock-size).",
    )


class MessagesInput(serializers.Serializer):
    messages = MessageInput(many=True, allow_empty=False, max_length=MAX_MESSAGES)  # type: ignore[call-arg]  # many=True makes a ListSerializer


class MessagesOutput(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Messages kept now.")
    already_recorded = serializers.IntegerField(help_text="Message ids reported before (kept once).")


class MessagesApi(ApiView):
    """What was sent: counts towards the weekly cap and shows customers what they got for what they shared."""

    required_scopes = {"POST": "messages:write"}

    @extend_schema(
        operation_id="messages_report",
        description=f"Up to {MAX_MESSAGES:,} messages, idempotent by `message_id` (per API client): a retried "
        "batch records nothing twice. All or nothing: one bad message (unknown or erased customer, a channel the "
        "topic does not use, an unknown benefit kind, a time in the future) and nothing is kept. Message "
        "records hold no content, are not part of the consent ledger, and are deleted when the customer is "
        "erased.",
        request=MessagesInput,
        responses={
            200: OpenApiResponse(MessagesOutput, description="Every message was known already."),
            201: OpenApiResponse(MessagesOutput, description="At least one message was kept."),
            **problems(400),
        },
    )
    def post(self, request):
        data = MessagesInput(data=request.data)
        data.is_valid(raise_exception=True)
        messages = [SentMessage(**message) for message in data.validated_data["messages"]]
        try:
            new = record_messages(sender=request.auth.name, messages=messages)
        except DjangoValidationError as error:
            raise at_index(error, "messages") from error
        body = {"recorded": len(new), "already_recorded": len(messages) - len(new)}
        return Response(body, status=201 if new else 200)
