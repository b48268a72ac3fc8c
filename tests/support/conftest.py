import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.support.roles import ensure_roles
from tests.factories import CustomerFactory, make_choice

ROLES = {"agent": "Support agent", "officer": "Privacy officer", "marketing": "Marketing admin"}
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def make_staff(role: str | None, *, username: str | None = None, mfa: bool = True):
    username = username or f"{role or 'plain'}-staff"
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@staff.example", password="correct horse battery", is_staff=True
    )
    if role:
        ensure_roles()  # a transactional test before this one may have emptied the groups
        user.groups.add(Group.objects.get(name=ROLES[role]))
    if mfa:
        add_totp(user)
    return user


def add_totp(user):
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(TOTP_SECRET)}
    )


def sign_in(client, user, methods=("password", "mfa")):
    """What allauth leaves in the session after a password and a TOTP code (or only the given methods)."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    request = RequestFactory().get("/")
    request.session = client.session
    for method in methods:
        record_authentication(request, user, method)
    request.session.save()
    return client


@pytest.fixture
def agent(db):
    return make_staff("agent")


@pytest.fixture
def officer(db):
    return make_staff("officer")


@pytest.fixture
def agent_client(client, agent):
    return sign_in(client, agent)


@pytest.fixture
def officer_client(client, officer):
    return sign_in(client, officer)


@pytest.fixture
def customer_with_history(catalog):
    customer = CustomerFactory(name="Ada Lovelace", email="ada@example.com", phone="+4915112345678")
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:sms"),
            make_choice("topic:offers", value={"channels": ["sms"]}),
            make_choice("location", value={"level": "city"}),
        ],
        provenance=Provenance(source="web", actor="customer"),
        ip_address="203.0.113.9",
        user_agent="Firefox",
    )
    record_choices(
        customer=customer,
        choices=[make_choice("location", state="withdrawn")],
        provenance=Provenance(source="api", actor="api:crm"),
    )
    return customer
