"""The demo catalog of Candor Outfitters, a fictional outdoor and clothing retailer that asks carefully.

Its text lives in ``data/catalog.json``. ``load_demo_catalog`` is idempotent: every row is found by its natural
key and brought up to date, except notice versions that are already published (and their texts), which are
immutable and left exactly as they are. It publishes nothing itself; ``seed_demo`` does that through the consent
services.
"""

import json
from functools import cache
from pathlib import Path

from django.db import transaction

from apps.catalog.models import Channel, Notice, NoticeText, NoticeVersion, Option, Topic

CATALOG = Path(__file__).resolve().parent / "data" / "catalog.json"


@cache
def demo_catalog() -> dict:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


@transaction.atomic
def load_demo_catalog() -> None:
    """Create or bring up to date the demo catalog; published notice versions are left untouched."""
    catalog = demo_catalog()
    channels = {}
    for position, channel in enumerate(catalog["channels"]):
        channels[channel["code"]], _ = Channel.objects.update_or_create(
            code=channel["code"],
            defaults={
                "label": channel["label"],
                "double_opt_in": channel["double_opt_in"],
                "supports_quiet_hours": channel["supports_quiet_hours"],
                "position": position,
            },
        )

    topics = []
    for position, entry in enumerate(catalog["topics"]):
        topic, _ = Topic.objects.update_or_create(
            slug=entry["slug"],
            defaults={
                "label": entry["label"],
                "kind": Topic.Kind.TRANSACTIONAL if entry["required"] else Topic.Kind.MARKETING,
                "required": entry["required"],
                "required_reason": entry["required_reason"],
                "position": position,
            },
        )
        topic.channels.set([channels[code] for code in entry["channels"]])
        topics.append(topic)

    for option_set, options in catalog["options"].items():
        default_code = next(option["code"] for option in options if option["default"])
        # At most one default per set: clear a stale one before the new default is saved.
        Option.objects.filter(set=option_set, is_default=True).exclude(code=default_code).update(
            is_default=False
        )
        for rank, option in enumerate(options):
            Option.objects.update_or_create(
                set=option_set,
                code=option["code"],
                defaults={
                    "label": option["label"],
                    "description": option["description"],
                    "rank": rank,
                    "is_default": option["default"],
                },
            )

    titles = {channel.purpose: channel.label for channel in channels.values()}
    titles.update({topic.purpose: topic.label for topic in topics})
    titles.update(catalog["fixed_titles"])
    for purpose, title in titles.items():
        notice, _ = Notice.objects.update_or_create(
            purpose=purpose, defaults={"title": title, "honours_gpc": purpose in catalog["gpc_purposes"]}
        )
        _load_first_version(notice, catalog["notices"][purpose], catalog["first_version_summary"])


def _load_first_version(notice: Notice, texts: dict, summary: dict) -> None:
    version, created = NoticeVersion.objects.get_or_create(
        notice=notice, number=1, defaults={"material": False, "change_summary": summary}
    )
    if version.is_published:
        return  # immutable: its wording is what customers saw
    if not created and version.change_summary != summary:
        version.change_summary = summary
        version.save(update_fields=["change_summary"])
    for language, fields in texts.items():
        NoticeText.objects.update_or_create(version=version, language=language, defaults=fields)
