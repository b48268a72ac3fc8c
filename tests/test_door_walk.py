"""Every URL and every management command of Candor, walked: none changes a customer's identity or consent, or
widens what the catalog lets Candor do with it, without the ledger event the write path would have written.

Each URL is called as the most privileged caller that reaches it (a signed-in customer, a staff member with
password, TOTP and every role, an API client with every scope) with GET and with every writing method, posting an
empty body, junk and the valid requests listed in ``BODIES``. Each command runs with the arguments in ``COMMANDS``.
The admin is walked model by model in tests/test_admin_walk.py. To extend, add the new URL name to ``DOORS`` (or
to ``SKIPPED`` with the reason) and the new command to ``COMMANDS``: the coverage tests name what is missing.
"""

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command, get_commands
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.api.models import ApiClient
from apps.api.services import api_client_create
from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.links import CONFIRM_EMAIL, UNSUBSCRIBE, make_token
from apps.customers.models import Customer, HeldMessage
from apps.delivery.models import Delivery
from apps.experiments.models import Experiment
from apps.experiments.services import create_experiment, variants_from_current
from apps.imports.models import ImportRun
from apps.inbound.models import InboundSource
from apps.support.roles import ensure_roles
from apps.support.services import invite_staff
from tests.doors import seed_world, seen, unrecorded_changes
from tests.factories import make_choice
from tests.imports.conftest import FIXTURES
from tests.inbound.conftest import twilio_post
from tests.preferences.conftest import CHANNELS, nv
from tests.support.conftest import make_staff, sign_in

ANYONE, CUSTOMER, STAFF, API = "anyone", "customer", "staff", "api"
JUNK = {"junk": "x" * 300, "choices": "not a list", "email": "eve@example.com", "customer": "1", "id": "-1"}


def ada() -> Customer:
    return Customer.objects.get(external_id="ada")


def texts():
    return InboundSource.objects.get(name="texts")


def held_text() -> HeldMessage:
    """A text from Ada's number that says neither stop nor start: it waits for staff."""
    twilio_post(Client(), texts(), Body="wrong number, who is this")
    return HeldMessage.objects.get()


def walk_experiment() -> int:
    """A draft experiment on offers whose variants differ from the current wording in what you get alone."""
    found = Experiment.objects.first()
    if found is None:
        offers = [
            ({"en": {"what_you_get": "Alerts."}, "de": {"what_you_get": "Hinweise."}}, 50),
            ({"en": {"what_you_get": "Two a week."}, "de": {"what_you_get": "Zwei pro Woche."}}, 50),
        ]
        found = create_experiment(
            staff=make_staff("marketing", username="experimenter"),
            name="Walk",
            purpose="topic:offers",
            variants=variants_from_current("topic:offers", offers),
        )
    return found.pk


def api_choice(purpose, state="given", value=None):
    made = make_choice(purpose, state)
    return {"purpose": purpose, "state": state, "notice_version": made.notice_version_id, "value": value}


