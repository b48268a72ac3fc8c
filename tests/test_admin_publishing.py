"""What the admin is told after publishing a material notice version.

The invalidation is queued when the publication commits, so these tests commit for real (``transactional_db``);
that needs PostgreSQL: on SQLite the ledger's append-only triggers refuse the flush between tests.
"""

from django.contrib import messages

from apps.catalog.selectors import current_notice_version
from tests.factories import NoticeVersionFactory

from .test_admin import publish_in_admin


def test_the_admin_is_told_the_invalidation_runs_in_the_background(
    transactional_db, staff_client, customers_sharing_location, eager_celery
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)

    response = publish_in_admin(staff_client, new)

    [message] = [str(m) for m in response.context["messages"]]
    assert "in the background" in message
    assert "3 customer(s)" in message


def test_with_the_broker_down_the_admin_publishes_and_leaves_the_invalidation_to_the_sweeper(
    transactional_db, staff_client, customers_sharing_location, unreachable_broker
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)

    response = publish_in_admin(staff_client, new)

    assert response.status_code == 200
    new.refresh_from_db()
    assert new.is_published
    [message] = response.context["messages"]
    assert message.level == messages.WARNING
    assert "the sweeper does it" in str(message)
