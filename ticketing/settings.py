"""Entrada settings: everything comes from the environment, with safe development defaults.

The embedded default (no variables set) is SQLite in WAL mode with IMMEDIATE write transactions,
django-q2 on its ORM broker and the Alipay sandbox mounted in the same site. Production sets
DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and the ALIPAY_* variables (README: going live).
"""

import os
import warnings
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from payments.conf import DEFAULTS as PAYMENTS_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ENTRADA_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEMO_SECRET_KEY = "demo-insecure-secret-key-for-development-only"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", DEMO_SECRET_KEY)
if not DEBUG and (SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "Refusing to start with DEBUG off and the demo SECRET_KEY: set SECRET_KEY (32+ characters)."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
ADMINS = [
    (addr.split("@")[0], addr)
    for addr in env_list("ADMINS", "ops@entrada.example" if DEBUG else "")
]
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "entrada@localhost")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Entrada <tickets@localhost>")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

INSTALLED_APPS = [
    "ticketing.admin_apps.EntradaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Not DRF's authtoken: partner API terminals carry tokens of their own (payments.api.auth),
    # and its user tokens would only show as an unused "Tokens" page in the admin.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "payments",
    "payments.api",
    "payments.sandbox",
    "payments.reconciliation",
    "ticketing",
    "ticketing.etickets",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise for STATIC_URL only, so the rest of the chain stays async under ASGI.
    "ticketing.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# ENTRADA_ROOT_URLCONF=payments.sandbox.site_urls serves the Alipay sandbox on its own.
ROOT_URLCONF = os.environ.get("ENTRADA_ROOT_URLCONF", "ticketing.urls")
WSGI_APPLICATION = "ticketing.wsgi.application"
ASGI_APPLICATION = "ticketing.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
    # instead of failing with "database is locked" on lock upgrade (docs/stack.md: measured 27% ->
    # 0%).
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    else:
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        # Server-side binding lets psycopg prepare the statements a worker repeats (from their
        # 5th use) instead of quoting parameters into the SQL each time: +10% booking throughput
        # (bench/booking.py). Connections live CONN_MAX_AGE (60 s), so plans never outlive a
        # deploy's migration by long; restart workers after migrating, as usual.
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
else:
    # The embedded database lives in var/ (ignored by git); create it so a fresh clone just runs.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "entrada.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
        }
    }
IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue (django-q2) -------------------------------------------------------------------
# `retry` must exceed `timeout` plus queue wait, or a running task is handed out twice
# (docs/stack.md).
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "entrada",
    "workers": int(os.environ.get("Q_WORKERS", "4")),
    "timeout": 90,
    "retry": 300,
    "max_attempts": 3,
    "queue_limit": 200,
    "catch_up": False,
    "poll": 0.2,
    "ack_failures": True,
    "save_limit": 1000,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Cache ------------------------------------------------------------------------------------
