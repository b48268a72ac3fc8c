"""Counts kept by Celery beat as rows arrive: each source's rows are counted once, past a mark of its own.

The insights' tallies and the experiments' arm counts both work this way. A source is its rows (a ``values()``
queryset in id order), the name of their time field, and what a batch of them adds to the counts (a ``Counter``,
added by the caller's upsert). Each batch and its mark are written in one transaction under the mark's lock: a
run that dies counts nothing twice, and two runs never count the same rows. ``INSIGHTS_BATCH_SIZE`` rows a batch,
at most ``INSIGHTS_BATCHES_PER_RUN`` batches a source and run (the next run goes on).
"""

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

Rows = list[dict[str, Any]]


class Source(NamedTuple):
    rows: Callable[[], Any]  # a values() queryset in id order
    at: str  # the rows' time field
    tally: Callable[[Rows], Counter]


def roll_up(
    mark_model: Any,
    sources: Mapping[str, Source],
    add: Callable[[Counter], None],
    *,
    now: datetime | None = None,
    batches: int | None = None,
) -> dict[str, int]:
    """Count the settled rows of each source since its mark (``mark_model``: ``name``, ``last_id``, ``ran_at``)
    and ``add`` what they count; returns the rows counted per source."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INSIGHTS_SETTLE_SECONDS)
    size = settings.INSIGHTS_BATCH_SIZE
    counted = dict.fromkeys(sources, 0)
    for name, source in sources.items():
        for _batch in range(batches or settings.INSIGHTS_BATCHES_PER_RUN):
            with transaction.atomic():
                mark_model.objects.get_or_create(name=name)
                mark = mark_model.objects.select_for_update().get(name=name)
                batch = _settled(list(source.rows().filter(id__gt=mark.last_id)[:size]), cutoff, source.at)
                if batch:
                    add(source.tally(batch))
                    mark.last_id = batch[-1]["id"]
                mark.ran_at = now
                mark.save()
            counted[name] += len(batch)
            if len(batch) < size:
                break
    return counted


def _settled(rows: Rows, cutoff: datetime, at: str) -> Rows:
    """The rows up to the first one younger than ``cutoff``: a younger row's transaction may still have a
    lower id uncommitted, which the next run will then see."""
    for index, row in enumerate(rows):
        if row[at] > cutoff:
            return rows[:index]
    return rows