# URL name -> (who calls it, its reverse() arguments from the seeded world).
DOORS = {
    "account_login": (ANYONE, lambda: []),
    "account_request_login_code": (ANYONE, lambda: []),
    "account_confirm_login_code": (ANYONE, lambda: []),
    "account_logout": (STAFF, lambda: []),
    "account_inactive": (ANYONE, lambda: []),
    "account_reauthenticate": (STAFF, lambda: []),
    "mfa_index": (STAFF, lambda: []),
    "mfa_authenticate": (ANYONE, lambda: []),
    "mfa_reauthenticate": (STAFF, lambda: []),
    "mfa_activate_totp": (STAFF, lambda: []),
    "mfa_deactivate_totp": (STAFF, lambda: []),
    "mfa_view_recovery_codes": (STAFF, lambda: []),
    "mfa_generate_recovery_codes": (STAFF, lambda: []),
    "mfa_download_recovery_codes": (STAFF, lambda: []),
    "api:catalog": (API, lambda: []),
    "api:customer": (API, lambda: ["ada"]),
    "api:customer-permissions": (API, lambda: ["ada"]),
    "api:customer-consents": (API, lambda: ["ada"]),
    "api:customer-inferences": (API, lambda: ["ada"]),
    "api:consents-batch": (API, lambda: []),
    "api:customer-explain": (API, lambda: ["ada"]),
    "api:links": (API, lambda: []),
    "api:decisions": (API, lambda: []),
    "api:messages": (API, lambda: []),
    "api:permissions": (API, lambda: []),
    "api:permission-changes": (API, lambda: []),
    "api:permission-export": (API, lambda: []),
    "support:sign_in": (ANYONE, lambda: []),
    "support:enrol": (ANYONE, lambda: [invite_staff(staff=make_staff(None, username="new", mfa=False))]),
    "support:search": (STAFF, lambda: []),
    "support:customer": (STAFF, lambda: [ada().pk]),
    "support:timeline": (STAFF, lambda: [ada().pk]),
    "support:explain": (STAFF, lambda: [ada().pk]),
    "support:change": (STAFF, lambda: [ada().pk]),
    "support:deliveries": (STAFF, lambda: [ada().pk]),
    "support:retry_delivery": (STAFF, lambda: [ada().pk, Delivery.objects.filter(customer=ada()).first().pk]),
    "support:proof": (STAFF, lambda: [ada().pk]),
    "support:proof_json": (STAFF, lambda: [ada().pk]),
    "support:access_export": (STAFF, lambda: [ada().pk]),
    "support:erase": (STAFF, lambda: [ada().pk]),
    "support:access_log": (STAFF, lambda: []),
    "support:ledger": (STAFF, lambda: []),
    "support:insights": (STAFF, lambda: []),
    "support:sandbox": (STAFF, lambda: []),
    "support:sandbox_for": (STAFF, lambda: ["crm"]),
    "support:review": (STAFF, lambda: []),
    "support:imports": (STAFF, lambda: []),
    "support:import_run": (
        STAFF,
        lambda: [ImportRun.objects.order_by("pk").values_list("pk", flat=True).first() or 1],
    ),
    "support:review_decide": (STAFF, lambda: [held_text().pk]),
    "support:experiments": (STAFF, lambda: []),
    "support:experiment_new": (STAFF, lambda: []),
    "support:experiment": (STAFF, lambda: [walk_experiment()]),
    "support:experiment_approve": (STAFF, lambda: [walk_experiment()]),
    "support:experiment_start": (STAFF, lambda: [walk_experiment()]),
    "support:experiment_stop": (STAFF, lambda: [walk_experiment()]),
    "delivery:metrics": (ANYONE, lambda: []),
    "delivery:sandbox_receive": (ANYONE, lambda: ["crm"]),
    "inbound:receive": (ANYONE, lambda: ["texts"]),
    "inbound:receive_with_secret": (ANYONE, lambda: ["texts", "not-the-secret"]),
    "preferences:home": (ANYONE, lambda: []),
    "preferences:start": (ANYONE, lambda: []),
    "preferences:link": (ANYONE, lambda: [make_token(ada())]),
    "preferences:page": (CUSTOMER, lambda: []),
    "preferences:undo": (CUSTOMER, lambda: []),
    "preferences:leave": (CUSTOMER, lambda: []),
    "preferences:history": (CUSTOMER, lambda: []),
    "preferences:receipt": (
        CUSTOMER,
        lambda: [ConsentEvent.objects.filter(customer=ada()).latest("sequence").sequence],
    ),
    "preferences:sign_out": (CUSTOMER, lambda: []),
    "preferences:language": (CUSTOMER, lambda: []),
    "preferences:confirm_email": (ANYONE, lambda: [make_token(ada(), CONFIRM_EMAIL)]),
    "preferences:unsubscribe": (
        ANYONE,
        lambda: ["channel:email", make_token(ada(), UNSUBSCRIBE, "channel:email")],
    ),
}

SKIPPED = {
    "admin": "walked model by model in tests/test_admin_walk.py",
    "api:schema": "the OpenAPI document, generated from the code: reads nothing of a customer",
    "api:docs": "the Swagger page around the schema: static",
    "preferences:brand_css": "the brand's colours from settings: static",
}

