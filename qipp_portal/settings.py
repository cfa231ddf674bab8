"""
Settings for the QIPP challenge feedback portal.

One module, configured by environment variables (see `.env.development.example`, `.env.production.example` and the
README's configuration table). `DJANGO_DEBUG` is the only switch: off unless
set, and with it off (production) the portal refuses to start without a
`SECRET_KEY` and `ALLOWED_HOSTS`, and sends mail over SMTP.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Exchange, Queue

from . import logs

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Where the embedded defaults keep their state: SQLite, the filesystem broker,
# development emails. Ignored by git.
VAR_DIR = Path(env.str("QIPP_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="development-only-not-a-secret")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not SECRET_KEY:
        raise ImproperlyConfigured("Set SECRET_KEY: it is required when DJANGO_DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS: it is required when DJANGO_DEBUG is off.")

# Absolute address of the portal, used for links in emails (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "feedback.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "feedback",
]

MIDDLEWARE = [
    # First: load balancers' probes, answered before the host check and the HTTPS redirect.
    "feedback.health.probes",
    # Then the request id every log line of the request (and its tasks) carries.
    "qipp_portal.logs.request_ids",
    "feedback.metrics.measure",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "feedback.middleware.refuse_nul_in_query",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "feedback.staff.sliding_staff_session",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "qipp_portal.urls"
WSGI_APPLICATION = "qipp_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "feedback.context_processors.portal",
            ],
        },
    },
]

# Database: SQLite on a bare machine; PostgreSQL in production via DATABASE_URL.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
# Persistent connections: opening one per request cut insert throughput to
# about a third on PostgreSQL. Health checks drop a connection that died
# while idle (a database restart) instead of failing the next request.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0 if DEBUG else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
    # JIT compilation suits long analytical queries; on a web request's query
    # over a million rows it spent 10 to 150 ms compiling for a few ms of work.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
    # Behind PgBouncer in transaction mode, server-side cursors (exports' iterators) break: turn them off there.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions (and so the respondent's draft) live in the database: they survive
# Redis going away. Django's database store, with its read and delete written
# as one query each (feedback/sessions.py).
SESSION_ENGINE = "feedback.sessions"
# A respondent's draft lasts this long after the last answer saved. Staff
# sessions end sooner, after QIPP_STAFF_IDLE_SECONDS without a request
# (feedback.staff.sliding_staff_session).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=2 * 60 * 60)

# Cache: rate-limit counters only. Redis in production. Every use fails open
# (feedback/views.py), so a request never errors because the cache is down.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].update({"socket_connect_timeout": 1, "socket_timeout": 1})

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# static/ holds our own sources; build/static/ what `npm run build` makes from
# nhsuk-frontend (ignored by git).
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / "build" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Exports made in the background, deleted after 24 hours: a worker writes
    # the file and any web host serves it, so on several hosts they go to an
    # object store every host reaches (EXPORTS_S3_BUCKET); a folder otherwise.
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "exports"},
    },
    "staticfiles": {
        "BACKEND": "qipp_portal.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

if EXPORTS_S3_BUCKET := env.str("EXPORTS_S3_BUCKET", default=""):
    # Credentials come the usual boto3 way (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or the host's role). The bucket stays private:
    # downloads go through the portal, which checks who asks each time.
    STORAGES["exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": EXPORTS_S3_BUCKET,
            # Any S3-compatible store (MinIO, Ceph, a cloud's own); AWS when empty.
            "endpoint_url": env.str("EXPORTS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("EXPORTS_S3_REGION", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            # A download is read into a spooled file: past 8 MB it goes to disk, not memory.
            "max_memory_size": 8 * 1024 * 1024,
        },
    }

CRISPY_ALLOWED_TEMPLATE_PACKS = ["nhsuk"]
CRISPY_TEMPLATE_PACK = "nhsuk"

# Request limits: the form is text only, so a small body is plenty.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Security headers. HTTPS settings apply outside DEBUG; behind a proxy that
# terminates TLS, set SECURE_PROXY_SSL_HEADER (see README).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "feedback.views.csrf_failure"

# Content Security Policy: our own scripts only, each with a nonce. Fonts come
# from the NHS font service; without it the pages fall back to Arial.
NHS_FONT_HOST = "https://assets.nhs.uk"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, NHS_FONT_HOST],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Email. Django 6.1 configures mailers through MAILERS. Production sends over
# SMTP; development writes each email to a file under var/ unless SMTP_HOST is
# set.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="QIPP challenge feedback <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
DEV_EMAIL_DIR = VAR_DIR / "sent-emails"
if DEBUG and not env.str("SMTP_HOST", default=""):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(DEV_EMAIL_DIR)},
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "feedback.mailer.EmailBackend",
            "OPTIONS": {
                "host": env.str("SMTP_HOST", default="localhost"),
                "port": env.int("SMTP_PORT", default=25),
                "username": env.str("SMTP_USERNAME", default=""),
                "password": env.str("SMTP_PASSWORD", default=""),
                "use_tls": env.bool("SMTP_USE_TLS", default=False),
                "timeout": env.int("SMTP_TIMEOUT", default=10),
                # After a message's last byte: the server's verdict is worth waiting for.
                "reply_timeout": env.int("SMTP_REPLY_TIMEOUT", default=120),
            },
        }
    }

# Celery. PostgreSQL holds the state of every job; the broker is only a
# doorbell, and the sweeper rings it again for anything left waiting.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded default: messages are files under var/broker. No redelivery,
    # which the sweeper makes up for in development.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    # kombu expects the folders to exist.
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Without these a Redis that hangs would hang the request that enqueues.
        "socket_connect_timeout": 2,
        "socket_timeout": 2,
        # Redelivery of unacknowledged tasks after this many seconds: well above
        # the longest task (see the time limits below).
        "visibility_timeout": 60 * 60,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Work is routed by queue, so that slow work never holds up fast work: a
# digest compile or, later, a model's training never delays an email. A plain
# `celery -A qipp_portal worker` (what `make run` starts) consumes every queue
# listed here; production can give each its own workers with `-Q emails` etc.
# Each queue has its own exchange and routing key: queues sharing one would
# each get a copy of every task.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in ("emails", "digests", "mailbox", "training", "exports", "maintenance")
]
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
CELERY_TASK_ROUTES = {
    "feedback.tasks.send_email_task": {"queue": "emails"},
    "feedback.tasks.send_waiting_emails_task": {"queue": "emails"},
    "feedback.tasks.send_weekly_emails_task": {"queue": "emails"},
    "feedback.tasks.compile_digest_task": {"queue": "digests"},
    "feedback.tasks.compile_final_digest_task": {"queue": "digests"},
    "feedback.tasks.clear_expired_sessions_task": {"queue": "maintenance"},
    "feedback.tasks.poll_mailbox_task": {"queue": "mailbox"},
    "feedback.tasks.train_suggestions_task": {"queue": "training"},
    "feedback.tasks.group_campaigns_task": {"queue": "training"},
    "feedback.tasks.build_export_task": {"queue": "exports"},
    "feedback.tasks.sweep_exports_task": {"queue": "maintenance"},
    "feedback.tasks.apply_retention_task": {"queue": "maintenance"},
}
CELERY_TASK_SOFT_TIME_LIMIT = 15 * 60
CELERY_TASK_TIME_LIMIT = 20 * 60
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Production on the one-machine defaults is refused unless it is meant:
# SQLite and the filesystem broker serve one host only, and an in-process
# cache gives every web worker its own rate-limit counters.
QIPP_SINGLE_HOST = env.bool("QIPP_SINGLE_HOST", default=False)
if not DEBUG and not QIPP_SINGLE_HOST:
    _one_machine = [
        name
        for name, in_use in (
            ("SQLite (set DATABASE_URL)", DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"),
            ("the filesystem broker (set CELERY_BROKER_URL)", CELERY_BROKER_URL.startswith("filesystem://")),
            ("the in-process cache (set CACHE_URL)", "locmem" in CACHES["default"]["BACKEND"]),
        )
        if in_use
    ]
    if _one_machine:
        raise ImproperlyConfigured(
            f"Production settings are using {', '.join(_one_machine)}. Set QIPP_SINGLE_HOST=1 if one machine is meant."
        )

# Periodic jobs, in one place. Exactly one beat process may run.
CELERY_BEAT_SCHEDULE = {
    # Every two minutes: send every email still waiting in the outbox (a
    # broker that was down, a worker that died, a retry whose wait is over).
    "send-waiting-emails": {
        "task": "feedback.tasks.send_waiting_emails_task",
        "schedule": crontab(minute="*/2"),
    },
    # Hourly at a quarter past: compile last week's digest. The first run
    # after a week ends (Monday 00:15) does it; later runs find it done, or
    # catch up when the worker was down at that hour or a compile failed.
    "compile-last-weeks-digest": {
        "task": "feedback.tasks.compile_digest_task",
        "schedule": crontab(minute=15),
    },
    # Nightly at ten past three: once QIPP_KEEP_PERSONAL_DATA_MONTHS have passed
    # since the call closed, remove respondents' personal data (views and
    # figures stay). Until then, and once done, a run changes nothing.
    "apply-retention": {
        "task": "feedback.tasks.apply_retention_task",
        "schedule": crontab(hour=3, minute=10),
    },
    # Hourly at twenty-five past: once the call has closed and the week it
    # closed in has ended, compile the final digest (and any week of the call
    # still waiting). Until then, and once it is done, a run does nothing.
    "compile-final-digest": {
        "task": "feedback.tasks.compile_final_digest_task",
        "schedule": crontab(minute=25),
    },
    # Every ten minutes: once last week's summary is due (Monday 08:00 by
    # default), make one send row per subscriber if absent, then send what is
    # waiting. Firing twice, or late after an outage, sends nobody two.
    "send-weekly-emails": {
        "task": "feedback.tasks.send_weekly_emails_task",
        "schedule": crontab(minute="*/10"),
    },
    # Hourly at twenty to: delete expired sessions and answers saved for later
    # past their 28 days. A draft abandoned half-way holds a name and email
    # address; it goes within an hour of expiring.
    "clear-expired-sessions": {
        "task": "feedback.tasks.clear_expired_sessions_task",
        "schedule": crontab(minute=40),
    },
    # Nightly at half past two: retrain each element's theme suggestions on
    # the tags people confirmed, and rewrite the suggestions for uncoded views.
    "train-suggestions": {
        "task": "feedback.tasks.train_suggestions_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # Every quarter of an hour: group new views with near-identical ones
    # before them (campaigns). A run still going holds a lock; the next skips.
    "group-campaigns": {
        "task": "feedback.tasks.group_campaigns_task",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    # Hourly at five past: delete export files past their 24 hours, and queue
    # again exports the broker lost or a dead worker left half-made.
    "sweep-exports": {
        "task": "feedback.tasks.sweep_exports_task",
        "schedule": crontab(minute=5),
    },
    # Every minute: read new mail from MAILBOX_URL (does nothing when unset).
    # A poll that is still running holds the folder; the next one skips it.
    "poll-mailbox": {
        "task": "feedback.tasks.poll_mailbox_task",
        "schedule": crontab(),
        "options": {"expires": 55},
    },
}

# A theme is suggested by the machine only once people have confirmed it on this many views.
QIPP_SUGGESTION_MIN_EXAMPLES = env.int("QIPP_SUGGESTION_MIN_EXAMPLES", default=20)
# The share of views a person codes that are drawn for a second reviewer to code blind
# (how far reviewers agree is measured on them). 0 turns second opinions off.
# Respondents' names, email addresses, individuals' organisations and the
# senders of stored mail are removed this many months after the call closes.
QIPP_KEEP_PERSONAL_DATA_MONTHS = env.int("QIPP_KEEP_PERSONAL_DATA_MONTHS", default=12)
if QIPP_KEEP_PERSONAL_DATA_MONTHS < 0:
    raise ImproperlyConfigured("QIPP_KEEP_PERSONAL_DATA_MONTHS is a number of months, 0 or more.")
# The final digest cannot be approved while a theme with more views than
# this has no recorded decision ("you said, we did").
QIPP_DECIDE_THEMES_ABOVE = env.int("QIPP_DECIDE_THEMES_ABOVE", default=10)
QIPP_SECOND_OPINION_SHARE = env.float("QIPP_SECOND_OPINION_SHARE", default=0.05)
if not 0 <= QIPP_SECOND_OPINION_SHARE <= 1:
    raise ImproperlyConfigured("QIPP_SECOND_OPINION_SHARE is a share between 0 and 1 (0.05 is one view in twenty).")
if QIPP_SUGGESTION_MIN_EXAMPLES < 5:
    raise ImproperlyConfigured("QIPP_SUGGESTION_MIN_EXAMPLES must be at least 5: fewer teaches a model nothing.")

# The mailbox views are sent to: imaps://user:password@host/INBOX. Unset, no mail is read.
MAILBOX_URL = env.str("MAILBOX_URL", default="")

# Staff sign-in. Every staff account uses two-factor authentication (an
# authenticator app, with backup codes for recovery). With DJANGO_DEBUG on,
# QIPP_RELAX_TWO_FACTOR lets accounts without a device in on their password
# alone, so `make run` stays one command; production refuses it.
QIPP_RELAX_TWO_FACTOR = env.bool("QIPP_RELAX_TWO_FACTOR", default=False)
if QIPP_RELAX_TWO_FACTOR and not DEBUG:
    raise ImproperlyConfigured("QIPP_RELAX_TWO_FACTOR is for development only: unset it, or set DJANGO_DEBUG.")
OTP_TOTP_ISSUER = "QIPP challenge feedback"
# Nobody reads a device's secret or backup codes in the admin, superusers
# included: whoever has them can pass as the device's owner.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A link to choose a password (new accounts, resets) works once, for this long.
PASSWORD_RESET_TIMEOUT = 3 * 24 * 60 * 60
LOGIN_URL = "staff_sign_in"
# A staff session ends after this many seconds without a request.
QIPP_STAFF_IDLE_SECONDS = env.int("QIPP_STAFF_IDLE_SECONDS", default=30 * 60)
# Lockout after repeated failed sign-ins, per account and address, so one
# person cannot lock a colleague out from elsewhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "staff/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "feedback.clients.client_ip"

# The respondent's journey.
# Where respondents write about their data, or about a problem using the portal.
QIPP_CONTACT_EMAIL = env.str("QIPP_CONTACT_EMAIL", default="qipp.feedback@example.nhs.uk")
# A form sent back faster than this many seconds after it was started is
# treated as a bot. Only the load runs' settings (bench/settings.py) go below
# a second.
QIPP_MIN_FILL_SECONDS = env.int("QIPP_MIN_FILL_SECONDS", default=5)
if QIPP_MIN_FILL_SECONDS < 1:
    raise ImproperlyConfigured("QIPP_MIN_FILL_SECONDS must be at least 1: below that it turns no bot away.")
# Submissions per client address: a readable 429 page beyond this.
QIPP_SUBMIT_RATE = env.str("QIPP_SUBMIT_RATE", default="20/h")
# Links to answers saved for later, asked for by one client address (saving, and asking again).
QIPP_RESUME_LINK_RATE = env.str("QIPP_RESUME_LINK_RATE", default="10/h")
# Changes to, and withdrawals of, a respondent's own submission, per client address.
QIPP_OWN_SUBMISSION_RATE = env.str("QIPP_OWN_SUBMISSION_RATE", default="30/h")
# Emails (every kind, feedback/outbox.py): how many times sending is tried
# before the row is marked failed. The backoff between tries spans more than
# a day, so an SMTP outage of a day costs latency, not the email.
QIPP_EMAIL_MAX_ATTEMPTS = env.int("QIPP_EMAIL_MAX_ATTEMPTS", default=12)

# The weekly email summary for week W goes out after W ends, at this day and
# time (London) of the following week.
QIPP_WEEKLY_EMAIL_DAY = env.str("QIPP_WEEKLY_EMAIL_DAY", default="monday")
QIPP_WEEKLY_EMAIL_TIME = env.str("QIPP_WEEKLY_EMAIL_TIME", default="08:00")
_days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
try:
    _hours, _minutes = (int(part) for part in QIPP_WEEKLY_EMAIL_TIME.split(":"))
    # How long after a week ends its summary is sent.
    QIPP_WEEKLY_EMAIL_AFTER = timedelta(
        days=_days.index(QIPP_WEEKLY_EMAIL_DAY.lower()), hours=_hours, minutes=_minutes
    )
except ValueError as error:
    raise ImproperlyConfigured(
        "QIPP_WEEKLY_EMAIL_DAY is a day such as monday; QIPP_WEEKLY_EMAIL_TIME like 08:00."
    ) from error
if not timedelta(0) <= QIPP_WEEKLY_EMAIL_AFTER < timedelta(days=7):
    raise ImproperlyConfigured("QIPP_WEEKLY_EMAIL_TIME must be a time of day, like 08:00.")
QIPP_WEEKLY_EMAIL_SUBJECT = env.str("QIPP_WEEKLY_EMAIL_SUBJECT", default="QIPP challenge feedback: weekly summary")
# Emails claimed and sent over one SMTP connection at a time.
QIPP_EMAIL_BATCH = env.int("QIPP_EMAIL_BATCH", default=50)

# How many proxies of our own stand between clients and the portal, each
# appending to X-Forwarded-For (feedback/clients.py). 0: the client is the
# connecting address. The rate limit, the lockout and the audit log all read
# the client's address this one way.
QIPP_TRUSTED_PROXIES = env.int("QIPP_TRUSTED_PROXIES", default=0)
if QIPP_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("QIPP_TRUSTED_PROXIES is a number of proxies: 0 or more.")
if env.str("RATELIMIT_IP_META_KEY", default=""):
    # A header named here was read whole, so clients could write their own address.
    raise ImproperlyConfigured("RATELIMIT_IP_META_KEY is no longer read: set QIPP_TRUSTED_PROXIES instead.")

# Prometheus scrapes /metrics with this bearer token; unset, /metrics answers 404.
QIPP_METRICS_TOKEN = env.str("QIPP_METRICS_TOKEN", default="")
# Errors to Sentry when SENTRY_DSN is set; off otherwise. No personal data is sent (qipp_portal/errors.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from .errors import start as start_error_reporting

    start_error_reporting(
        SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"),
        release=env.str("SENTRY_RELEASE", default=None),
    )

# Logs: JSON in production, plain in development, each line with its request
# id and task id (qipp_portal/logs.py). The request id comes from the proxy's
# X-Request-ID when valid, and goes with the tasks a request queues.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT is plain or json.")
LOGGING = logs.config(level=env.str("LOG_LEVEL", default="INFO"), style=LOG_FORMAT)
