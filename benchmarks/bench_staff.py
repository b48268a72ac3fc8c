"""Helpers the benchmarks share: a signed-in staff member's client, and timing (call after ``django.setup()``)."""

import time

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client


def staff_client(role: str) -> Client:
    """A test client signed in, with both factors, as a staff member holding ``role``."""
    user, _ = get_user_model().objects.get_or_create(
        username=f"bench-{role.lower().replace(' ', '-')}", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name=role))
    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": encrypt("JBSWY3DPEHPK3PXP")}}
    )
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    # Proved now: the gate ends a session older than STAFF_SESSION_MAX_AGE, counted from these times.
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time()},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client


def timed(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]