# URL name -> the valid requests a caller would make (beyond an empty body and junk); the data is built lazily.
BODIES = {
    "account_request_login_code": lambda: [{"email": "ada@example.com"}],
    "account_confirm_login_code": lambda: [{"code": "ABCDEF"}],
    "support:sign_in": lambda: [{"login": "walker", "password": "correct horse battery"}],
    "support:enrol": lambda: [{"code": "000000"}],
    "support:change": lambda: [
        {"channel:sms|answer": "no", "how_asked": "phone", "note": "Stop texts."},
        {"channel:push|answer": "yes", "how_asked": "phone", "note": "Push please."},
        {"topic:news|answer": "yes", "topic:news|channels": ["push"], "how_asked": "phone", "note": "News."},
    ],
    "support:retry_delivery": lambda: [{}],
    "support:experiment_new": lambda: [
        {"name": "New", "purpose": "topic:news", "value_en_A": "a", "value_de_A": "a", "value_en_B": "b"}
    ],
    "support:experiment_stop": lambda: [{"winner": "B"}],
    "support:ledger": lambda: [{"customer": ada().pk}],
    "support:review_decide": lambda: [{"decision": "revocation"}, {"decision": "not_revocation"}],
    "support:erase": lambda: [{"how_asked": "letter", "note": "Signed letter.", "confirm": "on"}],
    "delivery:sandbox_receive": lambda: [{"type": "permissions.updated", "customer": "ada"}],
    "inbound:receive": lambda: [{"Body": "START", "From": "+4915112345678"}],
    "inbound:receive_with_secret": lambda: [{"Body": "START", "From": "+4915112345678"}],
    "preferences:page": lambda: [
        {"section": "channels", "channel": ["email", "sms", "push"], **nv(*CHANNELS)},
        {"section": "location", "level": "precise", "location_days": "7", **nv("location")},
        {
            "section": "personalization",
            "depth": "activity",
            "customer": Customer.objects.get(external_id="bob").pk,
        },
        {"action": "resend_email", "section": "channels"},
        {"action": "verify_sms", "code": "000000"},
    ],
    "preferences:undo": lambda: [{"undo": "forged"}],
    "preferences:leave": lambda: [{"action": "monthly"}, {"action": "pause"}, {"action": "everything"}],
    "preferences:language": lambda: [{"language": "de", "next": "/preferences/"}],
    "preferences:unsubscribe": lambda: [{"List-Unsubscribe": "One-Click"}],
    "api:customer": lambda: [{"email": "eve@example.com"}, {"phone": "+4915199999999", "locale": "de"}],
    "api:customer-consents": lambda: [
        {"choices": [api_choice("channel:push")]},
        {"choices": [api_choice("location", value={"level": "precise"})]},
        {"choices": [api_choice("channel:sms", "withdrawn")]},
    ],
    "api:consents-batch": lambda: [
        {"lines": [{"id": "l-1", "external_id": "ada", "choices": [api_choice("channel:push")]}]},
        {"lines": [{"id": "l-2", "external_id": "bob", "choices": [api_choice("channel:sms")]}]},
    ],
    "api:customer-inferences": lambda: [
        {
            "inferences": [
                {
                    "code": "runner",
                    "label": {"en": "Runs"},
                    "source": "purchases",
                    "purpose": "personalization",
                }
            ]
        },
        {"inferences": []},
    ],
    "api:links": lambda: [{"external_id": "ada", "kind": "page"}],
    "api:decisions": lambda: [{"external_id": "ada", "channel": "email", "topic": "offers"}],
    "api:messages": lambda: [{"external_id": "ada", "channel": "email", "topic": "offers"}],
}


# URL name -> requests signed the way only the provider can (the walk's own bodies are refused unsigned).
SIGNED = {
    "inbound:receive": [
        lambda http: twilio_post(http, texts(), Body="STOP"),
        lambda http: twilio_post(http, texts(), Body="START"),
    ],
}