# Rate limits (order look-up, API throttles) must be shared by every web worker, so the cache is
# never per-process: Redis when configured, otherwise files beside the embedded database (Django's
# file cache, culled sparingly: ticketing/file_cache.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "entrada",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "ticketing.file_cache.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Far above the rate-limit counters a busy site keeps (one per terminal, per client
            # address), so that culling never deletes live ones.
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Localized date and time formats (ticketing/local_time.py prints every date and time with them).
FORMAT_MODULE_PATH = ["ticketing.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In development WhiteNoise serves from the finders; STATIC_ROOT exists only after collectstatic.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Production answers only over HTTPS; a site tried out over plain HTTP (DEBUG=0 on a laptop)
    # sets SECURE_SSL_REDIRECT=0, SECURE_HSTS_SECONDS=0 and SECURE_COOKIES=0.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list cannot be undone quickly, so it is the operator's
        # explicit choice (SECURE_HSTS_PRELOAD=1), not a default the deploy check nags about.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# How many reverse proxies stand in front of the site, each appending the address it received a
# request from to X-Forwarded-For. 0 trusts no X-Forwarded-For at all: anyone can send one, and a
# client choosing its own address would escape every per-address limit.
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("TRUSTED_PROXIES is the number of proxies in front: 0 or more.")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # One JSON error shape for every API: {"code", "message", "fields"} (payments/api/errors.py).
    "EXCEPTION_HANDLER": "payments.api.errors.exception_handler",
    # DRF's own idea of the client address agrees with ticketing.views.throttle.client_address;
    # DRF's default (None) would take the first X-Forwarded-For entry, which the client writes.
    "NUM_PROXIES": TRUSTED_PROXIES,
    # Per-terminal request rate of the partner API (payments/api/throttling.py).
    "DEFAULT_THROTTLE_RATES": {"partner_terminal": os.environ.get("PARTNER_API_RATE", "600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Entrada API",
    "DESCRIPTION": "Partner API for cash registers, POS and apps, and the public booking API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the box office may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Payment states appear in several components (payment, day summary): one enum, one name.
    "ENUM_NAME_OVERRIDES": {"PaymentStateEnum": "payments.models.Payment.State"},
}

# --- Alipay -----------------------------------------------------------------------------------
# Demo values are plainly demo: the sandbox's demo merchant. Going live changes only these.
ALIPAY_DEMO_PARTNER_ID = "2088000000000001"
ALIPAY_DEMO_MD5_KEY = "entrada-demo-md5-key-not-for-production"
ALIPAY_KEY_DIR = Path(os.environ.get("ALIPAY_KEY_DIR", VAR_DIR / "keys"))
ALIPAY = {
    "GATEWAY_URL": os.environ.get("ALIPAY_GATEWAY_URL", "http://127.0.0.1:8000/sandbox/gateway.do"),
    "PARTNER_ID": os.environ.get("ALIPAY_PARTNER_ID", ALIPAY_DEMO_PARTNER_ID),
    "SIGN_TYPE": os.environ.get("ALIPAY_SIGN_TYPE", "RSA2").upper(),
    # MD5 key: ALIPAY_MD5_KEY or ALIPAY_MD5_KEY_FILE. RSA keys: PEM text or a file path.
    "MD5_KEY": os.environ.get("ALIPAY_MD5_KEY", ""),
    "MD5_KEY_FILE": os.environ.get("ALIPAY_MD5_KEY_FILE", ""),
    "PRIVATE_KEY": os.environ.get("ALIPAY_PRIVATE_KEY", ""),
    "PRIVATE_KEY_FILE": os.environ.get(
        "ALIPAY_PRIVATE_KEY_FILE", str(ALIPAY_KEY_DIR / "demo-merchant-private.pem")
    ),
    "ALIPAY_PUBLIC_KEY": os.environ.get("ALIPAY_PUBLIC_KEY", ""),
    "ALIPAY_PUBLIC_KEY_FILE": os.environ.get(
        "ALIPAY_PUBLIC_KEY_FILE", str(ALIPAY_KEY_DIR / "demo-alipay-public.pem")
    ),
    "CONNECT_TIMEOUT": float(os.environ.get("ALIPAY_CONNECT_TIMEOUT", "5")),
    "READ_TIMEOUT": float(os.environ.get("ALIPAY_READ_TIMEOUT", "15")),
    "NOTIFY_BASE_URL": os.environ.get("ENTRADA_PUBLIC_URL", "http://127.0.0.1:8000"),
    "SECONDARY_MERCHANT_ID": os.environ.get("ALIPAY_SECONDARY_MERCHANT_ID", "ENTRADA-DEMO"),
    "SECONDARY_MERCHANT_NAME": os.environ.get("ALIPAY_SECONDARY_MERCHANT_NAME", "Entrada Demo"),
    "SECONDARY_MERCHANT_INDUSTRY": os.environ.get("ALIPAY_SECONDARY_MERCHANT_INDUSTRY", "7991"),
}
# The demo partner's MD5 key is demo too: the sandbox's demo merchant knows it.
if ALIPAY["PARTNER_ID"] == ALIPAY_DEMO_PARTNER_ID and not (
    ALIPAY["MD5_KEY"] or ALIPAY["MD5_KEY_FILE"]
):
    ALIPAY["MD5_KEY"] = ALIPAY_DEMO_MD5_KEY
if (
    not DEBUG
    and ALIPAY["PARTNER_ID"] == ALIPAY_DEMO_PARTNER_ID
    and not env_bool("ALIPAY_SANDBOX", False)
):
    raise ImproperlyConfigured(
        "Refusing to start with DEBUG off and the demo Alipay partner: set ALIPAY_PARTNER_ID, "
        "or ALIPAY_SANDBOX=1 for a demo or staging site."
    )

# Payment lifecycle timings and bounds (docs/alipay.md "Lifecycle rules"); seconds unless named.
PAYMENTS = {
    "FIRST_QUERY_DELAY": float(os.environ.get("PAYMENTS_FIRST_QUERY_DELAY", "3.0")),
    "POLL_INTERVAL": float(os.environ.get("PAYMENTS_POLL_INTERVAL", "3.0")),
    "DEADLINE_SECONDS": int(os.environ.get("PAYMENTS_DEADLINE_SECONDS", "60")),
    "QR_DEADLINE_SECONDS": int(os.environ.get("PAYMENTS_QR_DEADLINE_SECONDS", "300")),
    "PAY_RESEND_MAX": int(os.environ.get("PAYMENTS_PAY_RESEND_MAX", "2")),
    "CANCEL_MAX_ATTEMPTS": int(os.environ.get("PAYMENTS_CANCEL_MAX_ATTEMPTS", "8")),
    "CANCEL_RETRY_INTERVAL": float(os.environ.get("PAYMENTS_CANCEL_RETRY_INTERVAL", "3.0")),
    "REFUND_MAX_ATTEMPTS": int(os.environ.get("PAYMENTS_REFUND_MAX_ATTEMPTS", "6")),
    "REFUND_RETRY_INTERVAL": float(os.environ.get("PAYMENTS_REFUND_RETRY_INTERVAL", "5.0")),
    "SWEEP_GRACE_SECONDS": float(os.environ.get("PAYMENTS_SWEEP_GRACE_SECONDS", "10")),
    "POLLER_THREADS": int(os.environ.get("PAYMENTS_POLLER_THREADS", "16")),
    "POLLER_ALERT_SECONDS": float(os.environ.get("PAYMENTS_POLLER_ALERT_SECONDS", "30")),
    # Pollers that may run at once (each on payment id modulo this); default in payments.conf.
    "POLLER_SHARDS": int(
        os.environ.get("PAYMENTS_POLLER_SHARDS", PAYMENTS_DEFAULTS["POLLER_SHARDS"])
    ),
    # Hold refunds asked for 00:00-01:30 Beijing time until 01:30 (Alipay executes none then).
    "REFUND_BLACKOUT": env_bool("PAYMENTS_REFUND_BLACKOUT", True),
    # An API request left in progress this long (its process died) is taken over by a retry.
    "IDEMPOTENCY_STALE_SECONDS": float(os.environ.get("PAYMENTS_IDEMPOTENCY_STALE_SECONDS", "120")),
    # Partner API long polls (payments/waiters.py): concurrent waits per terminal and per web
    # process, and how often one query checks every awaited payment (without Redis pub/sub).
    "WAITS_PER_TERMINAL": int(os.environ.get("PAYMENTS_WAITS_PER_TERMINAL", "4")),
    "WAITS_PER_PROCESS": int(os.environ.get("PAYMENTS_WAITS_PER_PROCESS", "1000")),
    "WAIT_CHECK_INTERVAL": float(os.environ.get("PAYMENTS_WAIT_CHECK_INTERVAL", "0.15")),
}

# The sandbox gateway is mounted in development; with DEBUG off only when asked for.
SANDBOX_ENABLED = env_bool("ALIPAY_SANDBOX", DEBUG)
# A live site talks to Alipay and hears from it over HTTPS only: plain HTTP would expose the signed
# requests and notifications to anyone on the way. Only the sandbox (a demo site) may use HTTP.
if not DEBUG and not SANDBOX_ENABLED:
    for _name, _url in (
        ("ALIPAY_GATEWAY_URL", ALIPAY["GATEWAY_URL"]),
        ("ENTRADA_PUBLIC_URL", ALIPAY["NOTIFY_BASE_URL"]),
    ):
        if not _url.lower().startswith("https://"):
            raise ImproperlyConfigured(
                f"Refusing to start with DEBUG off and {_name}={_url!r}: use an https:// URL "
                "(or ALIPAY_SANDBOX=1 for a demo or staging site)."
            )
# Sandbox buyer behaviour (README "Test buyer codes"): how long a "no reply in time" answer is
# held, and the amount above which a normal test buyer must confirm with a PIN.
SANDBOX_SLOW_REPLY_SECONDS = float(os.environ.get("SANDBOX_SLOW_REPLY_SECONDS", "20"))
SANDBOX_PIN_THRESHOLD = os.environ.get("SANDBOX_PIN_THRESHOLD", "1000")
# Milliseconds every gateway reply is held, as the network to Alipay would (0: none; capacity
# trials use about 200, Alipay's cross-border round trip).
SANDBOX_REPLY_LATENCY_MS = float(os.environ.get("SANDBOX_REPLY_LATENCY_MS", "0"))
# Like Alipay, answer synchronous refunds 00:00-01:30 Beijing time with SYSTEM_ERROR, unexecuted.
SANDBOX_REFUND_BLACKOUT = env_bool("SANDBOX_REFUND_BLACKOUT", True)
# Days after the payment during which a paid sandbox trade can be refunded; then TRADE_FINISHED.
SANDBOX_REFUND_PERIOD_DAYS = int(os.environ.get("SANDBOX_REFUND_PERIOD_DAYS", "90"))
# Hosts besides this site (the request's host and ENTRADA_PUBLIC_URL) that the sandbox may send
# notifications to: `host` (any port) or `host:port`, comma-separated. Any other notify_url is
# refused with INVALID_PARAMETER, so the sandbox never posts to an address it was merely given.
SANDBOX_NOTIFY_HOSTS = env_list("SANDBOX_NOTIFY_HOSTS", "")
# The page the sandbox wallet may send a buyer back to after paying (payments/sandbox/returning.py):
# the shop's order page, on this site or a host above. Nothing else, so never an open redirect.
SANDBOX_RETURN_PATH = r"^/orders/[A-Za-z0-9]{4,12}/$"

# Differences the sandbox's daily files make on purpose (README "Operations: reconciliation"),
# e.g. "drop=0,change_amount=1,stranger=1,settle_late=2,duplicate=3": each knob one difference.
SANDBOX_FILE_KNOBS = os.environ.get("SANDBOX_FILE_KNOBS", "")

# --- Reconciliation ---------------------------------------------------------------------------
# Sources the daily import reads (any of sandbox, dir, sftp); empty: sandbox while it is mounted.
RECONCILIATION_SOURCES = env_list("RECONCILIATION_SOURCES", "sandbox" if SANDBOX_ENABLED else "")
RECONCILIATION_DIR = os.environ.get("RECONCILIATION_DIR", "")
RECONCILIATION_SFTP = {
    "HOST": os.environ.get("RECONCILIATION_SFTP_HOST", ""),
    "PORT": int(os.environ.get("RECONCILIATION_SFTP_PORT", "22")),
    "USER": os.environ.get("RECONCILIATION_SFTP_USER", ""),
    "KEY_FILE": os.environ.get("RECONCILIATION_SFTP_KEY_FILE", ""),
    # A known_hosts file with the server's key (empty: the system's); an unknown key is refused.
    "KNOWN_HOSTS": os.environ.get("RECONCILIATION_SFTP_KNOWN_HOSTS", ""),
    "REMOTE_DIR": os.environ.get("RECONCILIATION_SFTP_DIR", "."),
}
# The daily run's time, Beijing time, after Alipay drops the previous day's files.
RECONCILIATION_RUN_AT = os.environ.get("RECONCILIATION_RUN_AT", "10:30")
# Days a transaction line may wait for its settlement line before it is a difference.
RECONCILIATION_SETTLE_DAYS = int(os.environ.get("RECONCILIATION_SETTLE_DAYS", "2"))
# The contract's fee rate, which every line's Charge_amount and Fee are checked against.
RECONCILIATION_FEE_RATE = os.environ.get("RECONCILIATION_FEE_RATE", "0.018")

# --- E-tickets --------------------------------------------------------------------------------
# The Ed25519 key that signs ticket QR tokens (ticketing/etickets/keys.py): PEM text or base64 of
# the 32-byte seed, inline or in a file. Without either, a development or demo site generates
# var/keys/demo-ticket-signing.pem once; a production site fails `manage.py check` (etickets.E001).
TICKET_SIGNING_KEY = os.environ.get("TICKET_SIGNING_KEY", "")
TICKET_SIGNING_KEY_FILE = os.environ.get("TICKET_SIGNING_KEY_FILE", "")
TICKET_DEMO_SIGNING_KEY_FILE = VAR_DIR / "keys" / "demo-ticket-signing.pem"
# Public halves (PEM or base64) of retired signing keys that gates still accept.
TICKET_PREVIOUS_PUBLIC_KEYS = env_list("TICKET_PREVIOUS_PUBLIC_KEYS", "")
# A timed-entry ticket admits from its slot's start minus EARLY until its slot's end plus LATE.
TICKET_ENTRY_EARLY_MINUTES = int(os.environ.get("TICKET_ENTRY_EARLY_MINUTES", "30"))
TICKET_ENTRY_LATE_MINUTES = int(os.environ.get("TICKET_ENTRY_LATE_MINUTES", "30"))
# The CJK TrueType font (.ttf, or the first face of a .ttc) embedded, subset, in e-ticket PDFs for
# Chinese text (ticketing/etickets/fonts.py). Empty: the first of the candidates installed (Debian's
# fonts-droid-fallback, fonts-wqy-microhei); none: the non-embedded STSong-Light (etickets.W001).
TICKET_CJK_FONT = os.environ.get("TICKET_CJK_FONT", "")
TICKET_CJK_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]

# --- Booking ----------------------------------------------------------------------------------
# How long chosen tickets hold their places, and the most visitors one order may admit.
TICKETING_HOLD_MINUTES = int(os.environ.get("TICKETING_HOLD_MINUTES", "15"))
# While an order's payment needs attention (the lifecycle gave up; staff decide), the order keeps
# its places this many hours, then gives them back (ticketing/orders/review.py).
TICKETING_REVIEW_HOLD_HOURS = float(os.environ.get("TICKETING_REVIEW_HOLD_HOURS", "2"))
# Environment and setting share one name; TICKETING_MAX_ADMISSIONS is its old name, still read.
TICKETING_MAX_ADMISSIONS_PER_ORDER = int(
    os.environ.get(
        "TICKETING_MAX_ADMISSIONS_PER_ORDER", os.environ.get("TICKETING_MAX_ADMISSIONS", "20")
    )
)
# The box office's store id sent to Alipay with each counter payment (extend_info store_id);
# each till is terminal "TILL-<till id>".
BOX_OFFICE_STORE_ID = os.environ.get("BOX_OFFICE_STORE_ID", "BOX-OFFICE")
# Closing a shift: a drawer off by more than this (in the shift's currency) needs a supervisor's
# approval and a note.
BOX_OFFICE_VARIANCE_THRESHOLD = os.environ.get("BOX_OFFICE_VARIANCE_THRESHOLD", "5")
# The zone receipts and Z reports print their times in, and whose midnight ends a till's day.
RECEIPT_TIME_ZONE = os.environ.get("RECEIPT_TIME_ZONE", "Asia/Shanghai")


def env_refund_limits(name: str, default: str) -> dict[str, Decimal]:
    """`500,JPY=10000` -> {"*": 500, "JPY": 10000}: an amount for every currency, and overrides
    for currencies whose unit is worth much less (payments/refund_limits.py reads it)."""
    limits: dict[str, Decimal] = {}
    for item in env_list(name, default):
        currency, _sep, amount = item.rpartition("=")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an amount (like 500 or JPY=10000)")
        limits[currency.strip().upper() or "*"] = value
    if "*" not in limits:
        raise ImproperlyConfigured(f"{name} needs one amount for every currency, like 500")
    return limits


# The most one admin action of Support may give back, per currency (Finance has no limit).
SUPPORT_REFUND_LIMIT = env_refund_limits("SUPPORT_REFUND_LIMIT", "500,JPY=10000,KRW=100000")
# Public booking API rates per client address (ticketing/api/throttles.py); an empty value turns
# one off (benchmarks). The look-up rate is what stands between a guesser and order codes.
TICKETING_API_RATES = {
    "public_read": os.environ.get("TICKETING_API_READ_RATE", "600/min"),
    "public_order": os.environ.get("TICKETING_API_ORDER_RATE", "60/min"),
    "public_lookup": os.environ.get("TICKETING_API_LOOKUP_RATE", "30/min"),
}
# Places held but not yet paid (orders held or awaiting payment) that one browser session and one
# client address may have at once (ticketing/hold_limits.py); 0 turns one off (benchmarks). Without
# them one client could hold a whole slot for the hold time, again and again.
TICKETING_HOLDS_PER_SESSION = int(os.environ.get("TICKETING_HOLDS_PER_SESSION", "3"))
TICKETING_HOLDS_PER_ADDRESS = int(os.environ.get("TICKETING_HOLDS_PER_ADDRESS", "10"))
# Failed staff sign-ins (gate, box office, admin, supervisor approvals) allowed per 15 minutes:
# per account from one address (slows a guesser without locking the owner out from elsewhere),
# and per address whatever the account (high: a box office behind one NAT shares an address).
STAFF_SIGN_IN_FAILURES_PER_ACCOUNT = int(os.environ.get("STAFF_SIGN_IN_FAILURES_PER_ACCOUNT", "5"))
STAFF_SIGN_IN_FAILURES_PER_ADDRESS = int(os.environ.get("STAFF_SIGN_IN_FAILURES_PER_ADDRESS", "50"))

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # The level is on the handler too: records from loggers with their own level ("django" is
    # INFO) propagate to root's handler whatever root's level is.
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        # payments.alerts mails ADMINS itself, with more detail: its ERROR log is not mailed again.
        "not_mailed_already": {
            "()": "django.utils.log.CallbackFilter",
            "callback": lambda record: record.name != "payments.alerts",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": LOG_LEVEL},
        # Errors (a 500, a capacity mismatch, a failed task) are mailed to ADMINS in production.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "not_mailed_already"],
        },
    },
    "root": {"handlers": ["console", "mail_admins"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers on "django" would print and mail its records a second time:
        # they reach root's handlers by propagation instead.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
    },
}
