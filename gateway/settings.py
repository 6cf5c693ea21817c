"""All configuration, read once from the environment.

With no environment at all the gateway runs on embedded defaults: a SQLite file and an
in-process cache under ``var/``, Celery in eager mode. Setting ``DATABASE_URL`` switches to
production rules: secrets must come from the environment and nothing is invented.
"""

import logging
from datetime import timezone
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django_celery_beat.tzcrontab import TzAwareCrontab

from gateway.envconf import env, envbool, envfloat, envint, envlist, ensure_local_secret

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("GATEWAY_DATA_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env("DATABASE_URL", "")
REDIS_URL = env("REDIS_URL", "")
EMBEDDED = not DATABASE_URL

if EMBEDDED:
    DATA_DIR.mkdir(parents=True, exist_ok=True)

# Off by default even embedded: DEBUG keeps every SQL query in memory and slows the log writer.
DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["*"] if EMBEDDED else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

if EMBEDDED:
    SECRET_KEY = env("DJANGO_SECRET_KEY", "") or ensure_local_secret(DATA_DIR / "secret_key", "django")
    GATEWAY_ENCRYPTION_KEYS = envlist("GATEWAY_ENCRYPTION_KEY", []) or [
        ensure_local_secret(DATA_DIR / "encryption_key", "fernet")
    ]
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", "")
    GATEWAY_ENCRYPTION_KEYS = envlist("GATEWAY_ENCRYPTION_KEY", [])
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set")
    if not GATEWAY_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "GATEWAY_ENCRYPTION_KEY must be set when DATABASE_URL is set "
            "(a Fernet key; make one with: python manage.py genkey)"
        )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "channels",
    "gateway",
    "providers",
    "accounts",
    "proxies",
    "stats",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "gateway.audit.AuditActorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "gateway.urls"
ASGI_APPLICATION = "gateway.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]


def _database_config():
    import dj_database_url

    if EMBEDDED:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "gateway.sqlite3",
            "OPTIONS": {
                "timeout": envfloat("GATEWAY_SQLITE_TIMEOUT", 20.0),  # seconds to wait for a lock
                "transaction_mode": "IMMEDIATE",
                # WAL lets the admin read while the log writer writes; NORMAL sync is safe with WAL.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    try:
        config = dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.mysql":
        config.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return config


DATABASES = {"default": _database_config()}
# Test runs sharing one database server and Redis name their own test database; their Redis keys follow it.
TEST_DATABASE_NAME = env("TEST_DATABASE_NAME", "") if not EMBEDDED else ""
if TEST_DATABASE_NAME:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = TEST_DATABASE_NAME
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "gw"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gateway"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "static" if EMBEDDED else BASE_DIR / "staticfiles")))
try:  # WhiteNoise expects the folder; collectstatic fills it in images, finders serve it otherwise
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (embedded runs, tests) WhiteNoise serves straight from the apps' folders.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"

# Celery: a broker from the environment, or eager execution in-process (embedded default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
# Beat's DatabaseScheduler copies these into django_celery_beat's tables when it starts; the admin edits them.
# The times are UTC whatever TIME_ZONE says: the roll-ups work on UTC days.
CELERY_BEAT_SCHEDULE = {
    "aggregate-today": {
        "task": "stats.tasks.aggregate_today",
        "schedule": TzAwareCrontab(minute="*/5", tz=timezone.utc),
        "options": {"expires": 240},
    },
    "aggregate-yesterday": {
        "task": "stats.tasks.aggregate_yesterday",
        "schedule": TzAwareCrontab(hour=0, minute=10, tz=timezone.utc),
    },
    "purge-request-logs": {
        "task": "stats.tasks.purge_request_logs",
        "schedule": TzAwareCrontab(hour=3, minute=0, tz=timezone.utc),
    },
    "purge-stored-responses": {
        "task": "gateway.tasks.purge_stored_responses",
        "schedule": TzAwareCrontab(hour=3, minute=30, tz=timezone.utc),
    },
    "refresh-expiring-tokens": {
        "task": "accounts.tasks.refresh_expiring_tokens",
        "schedule": TzAwareCrontab(minute="*/5", tz=timezone.utc),
        "options": {"expires": 240},
    },
    "probe-failed-accounts": {
        "task": "accounts.tasks.probe_failed_accounts",
        "schedule": TzAwareCrontab(minute="*/10", tz=timezone.utc),
        "options": {"expires": 540},
    },
    "roll-proxy-counters": {
        "task": "proxies.tasks.roll_proxy_counters",
        "schedule": TzAwareCrontab(minute="*/5", tz=timezone.utc),
        "options": {"expires": 240},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI Gateway API",
    "DESCRIPTION": "Stats, logs and configuration of the AI gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's JavaScript and CSS come from drf-spectacular-sidecar: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The gateway's own knobs.
GATEWAY = {
    "SNAPSHOT_REFRESH_SECONDS": envfloat("GATEWAY_SNAPSHOT_REFRESH_SECONDS", 1.0),
    "MAX_BODY_BYTES": envint("GATEWAY_MAX_BODY_BYTES", 16 * 1024 * 1024),
    "MAX_HEADER_BYTES": envint("GATEWAY_MAX_HEADER_BYTES", 64 * 1024),  # all headers together: 431 past it
    "BODY_TIMEOUT_SECONDS": envfloat("GATEWAY_BODY_TIMEOUT_SECONDS", 30.0),  # to read a request's whole body
    "UPSTREAM_MAX_CONNECTIONS": envint("GATEWAY_UPSTREAM_MAX_CONNECTIONS", 512),
    "UPSTREAM_KEEPALIVE_SECONDS": envfloat("GATEWAY_UPSTREAM_KEEPALIVE_SECONDS", 60.0),
    "LOG_BATCH_SIZE": envint("GATEWAY_LOG_BATCH_SIZE", 500),
    "LOG_FLUSH_SECONDS": envfloat("GATEWAY_LOG_FLUSH_SECONDS", 0.5),
    "LOG_MAX_PENDING": envint("GATEWAY_LOG_MAX_PENDING", 50_000),
    "LOG_RETENTION_DAYS": envint("GATEWAY_LOG_RETENTION_DAYS", 90),
    # Stored Responses API conversations (previous_response_id), as long as OpenAI keeps its own.
    "RESPONSE_RETENTION_DAYS": envint("GATEWAY_RESPONSE_RETENTION_DAYS", 30),
    "REDIS_PREFIX": env("GATEWAY_REDIS_PREFIX", f"{TEST_DATABASE_NAME}:" if TEST_DATABASE_NAME else ""),
    "METRICS_TOKEN": env("GATEWAY_METRICS_TOKEN", ""),
    "EXACT_TOKEN_COUNTS": envbool("GATEWAY_EXACT_TOKEN_COUNTS", False),
}

# The JSON lines carry no process id, and reading it is a system call for every record.
logging.logProcesses = logging.logMultiprocessing = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "gateway.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "gateway.logs.BufferedStreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django": {"level": env("DJANGO_LOG_LEVEL", "WARNING")}},
}