# The doors whose valid requests above do reach the write path (the rest only read, or refuse what the walk sends).
WRITERS = {
    "api:consents-batch",
    "api:customer",
    "api:customer-consents",
    "inbound:receive",
    "preferences:confirm_email",
    "preferences:leave",
    "preferences:page",
    "preferences:unsubscribe",
    "support:change",
    "support:erase",
    "support:review_decide",
}

WORDING = """[en]
what_we_ask = "Sign up for our emails."
what_you_get = "News and offers."
what_we_do = "Send you email."
what_we_never_do = "Sell your address."
"""


def wording(tmp) -> str:
    (tmp / "wording.toml").write_text(WORDING)
    return str(tmp / "wording.toml")


def mailchimp_export(tmp) -> str:
    """Mailchimp's export (Ada among its rows) with the legacy notices it was collected under."""
    export = tmp / "audience.csv"
    if export.exists():
        return str(export)
    for purpose in ("channel:email", "topic:news", "topic:offers"):
        call_command("add_legacy_notice", purpose, "--source", "mailchimp", "--wording", wording(tmp))
    export.write_bytes((FIXTURES / "mailchimp_subscribed.csv").read_bytes())
    return str(export)


def location_shared_until_a_minute_ago(tmp) -> list:
    """Bob shared his city for a day, a day ago: the expiry is due."""
    with time_machine.travel(timezone.now() - timedelta(days=1, minutes=1)):
        record_choices(
            customer=Customer.objects.get(external_id="bob"),
            choices=[
                make_choice(
                    "location", value={"level": "city"}, expires_at=timezone.now() + timedelta(days=1)
                )
            ],
            provenance=Provenance(source="web", actor="customer"),
        )
    return []


IMPORT = ["--format", "mailchimp", "--source", "mailchimp", "--map", str(FIXTURES / "topics.toml")]

# Command -> the argument lists to run it with, each a function of a scratch directory.
COMMANDS = {
    "resync_destination": [lambda tmp: ["crm"], lambda tmp: ["crm", "--restart"], lambda tmp: ["nowhere"]],
    "replay_dead": [lambda tmp: [], lambda tmp: ["crm"], lambda tmp: ["--id", "999999"]],
    "add_destination": [
        lambda tmp: ["hook", "--endpoint", "http://127.0.0.1:9/hook"],
        lambda tmp: ["bad", "--endpoint", "not a url"],
    ],
    "seed_demo_destinations": [lambda tmp: []],
    "customer_link": [
        lambda tmp: ["ada"],
        lambda tmp: ["ada@example.com", "--revoke"],
        lambda tmp: ["nobody"],
    ],
    "list_unsubscribe_headers": [lambda tmp: ["ada"], lambda tmp: ["ada", "--topic", "news"]],
    "create_api_client": [
        lambda tmp: ["crm-2", "--scopes", *ApiClient.Scope.values],
        lambda tmp: ["Not a slug!", "--scopes", "permissions:read"],
    ],
    "revoke_api_client": [lambda tmp: ["shop"], lambda tmp: ["nobody"]],
    "prune_idempotency_keys": [lambda tmp: [], lambda tmp: ["--hours", "0"]],
    "add_inbound_source": [
        lambda tmp: ["texts-2", "--kind", "twilio", "--auth-token", "x" * 32],
        lambda tmp: ["mails", "--kind", "sendgrid", "--public-key", "not a key"],
    ],
    "list_imports": [lambda tmp: [], lambda tmp: ["1"]],
    "import_consents": [
        lambda tmp: [mailchimp_export(tmp), *IMPORT, "--dry-run"],
        lambda tmp: [mailchimp_export(tmp), *IMPORT],
        lambda tmp: [str(tmp / "missing.csv"), *IMPORT],
    ],
    "invite_staff": [lambda tmp: [make_staff(None, mfa=False).username], lambda tmp: ["nobody"]],
    "rebuild_snapshots": [lambda tmp: []],
    "verify_ledger": [lambda tmp: [], lambda tmp: ["--customer", str(ada().pk)]],
    "publish_notice": [lambda tmp: ["personalization", "2"], lambda tmp: ["location", "99"]],
    "resubscriptions": [lambda tmp: ["--since", "2020-01-01"]],
    "ledger_checkpoint": [lambda tmp: [], lambda tmp: ["--latest"]],
    "expire_consents": [location_shared_until_a_minute_ago],
    "seed_demo": [lambda tmp: ["--customers", "3"], lambda tmp: ["--customers", "-1"]],
    "add_legacy_notice": [
        lambda tmp: ["channel:email", "--source", "mailchimp", "--wording", wording(tmp)],
        lambda tmp: ["channel:email", "--source", "mailchimp", "--wording", str(tmp / "missing.toml")],
    ],
}

