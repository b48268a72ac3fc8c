"""One small interface for every kind of destination: a new vendor is one short module here.

An adapter turns messages (one permission document each, already filtered for the destination) into requests
and says, per message, what happened. It never touches the database: recording outcomes, retries and ordering
are the services' job.
"""

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Message:
    id: str  # the idempotency key: receivers apply each id once
    customer_id: int
    version: int
    payload: dict


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None  # seconds the destination asked us to wait (429, 503)
    permanent: bool = False  # refused for good (4xx): dead without retries
    gone: bool = False  # 410: the destination no longer wants anything; disable it


class Adapter(Protocol):
    per_request: int  # most messages one send() carries: one request, one token of the rate limit
    thread_safe: bool  # one instance may send from several threads at once; if not, a batch goes out on one
    default_rate_limit: float  # requests per second the vendor allows; 0: no limit
    default_batch_size: int  # messages one task claims

    def send(self, destination, messages: list[Message]) -> list[Outcome]: ...

    def close(self) -> None: ...


ADAPTERS = {
    "webhook": "apps.delivery.adapters.webhook.WebhookAdapter",
    "rabbitmq": "apps.delivery.adapters.rabbitmq.RabbitMQAdapter",
    "braze": "apps.delivery.adapters.braze.BrazeAdapter",
}


def adapter_for(kind: str) -> Adapter:
    return import_string(ADAPTERS[kind])()


def outcome_from_response(response: httpx.Response) -> Outcome:
    """The HTTP status rules shared by HTTP adapters."""
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(delivered=True, status_code=code)
    # The status and its reason phrase, never the body: it is the destination's text, shown to support staff.
    error = f"HTTP {code} {response.reason_phrase}"[:100]
    if code == 410:
        return Outcome(delivered=False, status_code=code, error=error, gone=True)
    if code in (429, 503) or code >= 500 or code == 408:
        return Outcome(
            delivered=False,
            status_code=code,
            error=error,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    return Outcome(delivered=False, status_code=code, error=error, permanent=True)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def failed(messages: list[Message], error: str) -> list[Outcome]:
    return [Outcome(delivered=False, error=error) for _ in messages]
