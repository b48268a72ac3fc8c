"""The operator's mapping of the source's lists, interest groups and subscription groups to Candor topics.

```toml
columns = ["Interests"]          # export columns holding comma-separated group names (Mailchimp)
[topics]
"Newsletter" = "news"            # -> topic:news by email
"Text offers" = "offers:sms"     # -> topic:offers by sms
```
Checked against the catalog before any row is read; a row naming a group that is not mapped is rejected.
"""

import tomllib
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from apps.catalog.purposes import topic_purpose
from apps.catalog.selectors import CatalogRules
from apps.consent.rules import State


class RowProblem(Exception):
    """The row cannot be imported; the message says why (it goes in the rejected-rows file)."""


@dataclass(frozen=True)
class Wanted:
    """One purpose's state as the source system had it; the notice version is the source's legacy one."""

    purpose: str
    state: str
    value: dict | None = None


@dataclass(frozen=True)
class TopicMap:
    topics: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (slug, channel)
    columns: tuple[str, ...] = ()

    def topics_for(self, labels: list[str]) -> tuple:
        unmapped = sorted({label for label in labels if label not in self.topics})
        if unmapped:
            raise RowProblem(f"unmapped list {', '.join(unmapped)}")
        channels: dict[str, list[str]] = {}
        for label in labels:
            slug, channel = self.topics[label]
            if channel not in channels.setdefault(slug, []):
                channels[slug].append(channel)
        return tuple(
            Wanted(topic_purpose(slug), State.GIVEN, {"channels": chosen})
            for slug, chosen in channels.items()
        )


def load_topic_map(path, rules: CatalogRules) -> TopicMap:
    """Read and check the mapping file; ``ValidationError`` naming every problem, before any row is read."""
    if path is None:
        return TopicMap()
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValidationError({"map": f"Cannot read the mapping file: {error}"}) from error
    errors = []
    unknown = sorted(set(data) - {"topics", "columns"})
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)}; use columns and [topics]")
    columns = data.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
        errors.append("columns must be a list of column names")
        columns = []
    topics = {}
    raw_topics = data.get("topics", {})
    if not isinstance(raw_topics, dict):
        errors.append("[topics] must map group names to topic slugs")
        raw_topics = {}
    for label, target in raw_topics.items():
        if not isinstance(target, str):
            errors.append(f'{label!r}: map it to a topic slug, e.g. "news" or "offers:sms"')
            continue
        slug, _, channel = target.partition(":")
        channel = channel or "email"
        topic = rules.topics.get(slug)
        if topic is None:
            errors.append(f"{label!r}: no topic {slug!r} in the catalog")
        elif topic.required:
            errors.append(f"{label!r}: topic {slug!r} is required; there is no consent to import for it")
        elif channel not in topic.channels:
            errors.append(f"{label!r}: topic {slug!r} may not use {channel}")
        else:
            topics[label] = (slug, channel)
    if errors:
        raise ValidationError({"map": errors})
    return TopicMap(topics=topics, columns=tuple(columns))
