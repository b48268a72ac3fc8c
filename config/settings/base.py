"""Settings read from environment variables only.

With nothing set, Candor runs embedded: SQLite under var/, tasks in-process after commit, mail to the console.
Production and the test suite set DATABASE_URL and REDIS_URL; config.settings.production adds the hardening.
Any variable may instead be read from a file named by NAME_FILE (Docker and Kubernetes secrets).
"""

import re
from datetime import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from environ.fileaware_mapping import FileAwareMapping

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class SecretFiles(FileAwareMapping):
    """``NAME_FILE`` wins over ``NAME``; a secret file's final newline is no part of the secret."""

    def __getitem__(self, key):
        return super().__getitem__(key).rstrip("\r\n")


class Env(environ.Env):
    ENVIRON = SecretFiles()


env = Env()

DEBUG = env.bool("DEBUG", default=False)
# The embedded default needs some key; production.py refuses to start with this one.
INSECURE_DEFAULT_SECRET_KEY = "insecure-embedded-default-only-for-make-demo"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "apps.support.apps.StaffAdminConfig",  # django.contrib.admin behind the staff gate
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "allauth",
    "allauth.account",
    "csp",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our own static files rather than a CDN
]
LOCAL_APPS = [
    "apps.catalog",
    "apps.customers",
    "apps.consent",
    "apps.delivery",
    "apps.preferences",
    "apps.support",
    "apps.api",
    "apps.imports",
    "apps.insights",
    "apps.inbound",
    "apps.experiments",
    "apps.demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "apps.api.exceptions.ProblemJsonMiddleware",  # first: every error under /api/ as application/problem+json
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "csp.middleware.CSPMiddleware",
]

# --- Staff sign-in for the support console (issue 6): allauth's MFA app (TOTP) ---------------------------------
# The customers' allauth set-up below (login by code, no passwords) stays as it is: staff sign in at
# /support/sign-in/ with email and password, then a TOTP code; apps.support.access sends a staff account without
# a TOTP authenticator to allauth's setup page before any customer data shows.
INSTALLED_APPS += ["allauth.mfa"]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Candor support")
MFA_TOTP_TOLERANCE = 1  # accept the neighbouring 30-second step too: phone clocks drift
# allauth's own setup page refuses: the first authenticator comes only through an invitation link (invite_staff).
MFA_FORMS = {"activate_totp": "apps.support.views.enrol.InvitationOnlyTOTPForm"}
STAFF_INVITE_MAX_AGE = env.int("STAFF_INVITE_MAX_AGE", default=48 * 3600)
# A staff session ends this long after sign-in whatever happens, and after this long without a staff page.
STAFF_SESSION_MAX_AGE = env.int("STAFF_SESSION_MAX_AGE", default=12 * 3600)
STAFF_SESSION_IDLE_TIMEOUT = env.int("STAFF_SESSION_IDLE_TIMEOUT", default=30 * 60)
# Erasure and the exports want the password and the code proved again within this many seconds.
STAFF_REAUTHENTICATION_TIMEOUT = env.int("STAFF_REAUTHENTICATION_TIMEOUT", default=5 * 60)
if STAFF_SESSION_MAX_AGE > 12 * 3600:
    raise ImproperlyConfigured("STAFF_SESSION_MAX_AGE may be at most 12 hours (43200 seconds).")
# --- end of the staff sign-in block ---------------------------------------------------------------------------

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
                "apps.preferences.context_processors.brand",
            ],
        },
    },
]

EMBEDDED_DATABASE_PATH = BASE_DIR / "var" / "candor.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{EMBEDDED_DATABASE_PATH}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection is checked before a request uses it: after PostgreSQL dropped it (a restart, a fail-over),
# the next request opens a new one instead of failing.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
EMBEDDED = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if EMBEDDED:
    EMBEDDED_DATABASE_PATH.parent.mkdir(exist_ok=True)
    # Writers wait for the lock instead of failing at once; IMMEDIATE takes it at BEGIN, which is
    # what serialises concurrent writers on SQLite (there is no SELECT ... FOR UPDATE).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# smtp+ssl://user:password@host:465 (TLS), smtps://…:587 (STARTTLS): backend, host, port, user, password, TLS.
if "EMAIL_URL" in env:
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="preferences@candor.localhost")

