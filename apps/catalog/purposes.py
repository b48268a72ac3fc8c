"""A purpose: one thing a customer answers, named by a key.

The key is what the ledger, snapshots and the catalog's notices store (``channel:email``, ``topic:new-arrivals``,
``frequency``, ``location``, ``personalization``, ``profile:size``); ``Purpose`` is the key read once into its parts, so no other
module splits strings to learn which channel or topic a purpose is about.
"""

from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple


class PurposeKind(StrEnum):
    CHANNEL = "channel"
    TOPIC = "topic"
    FREQUENCY = "frequency"
    LOCATION = "location"
    PERSONALIZATION = "personalization"
    PROFILE = "profile"  # a profile question: ``profile:<question code>``


FIXED_PURPOSES = (PurposeKind.FREQUENCY.value, PurposeKind.LOCATION.value, PurposeKind.PERSONALIZATION.value)
_NAMED_KINDS = (PurposeKind.CHANNEL, PurposeKind.TOPIC, PurposeKind.PROFILE)
_CHANNEL_PREFIX, _TOPIC_PREFIX = f"{PurposeKind.CHANNEL.value}:", f"{PurposeKind.TOPIC.value}:"
_PROFILE_PREFIX = f"{PurposeKind.PROFILE.value}:"


class Purpose(NamedTuple):
    """A purpose key read into its parts: a channel (``code`` its code), a topic (``code`` its slug), a profile
    question (``code`` the question's), or one of the fixed purposes. Whether the catalog knows it is the catalog's question (``CatalogRules.purposes``);
    a key of no kind at all has the empty kind.

    A named tuple, not a dataclass: the rules read one for each purpose of each decision they make."""

    key: str
    kind: str
    code: str = ""

    @classmethod
    @lru_cache(maxsize=4096)
    def parse(cls, key: str) -> "Purpose":
        """Any key parses, known or not, so a bad one reaches validation and gets its clear error there.

        Each key is read once (a catalog has a few dozen): the rules parse the same keys for every choice and
        every decision, and a ``Purpose`` is immutable, so one instance serves them all."""
        prefix, colon, code = key.partition(":")
        if colon and prefix in _NAMED_KINDS:
            return cls(key, prefix, code)
        return cls(key, key if key in FIXED_PURPOSES else "")

    @classmethod
    def channel(cls, code: str) -> "Purpose":
        return cls(channel_purpose(code), PurposeKind.CHANNEL, code)

    @classmethod
    def topic(cls, slug: str) -> "Purpose":
        return cls(topic_purpose(slug), PurposeKind.TOPIC, slug)

    def __str__(self) -> str:
        return self.key

    @property
    def channel_code(self) -> str | None:
        """The channel's code, if this is a channel purpose."""
        return self.code if self.kind == PurposeKind.CHANNEL else None

    @property
    def topic_slug(self) -> str | None:
        """The topic's slug, if this is a topic purpose."""
        return self.code if self.kind == PurposeKind.TOPIC else None

    @property
    def question_code(self) -> str | None:
        """The profile question's code, if this is a profile question's purpose."""
        return self.code if self.kind == PurposeKind.PROFILE else None

    @property
    def is_channel(self) -> bool:
        return self.kind == PurposeKind.CHANNEL

    @property
    def is_topic(self) -> bool:
        return self.kind == PurposeKind.TOPIC


def channel_purpose(code: str) -> str:
    """The key of the channel's purpose (``channel:<code>``)."""
    return _CHANNEL_PREFIX + code


def topic_purpose(slug: str) -> str:
    """The key of the topic's purpose (``topic:<slug>``)."""
    return _TOPIC_PREFIX + slug


def profile_purpose(code: str) -> str:
    """The key of a profile question's purpose (``profile:<code>``)."""
    return _PROFILE_PREFIX + code
