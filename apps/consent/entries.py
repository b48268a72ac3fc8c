"""A snapshot entry: one purpose's current choice, as the ledger event that made it left it.

Snapshots keep their choices as JSON (``Snapshot.choices``: purpose key -> entry); ``SnapshotEntry`` is one entry
read into named fields, so no module indexes the raw dictionary. ``entry_json`` is the one place that writes it.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from .models import ConsentEvent

# A snapshot's choices as stored: purpose key -> the entry's JSON.
Choices = dict[str, dict[str, Any]]

State = ConsentEvent.State
# Plain strings: the rules compare an entry's state for every purpose of every decision.
_GIVEN = State.GIVEN.value
_HOLDING = frozenset({State.GIVEN.value, State.REQUESTED.value})
_OFF = frozenset({State.REFUSED.value, State.WITHDRAWN.value})


class SnapshotEntry(NamedTuple):
    """A named tuple, not a dataclass: a batch of decisions reads several for each customer."""

    state: str
    value: dict[str, Any] | None
    notice_version: int
    language: str
    event: int
    sequence: int
    # ISO 8601 text, as stored: most readers only compare or pass them on.
    recorded_at: str
    expires_at: str | None
    captured_at: str | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "SnapshotEntry":
        get = raw.get
        # tuple.__new__ rather than the generated __new__: a third quicker, and every field is given here.
        return tuple.__new__(
            cls,
            (
                raw["state"],
                raw["value"],
                raw["notice_version"],
                get("language", ""),
                raw["event"],
                get("sequence", 0),
                raw["recorded_at"],
                raw["expires_at"],
                get("captured_at"),
            ),
        )

    @classmethod
    def of(cls, choices: Choices, purpose: str) -> "SnapshotEntry | None":
        """The purpose's entry in a snapshot's choices, if the customer ever answered it."""
        raw = choices.get(purpose)
        return cls.from_json(raw) if raw else None

    @property
    def is_given(self) -> bool:
        return self.state == _GIVEN

    @property
    def holds(self) -> bool:
        """Given or awaiting confirmation: what switching off, erasure or a new address has to undo."""
        return self.state in _HOLDING

    @property
    def is_off(self) -> bool:
        """The customer's own no: refused or withdrawn."""
        return self.state in _OFF

    @property
    def given_value(self) -> dict[str, Any] | None:
        """The value, while the consent is given (a refused or withdrawn purpose has none in force)."""
        return self.value if self.is_given else None

    def value_of(self, key: str) -> Any:
        """One field of the value (a topic's frequency, a location level), or None."""
        return (self.value or {}).get(key)

    @property
    def channels(self) -> Sequence[str]:
        """A topic's channels (none for other purposes)."""
        channels: Sequence[str] = (self.value or {}).get("channels", ())
        return channels

    @property
    def expiry(self) -> datetime | None:
        """When a time-boxed consent ends."""
        return datetime.fromisoformat(self.expires_at) if self.expires_at else None

    @property
    def effective_at(self) -> datetime:
        """When the choice took effect: when the customer made it, if captured elsewhere, else when recorded."""
        return datetime.fromisoformat(self.captured_at or self.recorded_at)


# A snapshot's choices read into entries, by purpose key.
Held = Mapping[str, SnapshotEntry]


def entries(choices: Choices) -> dict[str, SnapshotEntry]:
    """Every entry of a snapshot's choices, by purpose key."""
    return {purpose: SnapshotEntry.from_json(raw) for purpose, raw in choices.items()}


def entry_json(event: ConsentEvent) -> dict[str, Any]:
    """The snapshot entry a ledger event that took effect leaves for its purpose."""
    entry = {
        "state": event.state,
        "value": event.value,
        "notice_version": event.notice_version_id,
        "language": event.language,
        "event": event.pk,
        "sequence": event.sequence,
        "recorded_at": event.recorded_at.isoformat(),
        "expires_at": event.expires_at.isoformat() if event.expires_at else None,
    }
    if event.captured_at is not None:  # only then, so snapshots from before captured times do not drift
        entry["captured_at"] = event.captured_at.isoformat()
    return entry