# Celery: JSON only, acknowledged late so a crashed worker's task is delivered again.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # a host, so kombu does not warn on every start
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=45)
# Longer than any task may run, so Redis does not hand an unacknowledged task to a second worker. A publish finds
# out at once that the broker is down instead of retrying for seconds (a save would wait that long in the
# after-commit hook): what was not queued, the sweeper picks up. Workers reconnect by their own rules.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * CELERY_TASK_TIME_LIMIT, "max_retries": 0}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection around every task unless told to reuse it, so each send
# task paid for a new PostgreSQL connection. Reused, the connection is closed by Django's own rules instead
# (CONN_MAX_AGE, or errors), checked around each task as around a request (config/celery_app.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = env.str(
    "CELERY_BEAT_SCHEDULER", default="django_celery_beat.schedulers:DatabaseScheduler"
)
# Only for a file-based scheduler (celery.beat:PersistentScheduler), as the reliability tests use.
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default="celerybeat-schedule")
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="celery")

# Delivery of permission documents to destinations (apps.delivery). Sends run on their own queue (a worker
# runs with -Q celery,delivery), so fan-out and the sweeper never wait behind a slow destination; a destination
# may name a queue of its own.
DELIVERY_QUEUE = env.str("DELIVERY_QUEUE", default="delivery")
CELERY_TASK_ROUTES = {"apps.delivery.tasks.send_deliveries": {"queue": DELIVERY_QUEUE}}
DELIVERY_SWEEP_SECONDS = env.float("DELIVERY_SWEEP_SECONDS", default=5.0)
# A first attempt is left to the fast path for this long before the sweeper hands it out again.
DELIVERY_SWEEP_GRACE_SECONDS = env.float("DELIVERY_SWEEP_GRACE_SECONDS", default=10.0)
# Seconds to wait after the 1st, 2nd, … failure: about three days in all (Standard Webhooks' schedule, extended).
DELIVERY_RETRY_SCHEDULE = env.list(
    "DELIVERY_RETRY_SCHEDULE", cast=float, default=[5, 300, 1800, 7200, 18000, 36000, 36000, 72000, 86400]
)
DELIVERY_HTTP_TIMEOUT = env.float("DELIVERY_HTTP_TIMEOUT", default=10.0)
# No request of a send task starts later than this after the first, well inside the soft time limit, so a
# hanging destination is recorded as failing (and in time dead) instead of cut off with nothing recorded.
DELIVERY_BATCH_SECONDS = env.float("DELIVERY_BATCH_SECONDS", default=20.0)
DELIVERY_MAX_PARALLEL_SENDS = env.int("DELIVERY_MAX_PARALLEL_SENDS", default=8)
# Send tasks working on one destination at once (the rest return at once): a slow or failing destination holds
# at most this many worker processes, so it never delays the others. Keep it below the delivery worker's -c.
DELIVERY_DESTINATION_CONCURRENCY = env.int("DELIVERY_DESTINATION_CONCURRENCY", default=2)
# A send task's claim on its customers; renewed every third of it while the task works. A killed task's
# customers are sent again (same message ids) this long after it died.
DELIVERY_LEASE_SECONDS = env.float("DELIVERY_LEASE_SECONDS", default=15.0)
# Destinations on loopback, private or link-local addresses, and plain http:// / amqp://. For development and the
# test suite only (their receivers listen on 127.0.0.1); production refuses to start with it.
DELIVERY_ALLOW_PRIVATE_DESTINATIONS = env.bool("DELIVERY_ALLOW_PRIVATE_DESTINATIONS", default=False)
# Requests of one batch (one per customer) sent side by side from a task; 1: one after another.
DELIVERY_SEND_THREADS = env.int("DELIVERY_SEND_THREADS", default=4)
# Bearer token for /delivery/metrics (Prometheus). Empty: nobody (staff see the same in the admin).
DELIVERY_METRICS_TOKEN = env.str("DELIVERY_METRICS_TOKEN", default="")
# The in-app receiver the demo sends to (shown to staff at /support/sandbox/); on by default only when
# embedded, and always off in production (config.settings.production).
DELIVERY_SANDBOX = env.bool("DELIVERY_SANDBOX", default=EMBEDDED)
# After the fast path failed to reach the broker, it is not tried again for this long (the sweeper covers).
DELIVERY_FAST_PATH_PAUSE_SECONDS = env.float("DELIVERY_FAST_PATH_PAUSE_SECONDS", default=10.0)
# Called after commit whenever the write path wrote an outbox row: the delivery side's fast path.
CONSENT_ON_OUTBOX_COMMIT = env.str("CONSENT_ON_OUTBOX_COMMIT", default="apps.delivery.tasks.on_outbox_commit")
# The earliest captured time (consent captured elsewhere, an import's opt-in or confirmation) accepted: older
# claims are more likely a broken export than a real consent.
CONSENT_CAPTURED_AT_FLOOR = datetime.fromisoformat(
    env.str("CONSENT_CAPTURED_AT_FLOOR", default="2000-01-01T00:00:00+00:00")
)
if CONSENT_CAPTURED_AT_FLOOR.tzinfo is None:
    raise ValueError("CONSENT_CAPTURED_AT_FLOOR needs a time zone offset, e.g. 2010-01-01T00:00:00+00:00.")
