"""Writes made by or for API clients: keys, customer identity, and consent recorded through the one write path."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Confirmation, Provenance
from apps.consent.services import change_identity, record_choices, send_confirmation_if_requested
from apps.customers.models import Customer

from .models import ApiClient, IdempotencyRecord
from .selectors import forget_api_client, hash_key
from .serializers import EventOutput

KEY_PREFIX = "cnd_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_client_create(*, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """Create a client and return it with its key; the key is not stored and cannot be shown again."""
    unknown = sorted(set(scopes) - set(ApiClient.Scope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        name=name, key_prefix=raw_key[:12], key_hash=hash_key(raw_key), scopes=sorted(set(scopes))
    )
    client.full_clean()
    client.save()
    return client, raw_key


def api_client_revoke(*, client: ApiClient) -> None:
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
    forget_api_client(client)


def api_client_touch(*, client: ApiClient) -> None:
    """Note that the client was seen, at most once a minute (not a write on every request)."""
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_RESOLUTION:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now


def api_customer_upsert(*, client: ApiClient, external_id: str, **fields) -> tuple[Customer, bool]:
    """``change_identity`` for the client, safe when two requests create the same new customer at once."""
    identity = partial(
        change_identity,
        external_id=external_id,
        source=ConsentEvent.Source.API,
        actor=f"api:{client.name}",
        **fields,
    )
    try:
        return identity()
    except IntegrityError:
        # The other request created the row between our read and our insert: now it is an update.
        return identity()


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


@dataclass(frozen=True)
class ApiAnswer:
    status_code: int
    body: dict
    replayed: bool = False


def request_fingerprint(*parts) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def consent_record(
    *,
    client: ApiClient,
    customer: Customer,
    choices: list[dict],
    language: str,
    evidence: dict | None = None,
    note: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    captured_at: datetime | None = None,
    confirmation: dict | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> ApiAnswer:
    """Record consent captured elsewhere through ``record_choices``, once per Idempotency-Key.

    The idempotency row is written after the choices, in the same transaction: a retry that races the first
    request fails on the key's unique constraint, rolls back everything it wrote, and answers what the first
    request answered. (Writing nothing before ``record_choices`` also keeps the transaction's id assigned under
    the customer's lock, which the change feed's per-customer order relies on.)
    """
    if idempotency_key:
        replay = _replay(client, idempotency_key, fingerprint)
        if replay:
            return replay
    try:
        with transaction.atomic():
            recorded = record_choices(
                customer=customer,
                choices=[Choice(**choice) for choice in choices],
                provenance=Provenance(
                    source=ConsentEvent.Source.API,
                    actor=f"api:{client.name}",
                    evidence=evidence,
                    captured_at=captured_at,
                ),
                language=language,
                note=note,
                ip_address=ip_address,
                user_agent=user_agent,
                confirmation=Confirmation(**confirmation) if confirmation else None,
            )
            sent = send_confirmation_if_requested(recorded, customer, language)
            answer = ApiAnswer(status_code=201, body=_recorded_body(customer, recorded, sent))
            if idempotency_key:
                IdempotencyRecord.objects.create(
                    client=client,
                    key=idempotency_key,
                    request_fingerprint=fingerprint,
                    status_code=answer.status_code,
                    response_body=answer.body,
                )
    except ValidationError as error:
        raise _keyed_by_choice(error, choices) from error
    except IntegrityError:
        replay = _replay(client, idempotency_key, fingerprint) if idempotency_key else None
        if replay is None:
            raise
        return replay
    return answer


def _replay(client: ApiClient, key: str, fingerprint: str) -> ApiAnswer | None:
    record = IdempotencyRecord.objects.filter(client=client, key=key).first()
    if record is None:
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyConflict(key)
    return ApiAnswer(status_code=record.status_code, body=record.response_body, replayed=True)


def _recorded_body(customer: Customer, recorded, confirmation_sent: bool) -> dict:
    document = recorded.document
    return {
        "external_id": customer.external_id,
        "events": EventOutput(recorded.events, many=True).data,
        "history_only": [event.sequence for event in recorded.history_only],
        "permissions_version": document.version if document else 0,
        "permissions_changed": recorded.document_changed,
        "confirmation_sent": confirmation_sent,
    }


def _keyed_by_choice(error: ValidationError, choices: list[dict]) -> ValidationError:
    """The core keys its errors by purpose; an integrator needs the position in the request too."""
    if not hasattr(error, "error_dict"):
        return error
    positions = {choice["purpose"]: index for index, choice in enumerate(choices)}
    keyed = {}
    for key, errors in error.message_dict.items():
        keyed[f"choices/{positions[key]}" if key in positions else key] = errors
    return ValidationError(keyed)


def idempotency_records_prune(*, older_than: timedelta) -> int:
    """Forget the answers to writes made more than ``older_than`` ago; returns how many."""
    removed, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return removed
