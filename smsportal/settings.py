"""Settings, every one from the environment (see .env.example)."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A .env file beside manage.py (written by `make run` on first start) fills in
# what the process environment does not set.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Signs sessions, CSRF tokens and password-reset links, and (without
# CREDENTIALS_KEYS) derives the key of provider credentials: a site that is
# not in DEBUG refuses to start without its own.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env (a long random "
            "string), or set DEBUG=true for a development install."
        )
    SECRET_KEY = "insecure-development-key-change-me"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])


def listening_url(addr: str) -> str:
    """The URL of the address `make run` serves on (RUN_ADDR: host:port, or
    a port on loopback, as runserver takes it)."""
    addr = addr.strip() or "127.0.0.1:8000"
    return f"http://127.0.0.1:{addr}" if addr.isdigit() else f"http://{addr}"


# The address `make run` serves on.
RUN_ADDR = env.str("RUN_ADDR", default="127.0.0.1:8000")
# Where providers reach us: used to build the webhook URLs we give them.
# Unset, the address the server listens on (the account page then warns
# that a provider may not reach it).
PUBLIC_BASE_URL_SET = bool(env.str("PUBLIC_BASE_URL", default="").strip())
PUBLIC_BASE_URL = (
    env.str("PUBLIC_BASE_URL", default="").strip() or listening_url(RUN_ADDR)
).rstrip("/")
# Tracked short links (campaigns/links.py): each URL of a campaign's text
# becomes this base followed by an 8-character code, per recipient. A short
# host of its own (https://s.example.com/) keeps messages shortest; its host
# is allowed below. Default: the site's own address, under /l/.
SHORT_LINK_BASE_URL = env.str("SHORT_LINK_BASE_URL", default="").strip() or (
    PUBLIC_BASE_URL + "/l/"
)
if not SHORT_LINK_BASE_URL.endswith("/"):
    SHORT_LINK_BASE_URL += "/"
if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?/([A-Za-z0-9._-]+/)*", SHORT_LINK_BASE_URL):
    raise ImproperlyConfigured(
        f"SHORT_LINK_BASE_URL={SHORT_LINK_BASE_URL!r} is not an http(s) address of a host "
        "(and optionally a path of plain letters, digits, '.', '_' and '-'), such as "
        "https://s.example.com/ or https://example.com/l/."
    )
_short_host = urlsplit(SHORT_LINK_BASE_URL).hostname
if "*" not in ALLOWED_HOSTS and _short_host not in ALLOWED_HOSTS:
    # The redirect answers there (a short host of its own, or the site's).
    ALLOWED_HOSTS.append(_short_host)
# Fernet key(s) for provider credentials at rest; the first one encrypts, all
# of them decrypt (so a key can be rotated).
CREDENTIALS_KEYS = env.list("CREDENTIALS_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "smsportal",
    "contacts",
    "providers",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Nothing but static files is kept by a browser's or a proxy's cache.
    "smsportal.middleware.NoStoreMiddleware",
    "smsportal.middleware.RejectNullBytesMiddleware",
    # Provider callbacks are answered here, without the middleware below
    # (sessions, users, CSRF, messages, CSP, sign-in throttling).
    "providers.middleware.WebhookShortcutMiddleware",
    # Tracked short links are answered here too: a redirect and a click.
    "campaigns.middleware.ShortLinkMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "smsportal.middleware.RoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "smsportal.timezones.UserTimeZoneMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into a page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smsportal.urls"
WSGI_APPLICATION = "smsportal.wsgi.application"

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
                "smsportal.context_processors.roles_context",
            ],
            # money, phone and icon on every page (smsportal/templatetags/ui.py).
            "builtins": ["smsportal.templatetags.ui"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'smsportal.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
# Shared by every process (locks of periodic jobs live here): the database by
# default, Redis in production (CACHE_URL=redis://...).
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://smsportal_cache")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Email (e.g. smtp+tls://user:password@mail.example.com:587): it sends the
# password-reset links. Without it no email is sent and the password-reset
# pages are off (an Admin sets a new password instead).
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="smsportal@localhost")
PASSWORD_RESET_ENABLED = bool(EMAIL_URL)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# The site's country (ISO code, e.g. DE) for numbers people type without
# +country code: pre-chosen for imports and read by number searches. Empty:
# the country of TIME_ZONE where that zone is one country's.
DEFAULT_COUNTRY = env.str("DEFAULT_COUNTRY", default="").strip().upper()
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))

# Security. Production runs behind TLS (see .env.example for its values);
# the defaults keep a plain-HTTP local install working.
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading a domain into browsers is a decision for the whole domain, hard to
# undo and made by its owner (hstspreload.org), not by this application: the
# deploy check that asks for it is left to the operator.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only our own vendored assets: no inline scripts or styles, no CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Sign-in throttling: after AXES_FAILURE_LIMIT failures for one username from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Lockouts and failures are in the audit log; no line per sign-in in the logs.
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Celery: Redis in production; by default kombu's filesystem transport, which
# needs no server (for `make run` on a laptop).
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast (worker control) tables; kombu's default is ./control,
        # wherever the process was started.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task held by a worker that died comes back after this long; longer
    # than any task runs (dispatch hands over every DISPATCH_TIME_BUDGET s).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Contact imports normalise numbers in a process pool of their own, which a
# prefork worker's (daemonic) child may not start: they go to their own
# queue, taken by a worker with the solo pool (`-Q imports -P solo`); the
# other tasks stay on the default queue.
CELERY_TASK_ROUTES = {"contacts.tasks.import_contacts": {"queue": "imports"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "dispatch-due": {"task": "campaigns.tasks.dispatch_due", "schedule": 5.0},
    "poll-statuses": {"task": "campaigns.tasks.poll_statuses", "schedule": 60.0},
    "apply-webhooks": {"task": "campaigns.tasks.apply_webhooks", "schedule": 10.0},
    "provider-views": {"task": "campaigns.tasks.refresh_provider_views", "schedule": 60.0},
    "squash-counters": {"task": "campaigns.tasks.squash_counters", "schedule": 30.0},
    "mark-unreported": {"task": "campaigns.tasks.mark_unreported", "schedule": 600.0},
    "decide-ab-tests": {"task": "campaigns.tasks.decide_ab_tests", "schedule": 60.0},
}
# Seconds a stored provider callback waits before a worker applies it, so a
# burst of callbacks is applied in a few large batches.
WEBHOOK_APPLY_DELAY = env.float("WEBHOOK_APPLY_DELAY", default=1.0)
# A directory where each web process writes where its callbacks' time goes
# (providers/timing.py; the benchmark sets it). Empty: nothing is counted.
WEBHOOK_TIMING_DIR = env.str("WEBHOOK_TIMING_DIR", default="")
# Hours a message may stay "accepted" without a delivery report: then the
# provider is asked where it can be, and what is still open is marked "no
# report". An account's option no_report_after_hours (set in the admin)
# gives its own.
NO_REPORT_AFTER_HOURS = env.float("NO_REPORT_AFTER_HOURS", default=72.0)
# Where a shared lock or throughput limiter lives; empty means the database.
REDIS_URL = env.str("REDIS_URL", default="")

# How many messages a dispatch worker claims at once.
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=500)
# Provider requests a worker has in flight at once (one-recipient providers
# need many to go fast); a wave never holds more than the account's rate.
DISPATCH_PARALLEL_REQUESTS = env.int("DISPATCH_PARALLEL_REQUESTS", default=8)
# Requests in one wave for a provider whose backend keeps them in flight from
# one thread (one recipient per request): the wave goes out over the
# DISPATCH_PARALLEL_REQUESTS connections and is recorded in one pass.
DISPATCH_WAVE_REQUESTS = env.int("DISPATCH_WAVE_REQUESTS", default=250)
# Seconds one dispatch task keeps sending before it hands over to a fresh one.
DISPATCH_TIME_BUDGET = env.float("DISPATCH_TIME_BUDGET", default=20.0)
# Failed provider calls in a row before a campaign pauses itself.
DISPATCH_MAX_FAILURES = env.int("DISPATCH_MAX_FAILURES", default=5)
# Recipients refused in a row with the same code their provider's backend
# does not know, after which the campaign pauses with the provider's words.
DISPATCH_UNKNOWN_REFUSALS = env.int("DISPATCH_UNKNOWN_REFUSALS", default=20)
# Seconds a message may stay "sending" before recovery treats its worker as
# dead and reconciles it with the provider.
DISPATCH_STUCK_AFTER = env.int("DISPATCH_STUCK_AFTER", default=300)
# Seconds to connect to a provider, and to wait for its answer. A request
# that times out after it was sent leaves its messages "unknown" until
# reconciled, so the read timeout is generous.
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=30.0)
# Where provider calls may go: https only (http where this allows it, for
# testing), and only to public addresses, unless PROVIDER_ALLOWED_HOSTS names
# the host or an address (or network) it resolves to.
PROVIDER_ALLOW_HTTP = env.bool("PROVIDER_ALLOW_HTTP", default=False)
PROVIDER_ALLOWED_HOSTS = env.list("PROVIDER_ALLOWED_HOSTS", default=[])
# Seconds the sandbox provider waits before reporting delivery.
SANDBOX_REPORT_DELAY = env.float("SANDBOX_REPORT_DELAY", default=2.0)
# Contact imports: where uploaded files and their error reports are kept (web
# and workers must share it), the largest file accepted, and how many
# processes normalise numbers (0: one per core).
CONTACT_IMPORT_DIR = env.str("CONTACT_IMPORT_DIR", default=str(VAR_DIR / "imports"))
CONTACT_IMPORT_MAX_BYTES = env.int("CONTACT_IMPORT_MAX_BYTES", default=512 * 1024 * 1024)
CONTACT_IMPORT_PROCESSES = env.int("CONTACT_IMPORT_PROCESSES", default=0)
# PostgreSQL work_mem for an import's merge (one transaction at a time).
CONTACT_IMPORT_WORK_MEM = env.str("CONTACT_IMPORT_WORK_MEM", default="256MB")
# What one import reads at most (a file beyond them is refused, saying which
# limit): rows with a value, the last column a value may be in, cells in a
# row (empty ones too), characters in a cell (Excel's own limit; a mapped
# cell over 1,000 is a row error); for .xlsx, the bytes its parts unpack to
# and how far one part may be compressed (checked before reading).
CONTACT_IMPORT_MAX_ROWS = env.int("CONTACT_IMPORT_MAX_ROWS", default=5_000_000)
CONTACT_IMPORT_MAX_COLUMNS = env.int("CONTACT_IMPORT_MAX_COLUMNS", default=200)
CONTACT_IMPORT_MAX_CELLS_PER_ROW = env.int("CONTACT_IMPORT_MAX_CELLS_PER_ROW", default=16_384)
CONTACT_IMPORT_MAX_CELL_CHARS = env.int("CONTACT_IMPORT_MAX_CELL_CHARS", default=32_767)
CONTACT_IMPORT_XLSX_MAX_UNPACKED = env.int(
    "CONTACT_IMPORT_XLSX_MAX_UNPACKED", default=1024 * 1024 * 1024
)
CONTACT_IMPORT_XLSX_MAX_RATIO = env.int("CONTACT_IMPORT_XLSX_MAX_RATIO", default=100)
# Reply keywords, matched without regard to case, accents, surrounding
# spaces and punctuation. An opt-out keyword is the first word of a reply
# (opting out must never fail on a technicality); opt-in and help keywords
# must be the whole reply ("yes, stop" never opts anyone in).
STOP_KEYWORDS = env.list(
    "STOP_KEYWORDS", default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
)
# Opt-out words in other languages, added to STOP_KEYWORDS.
STOP_KEYWORDS_LOCAL = env.list(
    "STOP_KEYWORDS_LOCAL", default=["ABMELDEN", "ARRET", "BAJA", "STOPP", "DESISCRIVI"]
)
START_KEYWORDS = env.list("START_KEYWORDS", default=["START", "UNSTOP", "YES"])
HELP_KEYWORDS = env.list("HELP_KEYWORDS", default=["HELP", "INFO"])
# Confirmation replies, sent through the account and number a keyword came
# to (an account may set its own texts; see the account page). Empty: none.
KEYWORD_REPLY_STOP = env.str(
    "KEYWORD_REPLY_STOP",
    default=(
        "You are unsubscribed and will get no more messages from us. Reply START to resubscribe."
    ),
)
KEYWORD_REPLY_START = env.str("KEYWORD_REPLY_START", default="")
KEYWORD_REPLY_HELP = env.str(
    "KEYWORD_REPLY_HELP",
    default="Marketing messages. Reply STOP to unsubscribe.",
)

# Quiet hours: no marketing message goes out between QUIET_HOURS_START and
# QUIET_HOURS_END (HH:MM) in the recipient's local time, on top of each
# campaign's delivery window; held messages wait until the quiet hours end
# in every zone of their number. An Admin may lift them for one campaign.
QUIET_HOURS_ENABLED = env.bool("QUIET_HOURS_ENABLED", default=True)
QUIET_HOURS_START = env.str("QUIET_HOURS_START", default="21:00")
QUIET_HOURS_END = env.str("QUIET_HOURS_END", default="08:00")
# Frequency cap: at launch, a contact who already had FREQUENCY_CAP_MESSAGES
# marketing messages in the last FREQUENCY_CAP_DAYS days is skipped.
FREQUENCY_CAP_ENABLED = env.bool("FREQUENCY_CAP_ENABLED", default=False)
FREQUENCY_CAP_MESSAGES = env.int("FREQUENCY_CAP_MESSAGES", default=4)
FREQUENCY_CAP_DAYS = env.int("FREQUENCY_CAP_DAYS", default=7)
# The composer warns when a marketing text has no opt-out instruction, and
# offers to append OPT_OUT_INSTRUCTION.
OPT_OUT_CHECK = env.bool("OPT_OUT_CHECK", default=True)
OPT_OUT_INSTRUCTION = env.str("OPT_OUT_INSTRUCTION", default="Reply STOP to opt out")

# The REST export (smsportal/api): read-only, token or session, JSON pages
# and streamed CSV. No browsable API: its pages carry inline scripts.
# Requests per token (or per signed-in user) in a window: N/second, N/minute,
# N/hour or N/day.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "smsportal.api.authentication.APITokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["smsportal.api.permissions.HasRole"],
    "DEFAULT_THROTTLE_CLASSES": ["smsportal.api.throttling.APIRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "smsportal.api.errors.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "smsportal.api.pagination.IdCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "smsportal.api.errors.handle",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "smsportal reporting API",
    "DESCRIPTION": "Read-only export of campaigns, messages, clicks, contacts, lists, "
    "suppressions and cost and delivery roll-ups, as JSON pages or streamed CSV; the one write "
    "is recording conversions, with a token that may. Errors are JSON with a message; a null "
    "character anywhere in the query string is refused with a 400.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["smsportal.api.permissions.HasRole"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smsportal.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
