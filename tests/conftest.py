import contextlib
import os
import uuid

import pika
import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections

from apps.catalog.models import Question, QuestionVersion
from apps.consent.rules import Provenance
from apps.consent.services import publish_notice_version, record_choices
from apps.delivery import tasks as delivery_tasks
from config.celery_app import app as celery_app

from .factories import (
    ChannelFactory,
    CustomerFactory,
    NoticeFactory,
    NoticeVersionFactory,
    OptionFactory,
    TopicFactory,
    make_choice,
)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On PostgreSQL the suite runs on ``tests.postgresql``: Django's backend, with a flush that passes the
    ledger's append-only triggers (transactional tests empty every table between tests)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = "tests.postgresql"
        connections["default"].close()
        del connections["default"]  # made again, on the test backend, at its next use


def pytest_configure(config):
    """The suite's receivers listen on 127.0.0.1 over plain http: the development setting that allows it (see
    apps/delivery/adapters/network.py). Tests of the refusal switch it off."""
    settings.DELIVERY_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def eager_celery():
    """Tasks queued in the test run in-process at once, as in the embedded default (no broker)."""
    before, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def staff_client(client, db):
    """A superuser signed in to the admin: password and TOTP code, as the staff gate wants."""
    from tests.support.conftest import add_totp, sign_in

    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "x" * 16)
    add_totp(admin)
    return sign_in(client, admin)


@contextlib.contextmanager
def publishing_to(broker_url: str):
    """The test process's Celery publishes to ``broker_url`` (not eagerly) meanwhile."""
    conf = celery_app.conf
    before = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = broker_url, False
    _forget_broker_connections()
    yield
    conf.broker_url, conf.task_always_eager = before
    _forget_broker_connections()


@pytest.fixture
def unreachable_broker():
    """Celery publishes to a broker nobody listens at (a closed port): every ``.delay`` fails as in an outage."""
    with publishing_to("redis://127.0.0.1:1/0"):
        yield
    delivery_tasks._fast_path_paused_until = 0.0  # the fast path's circuit breaker forgets the outage


@pytest.fixture
def queued_tasks():
    """Tasks go to the real broker (no worker takes them in the test); yields the names and args published, and
    purges them afterwards."""
    published = []

    def note(sender=None, body=None, **kwargs):
        published.append((sender, list(body[0])))

    before, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, False
    after_task_publish.connect(note, weak=False)
    yield published
    after_task_publish.disconnect(note)
    celery_app.conf.task_always_eager = before
    celery_app.control.purge()


def _forget_broker_connections():
    # What Celery itself does after a fork: the pools are made anew from the configuration on next use.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def catalog(db):
    """A small catalog with a published version 1 of every purpose's notice.

    Channels: email (double opt-in), sms (quiet hours), push (quiet hours).
    Topics: news (email, push), offers (email, sms), orders (required; email, sms).
    """
    email = ChannelFactory(code="email", double_opt_in=True, position=1)
    sms = ChannelFactory(code="sms", supports_quiet_hours=True, position=2)
    push = ChannelFactory(code="push", supports_quiet_hours=True, position=3)
    TopicFactory(slug="news", channels=[email, push])
    TopicFactory(slug="offers", channels=[email, sms])
    TopicFactory(slug="orders", channels=[email, sms], required=True)
    for rank, code in enumerate(["real_time", "daily", "weekly", "monthly"]):
        OptionFactory(set="frequency", code=code, rank=rank, is_default=code == "weekly")
    for rank, code in enumerate(["off", "country", "region", "city", "precise"]):
        OptionFactory(set="location", code=code, rank=rank, is_default=code == "off")
    for rank, code in enumerate(["none", "interests", "activity"]):
        OptionFactory(set="personalization", code=code, rank=rank, is_default=code == "none")
    purposes = [
        "channel:email",
        "channel:sms",
        "channel:push",
        "topic:news",
        "topic:offers",
        "topic:orders",
        "frequency",
        "location",
        "personalization",
    ]
    for purpose in purposes:
        notice = NoticeFactory(purpose=purpose, honours_gpc=purpose in ("location", "personalization"))
        publish_notice_version(version=NoticeVersionFactory(notice=notice))
    return purposes


@pytest.fixture
def questions(catalog):
    """Three profile questions, version 1 of each published: ``size`` (one answer) and ``interests`` (several),
    which may be sent downstream, and ``household`` (one answer), which may not."""
    specs = [
        ("size", Question.Kind.ONE, ["s", "m", "l"], True),
        ("interests", Question.Kind.MANY, ["hiking", "climbing", "running"], True),
        ("household", Question.Kind.ONE, ["alone", "family"], False),
    ]
    for position, (code, kind, options, downstream) in enumerate(specs):
        question = Question.objects.create(
            code=code,
            kind=kind,
            serves=["personalization"],
            may_send_downstream=downstream,
            position=position,
        )
        version = NoticeVersionFactory(notice=NoticeFactory(purpose=question.purpose))
        QuestionVersion.objects.create(
            question=question,
            notice_version=version,
            options=[{"code": o, "label": {"en": o.title(), "de": f"{o.title()} (de)"}} for o in options],
        )
        publish_notice_version(version=version)
    return [code for code, *_ in specs]


@pytest.fixture
def customers_sharing_location(catalog):
    """Three customers who shared their city under version 1 of the location notice."""
    customers = CustomerFactory.create_batch(3)
    for customer in customers:
        record_choices(
            customer=customer,
            choices=[make_choice("location", value={"level": "city"})],
            provenance=Provenance(source="web", actor="customer"),
        )
    return customers


RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def exchange():
    """A private exchange with one bound queue; both removed afterwards."""
    name = f"candor_test.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    channel.exchange_declare(exchange=name, exchange_type="topic", durable=True)
    queue = channel.queue_declare(queue=f"{name}.q", durable=True).method.queue
    channel.queue_bind(queue=queue, exchange=name, routing_key="permissions.#")
    yield channel, name, queue
    channel.queue_delete(queue=queue)
    channel.exchange_delete(exchange=name)
    connection.close()