# Exports a privacy officer uploads in the support console are kept here (one folder per upload), with the
# rejected rows beside them.
IMPORT_UPLOAD_DIR = Path(env.str("IMPORT_UPLOAD_DIR", default=str(BASE_DIR / "var" / "imports")))
# The task that works an uploaded import runs for as long as the file takes, up to this many seconds (not the
# default task limit).
IMPORT_TASK_TIME_LIMIT = env.int("IMPORT_TASK_TIME_LIMIT", default=6 * 3600)
# Double opt-in mails Candor sends itself (page, API, console, imports): at most this many per customer an hour.
EMAIL_CONFIRMATIONS_PER_HOUR = env.int("EMAIL_CONFIRMATIONS_PER_HOUR", default=3)
# A revocation is sent to every destination from this queue, ahead of routine changes (workers take it too).
DELIVERY_PRIORITY_QUEUE = env.str("DELIVERY_PRIORITY_QUEUE", default="delivery-priority")

# Inbound sources (apps/inbound): when a revocation reported back must be honoured, per channel: <hours>h or
# <business days>bd. Gmail's and Yahoo's bulk-sender rules ask 48 h for email; CAN-SPAM and the FCC's TCPA rule
# give ten business days. A channel not named gets the ten business days.
INBOUND_DEADLINES = env.dict("INBOUND_DEADLINES", default={"email": "48h", "sms": "10bd", "push": "48h"})
# A signed timestamp older than this (SendGrid; Standard Webhooks checks its own) is refused as a replay.
INBOUND_SIGNATURE_TOLERANCE_SECONDS = env.int("INBOUND_SIGNATURE_TOLERANCE_SECONDS", default=300)
# /delivery/metrics reports on the revocations received over this many days.
INBOUND_METRICS_DAYS = env.int("INBOUND_METRICS_DAYS", default=7)
# A report that changes choices is kept as received and recorded from the priority queue; beat's sweep records,
# this often and up to this many a run, any still waiting after INBOUND_SWEEP_AFTER_SECONDS (its queued recording
# lost, or the broker down when it came).
INBOUND_SWEEP_SECONDS = env.float("INBOUND_SWEEP_SECONDS", default=15.0)
INBOUND_SWEEP_AFTER_SECONDS = env.int("INBOUND_SWEEP_AFTER_SECONDS", default=10)
INBOUND_SWEEP_BATCH = env.int("INBOUND_SWEEP_BATCH", default=5000)

# Publishing a material notice version in the admin invalidates older consents from a Celery task, this many
# customers a run (each run queues the next), so every run ends well inside the task time limit.
NOTICE_INVALIDATION_BATCH_SIZE = env.int("NOTICE_INVALIDATION_BATCH_SIZE", default=1000)
# A sweep finishes what a publication left undone (the broker was down, a chain stopped early) this often; a
# version whose chain ran within this time is left to it.
NOTICE_INVALIDATION_SWEEP_SECONDS = env.int("NOTICE_INVALIDATION_SWEEP_SECONDS", default=600)

# How often Celery beat takes a ledger checkpoint (docs/ledger.md).
LEDGER_CHECKPOINT_SECONDS = env.int("LEDGER_CHECKPOINT_SECONDS", default=3600)

# Notice exposures (apps.customers.models.Exposure: which version was shown to whom) are kept this long, purged
# daily; the insights rollups keep their counts (docs/insights.md).
EXPOSURE_RETENTION_DAYS = env.int("EXPOSURE_RETENTION_DAYS", default=400)

