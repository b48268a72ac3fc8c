"""Production: everything in base, plus refusal to run with the embedded key and the deploy hardening."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSECURE_DEFAULT_SECRET_KEY, MIDDLEWARE, SECRET_KEY, env

if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        '(python -c "import secrets; print(secrets.token_urlsafe(64))").'
    )

DEBUG = False
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
