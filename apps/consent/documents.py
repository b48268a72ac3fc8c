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


class ProfileReferences(TypedDict):
    answers: Annotated[
        dict[str, int],
        "Per profile question the customer shared an answer to: the ledger event that shares it. The answers "
        "themselves go only to destinations configured with profile.",
    ]
    inferences_revision: Annotated[
        int, "Counts changes of the inferences reported for the customer (PUT …/inferences)."
    ]


class PermissionBody(TypedDict):
    channels: dict[str, ChannelPermission]
    location: LocationPermission
    personalization: str | None
    profile: NotRequired[
        Annotated[
            ProfileReferences,
            "Only for a customer who shared a profile answer or has inferences reported: references, never the "
            "data, so that each change makes a new version.",
        ]
    ]


def document_part(body: PermissionBody, parts: frozenset[str]) -> dict[str, Any]:
    """What of a document a destination limited to ``parts`` (channel codes, ``location``, ``personalization``)
    sees, in the document's own shape; all of it when ``parts`` is empty. The ``profile`` only when ``parts``
    names it (an empty list's "all" does not include what the customer told us), with the depth that decides
    how much of it is sent: lowering the depth is a change a profile-only destination must see."""
    named = parts - {"profile"}

    def allowed(part: str) -> bool:
        return not named or part in named

    part: dict[str, Any] = {
        "channels": {code: channel for code, channel in body["channels"].items() if allowed(code)}
    }
    if allowed("location"):
        part["location"] = body["location"]
    if allowed("personalization"):
        part["personalization"] = body["personalization"]
    if "profile" in parts:
        part["profile"] = {**body.get("profile", {}), "depth": body["personalization"]}
    return part