# Insights (apps/insights, docs/insights.md): beat adds new ledger events and exposures to the rollups this often,
# at most this many batches of this many rows a run; a row younger than the settle time waits for the next run
# (a longer transaction may still commit a lower id). Who allows what is recounted from the permission documents
# this often; "answered in the period" means a choice changed within this many days.
INSIGHTS_ROLLUP_SECONDS = env.float("INSIGHTS_ROLLUP_SECONDS", default=300.0)
INSIGHTS_BATCH_SIZE = env.int("INSIGHTS_BATCH_SIZE", default=5000)
INSIGHTS_BATCHES_PER_RUN = env.int("INSIGHTS_BATCHES_PER_RUN", default=20)
INSIGHTS_SETTLE_SECONDS = env.int("INSIGHTS_SETTLE_SECONDS", default=60)
INSIGHTS_RECOUNT_SECONDS = env.float("INSIGHTS_RECOUNT_SECONDS", default=3600.0)
INSIGHTS_PERIOD_DAYS = env.int("INSIGHTS_PERIOD_DAYS", default=30)
INSIGHTS_RECOUNT_TIME_LIMIT = env.int("INSIGHTS_RECOUNT_TIME_LIMIT", default=1800)

CELERY_BEAT_SCHEDULE = {
    "purge-exposures": {"task": "apps.customers.tasks.purge_exposures", "schedule": 86400.0},
    "roll-up-insights": {"task": "apps.insights.tasks.roll_up", "schedule": INSIGHTS_ROLLUP_SECONDS},
    "recount-insights-shares": {
        "task": "apps.insights.tasks.recount_shares",
        "schedule": INSIGHTS_RECOUNT_SECONDS,
    },
    "expire-time-boxed-consents": {"task": "apps.consent.tasks.expire_consents", "schedule": 60.0},
    "take-ledger-checkpoint": {
        "task": "apps.consent.tasks.take_ledger_checkpoint",
        "schedule": float(LEDGER_CHECKPOINT_SECONDS),
    },
    "sweep-deliveries": {"task": "apps.delivery.tasks.sweep", "schedule": DELIVERY_SWEEP_SECONDS},
    "record-waiting-inbound-reports": {
        "task": "apps.inbound.tasks.record_waiting_reports",
        "schedule": INBOUND_SWEEP_SECONDS,
    },
    "prune-idempotency-keys": {"task": "apps.api.tasks.prune_idempotency_keys", "schedule": 3600.0},
    "sweep-notice-invalidations": {
        "task": "apps.consent.tasks.sweep_notice_invalidations",
        "schedule": float(NOTICE_INVALIDATION_SWEEP_SECONDS),
    },
    "stop-experiments-on-guardrail-breaches": {
        "task": "apps.experiments.tasks.stop_on_guardrail_breaches",
        "schedule": env.float("EXPERIMENT_GUARDRAIL_SECONDS", default=900.0),
    },
    # A narrowing catalog change reaches every permission document (apps.consent.services.refresh_documents).
    "refresh-documents-after-catalog-change": {
        "task": "apps.consent.tasks.refresh_documents_after_catalog_change",
        "schedule": env.float("CATALOG_REFRESH_SECONDS", default=60.0),
    },
}

# The REST API (apps/api): API keys, scopes, one rate limit per client, errors as application/problem+json.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/min")
# How long a process may trust a key it has checked: a revocation elsewhere takes effect within this time.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5)
# How long a write's answer is replayed for a retry with the same Idempotency-Key; pruned every hour.
API_IDEMPOTENCY_KEY_HOURS = env.int("API_IDEMPOTENCY_KEY_HOURS", default=24)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.api.exceptions.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Candor API",
    "DESCRIPTION": "Permissions for marketing systems: read what each customer allows, follow the changes, "
    "and record consent captured elsewhere. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"LanguageEnum": "apps.customers.models.Customer.Locale"},
    # From drf-spectacular-sidecar's static files: the CSP allows scripts and styles from 'self' only.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Customers: signed links and accounts (django-allauth, email login by code only; no passwords, no signup).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000/")
