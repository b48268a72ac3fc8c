from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.consent.evidence import CAPTURED_VIA, NOTE_MAX_LENGTH
from apps.consent.models import ConsentEvent
from apps.customers.models import Customer

from .. import selectors, services
from ..serializers import EventOutput
from .common import (
    EXTERNAL_ID,
    ApiView,
    PageQuery,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
    problems,
)

State = ConsentEvent.State


class CustomerApi(ApiView):
    """Create or update a customer's identity, keyed by the brand's external id."""

    required_scopes = {"PUT": "customers:write"}

    class PathInput(serializers.Serializer):
        external_id = StrictCharField(max_length=100)

    class CustomerInput(serializers.Serializer):
        email = StrictEmailField(required=False, allow_blank=True, default="")
        phone = StrictCharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=16,
            help_text="E.164, e.g. +4915112345678.",
        )
        name = StrictCharField(required=False, allow_blank=True, default="", max_length=200)
        locale = serializers.ChoiceField(choices=Customer.Locale.choices, default=Customer.Locale.EN)

    class CustomerOutput(serializers.Serializer):
        external_id = serializers.CharField()
        email = serializers.EmailField(allow_blank=True)
        phone = serializers.CharField(allow_blank=True)
        name = serializers.CharField(allow_blank=True)
        locale = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="customer_upsert",
        description="Creates the customer or replaces their identity (a field left out becomes empty).\n\n"
        "**A new email address or phone number pauses that channel.** Consent to email was confirmed for the "
        "old address and consent to texts for the old number, so with the change, in the ledger "
        "(source `api`, actor `api:<client>`): `channel:email`, if given or awaiting confirmation, becomes "
        "`requested` and is not allowed until the customer confirms the new address by the double opt-in "
        "link (their preference page sends it; recording `given` over the API leaves it `requested`); "
        "`channel:sms` is withdrawn, and the customer verifies the new number when they switch texts on again. "
        "If that changes the permissions, a new permission document version goes to every destination. "
        "The same address in other case or spacing, or the same number, changes nothing.",
        parameters=[EXTERNAL_ID],
        request=CustomerInput,
        responses={200: CustomerOutput, 201: CustomerOutput, **problems(400)},
    )
    def put(self, request, external_id):
        path = self.PathInput(data={"external_id": external_id})
        path.is_valid(raise_exception=True)
        data = self.CustomerInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer, created = services.api_customer_upsert(
            client=request.auth, external_id=external_id, **data.validated_data
        )
        return Response(self.CustomerOutput(customer).data, status=201 if created else 200)


class ChoiceInput(serializers.Serializer):
    purpose = StrictCharField(
        max_length=80, help_text="channel:<code>, topic:<slug>, frequency, location or personalization."
    )
    state = serializers.ChoiceField(choices=[State.GIVEN, State.REFUSED, State.WITHDRAWN])
    notice_version = StrictIntegerField(
        source="notice_version_id",
        min_value=1,
        max_value=2**31 - 1,
        help_text="The notice version the customer saw (from the catalog).",
    )
    value = serializers.DictField(required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ConfirmationInput(serializers.Serializer):
    confirmed_at = serializers.DateTimeField(help_text="When the customer confirmed the address there.")
    ip_address = serializers.IPAddressField(
        required=False, help_text="Where the confirmation came from; kept only as a keyed hash."
    )


class CustomerConsentsApi(ApiView):
    """A customer's consent history (GET), and consent captured elsewhere recorded through the write path (POST)."""

    required_scopes = {"GET": "consents:read", "POST": "consents:write"}

    class HistoryQuery(PageQuery):
        after = serializers.IntegerField(
            min_value=0, max_value=2**31 - 1, default=0, help_text="Last sequence seen."
        )

    class HistoryOutput(serializers.Serializer):
        events = EventOutput(many=True)
        next_after = serializers.IntegerField()
        has_more = serializers.BooleanField()

    class RecordInput(serializers.Serializer):
        choices = ChoiceInput(many=True, allow_empty=False, max_length=50)  # type: ignore[call-arg]  # many=True makes a ListSerializer
        language = serializers.ChoiceField(
            choices=Customer.Locale.choices, default="en", help_text="The language the customer saw."
        )
        evidence = serializers.DictField(
            child=StrictCharField(max_length=200),
            required=False,
            help_text="How it was captured, from fixed lists only, e.g. "
            '{"captured_via": "call_center", "how_asked": "phone"} (`captured_via`: '
            + ", ".join(CAPTURED_VIA)
            + "). The ledger keeps it for good, so it holds no free text: put that in `note`.",
        )
        note = StrictCharField(
            required=False,
            max_length=NOTE_MAX_LENGTH,
            help_text="Free text (a ticket number, what the customer said). Kept beside the ledger, which holds "
            "only its id and a keyed hash, and blanked when the customer is erased.",
        )
        ip_address = serializers.IPAddressField(required=False, help_text="Kept only as a keyed hash.")
        user_agent = StrictCharField(required=False, max_length=500, help_text="Kept only as a keyed hash.")
        captured_at = serializers.DateTimeField(
            required=False,
            help_text="When the customer actually made the choice (at checkout, in a store), if earlier than now; "
            "not in the future, not before the installation's floor. A choice captured before a later one for the "
            "same purpose is kept as history only and changes nothing.",
        )
        confirmation = ConfirmationInput(
            required=False,
            help_text="Proof that the customer already confirmed the email address (double opt-in) elsewhere: "
            "email consent is then `given` at once. Without it, email consent is `requested` and Candor sends "
            "the confirmation mail itself.",
        )

    class RecordOutput(serializers.Serializer):
        external_id = serializers.CharField()
        events = EventOutput(many=True)
        history_only = serializers.ListField(
            child=serializers.IntegerField(),
            help_text="Sequences of the events kept as history only: a later choice for the purpose stands.",
        )
        permissions_version = serializers.IntegerField()
        permissions_changed = serializers.BooleanField()
        confirmation_sent = serializers.BooleanField(help_text="Whether Candor sends a double opt-in mail.")

    @extend_schema(
        operation_id="consent_history",
        parameters=[EXTERNAL_ID, HistoryQuery],
        responses={200: HistoryOutput, **problems(400, 404)},
    )
    def get(self, request, external_id):
        query = self.HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.consent_history(
            customer=self.get_customer(external_id),
            after=query.validated_data["after"],
            limit=query.validated_data["limit"],
        )
        return Response(
            self.HistoryOutput(
                {"events": page.items, "next_after": page.next_cursor, "has_more": page.has_more}
            ).data
        )

    @extend_schema(
        operation_id="consent_record",
        request=RecordInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="A unique key per change; a retry with the same key and body records nothing new "
                "and gets the first answer again (with `Idempotent-Replayed: true`).",
            )
        ],
        responses={
            201: OpenApiResponse(RecordOutput, description="Recorded (or replayed)."),
            **problems(400, 404, 422),
        },
    )
    def post(self, request, external_id):
        customer = self.get_customer(external_id)
        data = self.RecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = self._idempotency_key(request)
        answer = services.consent_record(
            client=request.auth,
            customer=customer,
            idempotency_key=key,
            fingerprint=services.request_fingerprint(customer.pk, data.validated_data),
            **data.validated_data,
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return Response(answer.body, status=answer.status_code, headers=headers)

    @staticmethod
    def _idempotency_key(request) -> str | None:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
            raise serializers.ValidationError({"Idempotency-Key": "Use 1 to 255 printable ASCII characters."})
        return key