# The commands whose runs above reach the write path.
WRITING_COMMANDS = {"expire_consents", "import_consents", "seed_demo"}


def our_commands() -> set[str]:
    return {name for name, app in get_commands().items() if app.startswith("apps.")}


def url_names(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}"


def walked(name: str) -> bool:
    return name.split(":")[0] not in SKIPPED and name not in SKIPPED


def caller(kind: str):
    if kind == API:
        http = APIClient()
        http.credentials(
            HTTP_AUTHORIZATION=f"Bearer {api_client_create(name='walker', scopes=ApiClient.Scope.values)[1]}"
        )
        return http
    client = Client()
    if kind == STAFF:
        ensure_roles()
        staff = make_staff(None, username="walker")
        staff.groups.set(Group.objects.all())
        sign_in(client, staff)
    elif kind == CUSTOMER:
        client.get(reverse("preferences:link", args=[make_token(ada())]))
    return client


@pytest.fixture
def world(catalog, eager_celery, settings):
    settings.SMS_BACKEND = "apps.preferences.sms.LocmemSmsBackend"
    settings.API_RATE_LIMIT = "1000/min"
    seed_world()


def test_the_walk_covers_every_url():
    # A name in DOORS says how to reach it; one in SKIPPED says why it cannot write.
    assert {name for name in url_names() if walked(name)} == set(DOORS)


def requests(http, path, name, kind, bodies):
    """GET, then each body by every writing method (an API) or as a plain and an htmx form post (a page)."""
    yield "GET", lambda: http.get(path)
    for number, body in enumerate(bodies):
        if kind == API:
            for method in ("post", "put", "patch", "delete"):
                yield f"{method} {number}", lambda m=method, b=body: getattr(http, m)(path, b, format="json")
        else:
            yield f"post {number}", lambda b=body: http.post(path, b)
            yield f"htmx post {number}", lambda b=body: http.post(path, b, HTTP_HX_REQUEST="true")
    for number, signed in enumerate(SIGNED.get(name, [])):
        yield f"signed post {number}", lambda signed=signed: signed(http)


@pytest.mark.parametrize("name", sorted(DOORS))
def test_no_url_changes_consent_without_the_ledger(world, name):
    kind, args = DOORS[name]
    http = caller(kind)
    path = reverse(name, args=args())
    at = timezone.now()
    first = ConsentEvent.objects.count()
    for door, call in requests(http, path, name, kind, [{}, JUNK, *BODIES.get(name, list)()]):
        before = seen(at)
        call()
        assert unrecorded_changes(before, seen(at)) == [], f"{name} {door}"
    # The walk is no walk if its caller was turned away at every door that can write.
    assert (ConsentEvent.objects.count() > first) == (name in WRITERS), name


def test_the_walk_covers_every_command():
    assert our_commands() == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_command_changes_consent_without_the_ledger(world, name, tmp_path):
    at = timezone.now()
    first = ConsentEvent.objects.count()
    for number, arguments in enumerate(COMMANDS[name]):
        arguments = arguments(tmp_path)  # what it sets up is not the door
        before = seen(at)
        # A refusal is fine: the invariant says it wrote nothing behind the ledger's back either.
        with contextlib.suppress(CommandError):
            call_command(name, *arguments)
        assert unrecorded_changes(before, seen(at)) == [], f"{name} {number}"
    assert (ConsentEvent.objects.count() > first) == (name in WRITING_COMMANDS), name