CUSTOMER_LINK_MAX_AGE = env.int("CUSTOMER_LINK_MAX_AGE", default=30 * 24 * 3600)
EMAIL_CONFIRMATION_MAX_AGE = env.int("EMAIL_CONFIRMATION_MAX_AGE", default=7 * 24 * 3600)
# Unsubscribe links must keep working long after the mail was sent.
UNSUBSCRIBE_LINK_MAX_AGE = env.int("UNSUBSCRIBE_LINK_MAX_AGE", default=400 * 24 * 3600)
# "none": no SMS transport; customers cannot switch text messages on (the page says so).
SMS_BACKEND = env.str("SMS_BACKEND", default="apps.preferences.sms.ConsoleSmsBackend")
SMS_BACKEND = None if SMS_BACKEND == "none" else SMS_BACKEND
SMS_CODE_TIMEOUT = 10 * 60
SMS_CODE_MAX_ATTEMPTS = 5
SMS_CODES_PER_HOUR = 3
LOGIN_URL = "account_request_login_code"
LOGIN_REDIRECT_URL = "preferences:page"
# Who the consent receipts name as the controller (ISO/IEC TS 27560 / Kantara "piiControllers").
CONSENT_RECEIPT_CONTROLLER = {
    "name": env.str("CONTROLLER_NAME", default="Candor Outfitters Ltd."),
    "contact": env.str("CONTROLLER_CONTACT", default="Data Protection Officer"),
    "address": env.str("CONTROLLER_ADDRESS", default="1 Example Street, London"),
    "email": env.str("CONTROLLER_EMAIL", default="privacy@candor.localhost"),
    "url": env.str("CONTROLLER_URL", default="https://candor.localhost/"),
    "policy_url": env.str("PRIVACY_POLICY_URL", default="https://candor.localhost/privacy"),
    "jurisdiction": env.str("CONTROLLER_JURISDICTION", default="EU"),
}
# The brand on the customer's pages and emails: configuration, not template text. Colours go into CSS custom
# properties (/brand.css), so they must be plain hex colours; the logo is served from our own origin (the CSP
# allows no other images), e.g. a file under STATIC_ROOT.
BRAND = {
    "name": env.str("BRAND_NAME", default="Candor Outfitters"),
    "accent_colour": env.str("BRAND_ACCENT_COLOUR", default="#0b5cad"),
    "ink_colour": env.str("BRAND_INK_COLOUR", default="#1d2327"),
    "logo_url": env.str("BRAND_LOGO_URL", default=""),
    "support_email": env.str("BRAND_SUPPORT_EMAIL", default="help@candor.localhost"),
    "support_url": env.str("BRAND_SUPPORT_URL", default=""),
    "privacy_url": CONSENT_RECEIPT_CONTROLLER["policy_url"],
    "imprint_url": env.str("BRAND_IMPRINT_URL", default="https://candor.localhost/imprint"),
}
for _key in ("accent_colour", "ink_colour"):
    if not re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", BRAND[_key]):
        raise ImproperlyConfigured(f"BRAND_{_key.upper()} must be a hex colour such as #0b5cad.")
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"  # the login code itself proves the address
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 10 * 60
ACCOUNT_PREVENT_ENUMERATION = True
# No "you have no account" mail: it would let anyone send mail from us to any address.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_RATE_LIMITS = {"request_login_code": "10/m/ip,3/10m/key", "login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_ADAPTER = "apps.preferences.accounts.CustomerAccountAdapter"
ACCOUNT_FORMS = {"request_login_code": "apps.preferences.accounts.RequestCustomerCodeForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# How many proxies of our own put their hop in X-Forwarded-For: the client address every rate limit and every
# evidence hash uses is the one the outermost of them saw (allauth's get_client_ip). 0: REMOTE_ADDR, the header
# ignored (anyone can send it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# A strict Content-Security-Policy: only our own files; htmx is configured not to evaluate code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# Keyed hashes of IP addresses and user agents in ledger evidence: provable, yet not personal data on its own.
LEDGER_EVIDENCE_KEY = env.str("LEDGER_EVIDENCE_KEY", default=SECRET_KEY)
# Experiments (docs/experiments.md): the key of the hash that assigns a customer to a variant, and how many
# customers each variant must have been shown before the page compares them.
EXPERIMENT_ASSIGNMENT_KEY = env.str("EXPERIMENT_ASSIGNMENT_KEY", default=SECRET_KEY)
EXPERIMENT_MIN_PER_ARM = env.int("EXPERIMENT_MIN_PER_ARM", default=200)
# Signs the checkpoints that anchor every chain's head (docs/ledger.md).
LEDGER_CHECKPOINT_KEY = env.str("LEDGER_CHECKPOINT_KEY", default=SECRET_KEY)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # One line per task run drowns everything else (embedded, every change runs its delivery tasks inline).
    "loggers": {
        "celery.app.trace": {"level": env.str("CELERY_TRACE_LOG_LEVEL", default="WARNING")},
        "httpx": {"level": "WARNING"},  # a line per webhook sent; delivery records outcomes in the database
    },
}
