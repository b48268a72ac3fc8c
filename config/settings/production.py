"""Production: everything in base, plus refusal to run on any demo default, and the deploy hardening.

Each refusal names the variable to set: an embedded default (SQLite, a per-process cache, tasks inside requests,
mail and texts printed to the log, keys derived from SECRET_KEY) must never reach production silently.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    DATABASES,
    EMAIL_BACKEND,
    INSECURE_DEFAULT_SECRET_KEY,
    MIDDLEWARE,
    REDIS_URL,
    SECRET_KEY,
    SMS_BACKEND,
    env,
)


def random_key(name: str, value: str, *, other_keys: dict[str, str]) -> str:
    """A key of its own: long, random-looking, and not another key (one leaked key must not open the rest)."""
    if value == INSECURE_DEFAULT_SECRET_KEY or len(value) < 50 or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{name} must be set to a random value of at least 50 characters in production "
            f'(python -c "import secrets; print(secrets.token_urlsafe(64))"), or {name}_FILE to a file holding it.'
        )
    for other_name, other in other_keys.items():
        if value == other:
            raise ImproperlyConfigured(f"{name} must differ from {other_name} in production.")
    return value


random_key("SECRET_KEY", SECRET_KEY, other_keys={})
# Keyed hashes of IP addresses and user agents in the ledger: a key of their own, so rotating SECRET_KEY (which
# signs sessions and links) leaves every recorded hash comparable.
LEDGER_EVIDENCE_KEY = random_key(
    "LEDGER_EVIDENCE_KEY", env.str("LEDGER_EVIDENCE_KEY", default=""), other_keys={"SECRET_KEY": SECRET_KEY}
)
LEDGER_CHECKPOINT_KEY = random_key(
    "LEDGER_CHECKPOINT_KEY",
    env.str("LEDGER_CHECKPOINT_KEY", default=""),
    other_keys={"SECRET_KEY": SECRET_KEY, "LEDGER_EVIDENCE_KEY": LEDGER_EVIDENCE_KEY},
)

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must be set to a PostgreSQL database in production "
        "(postgres://user:password@host:5432/candor): the embedded SQLite file serialises every writer, and the "
        "change feed and the delivery locks are built on PostgreSQL."
    )
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL must be set in production (redis://host:6379/0): it is the Celery broker and the shared cache; "
        "without it tasks run inside web requests and every process keeps rate limits of its own."
    )

# Login codes and signed links go out by mail: a backend that prints, stores or drops them is a demo default.
DEMO_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
if EMAIL_BACKEND in DEMO_EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        "EMAIL_URL must be set to a real mail transport in production (smtp+ssl://user:password@host:465, or "
        "smtps://user:password@host:587 for STARTTLS; or EMAIL_BACKEND to a real backend): customers' login "
        "codes and signed links would be printed to the log."
    )
# EMAIL_URL's host and TLS flags, when it set them (Django's defaults otherwise: localhost, no TLS).
smtp = globals()
if (
    EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    and not (smtp.get("EMAIL_USE_TLS") or smtp.get("EMAIL_USE_SSL"))
    and smtp.get("EMAIL_HOST", "localhost") not in LOOPBACK_HOSTS
):
    raise ImproperlyConfigured(
        "EMAIL_URL must use TLS in production (smtp+ssl:// or smtps://): login codes would cross the network in "
        "clear. Plain smtp:// is accepted only to a relay on this machine (localhost)."
    )

DEMO_SMS_BACKENDS = {"apps.preferences.sms.ConsoleSmsBackend", "apps.preferences.sms.LocmemSmsBackend"}
if SMS_BACKEND in DEMO_SMS_BACKENDS:
    raise ImproperlyConfigured(
        "SMS_BACKEND must be set in production: the dotted path of a class with send(to=, text=) that reaches an "
        "SMS provider, or `none` (customers cannot switch text messages on). The default prints verification "
        "codes to the log."
    )

DEBUG = False
# The demo's receiver shows what was sent to it, customers' addresses included: never in production, whatever
# the database or the environment says.
DELIVERY_SANDBOX = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# Every link in an email (preferences, confirmation, one-click unsubscribe) starts with it: the embedded default
# would send customers to 127.0.0.1.
SITE_URL = env.str("SITE_URL", default="")
if not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "SITE_URL must be set to the public https:// address customers reach Candor at in production "
        "(e.g. https://preferences.example.com/): every link in an email starts with it."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Static files: WhiteNoise serves STATIC_ROOT (filled by `manage.py collectstatic`) from the app itself, right after
# SecurityMiddleware so HTTPS redirect and HSTS still apply. Hashed names let it send a year-long Cache-Control;
# compressed copies are made at collectstatic. The test suite keeps base's plain storage and needs no collectstatic.
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

if env.bool("DELIVERY_ALLOW_PRIVATE_DESTINATIONS", default=False):
    raise ImproperlyConfigured(
        "DELIVERY_ALLOW_PRIVATE_DESTINATIONS is for development and tests: in production destinations must be "
        "public https:// (or amqps://) addresses."
    )
