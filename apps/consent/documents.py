"""The permission document's schema: what ``rules.derive_permissions`` writes, what the API describes and
passes through, and what ``delivery`` slices for a destination. Declared once, here.

The annotations carry the API's field descriptions (``Annotated[..., "help text"]``); ``IsoDateTime`` marks the
texts that are ISO 8601 times.
"""

from typing import Annotated, Any, NewType, NotRequired, TypedDict

IsoDateTime = NewType("IsoDateTime", str)


class QuietHours(TypedDict):
    start: str
    end: str
    timezone: str


class ChannelPermission(TypedDict):
    allowed: Annotated[bool, "Whether anything but required messages may be sent."]
    topics: list[str]
    required_topics: list[str]
    frequency: str | None
    topic_frequency: dict[str, str]
    weekly_cap: int | None
    paused_until: str | None
    quiet_hours: QuietHours | None
    undeliverable_since: NotRequired[
        Annotated[
            IsoDateTime, "Email only, and only while the address bounces: a deliverability flag, not consent."
        ]
    ]


class LocationPermission(TypedDict):
    level: str
    until: IsoDateTime | None


class PermissionBody(TypedDict):
    channels: dict[str, ChannelPermission]
    location: LocationPermission
    personalization: str | None


def document_part(body: PermissionBody, parts: frozenset[str]) -> dict[str, Any]:
    """What of a document a destination limited to ``parts`` (channel codes, ``location``, ``personalization``)
    sees, in the document's own shape; all of it when ``parts`` is empty."""

    def allowed(part: str) -> bool:
        return not parts or part in parts

    part: dict[str, Any] = {
        "channels": {code: channel for code, channel in body["channels"].items() if allowed(code)}
    }
    if allowed("location"):
        part["location"] = body["location"]
    if allowed("personalization"):
        part["personalization"] = body["personalization"]
    return part
