"""One settings module, driven by environment variables.

With nothing set, the app runs on SQLite and a filesystem Celery broker under `var/`, so it starts on a bare
machine. `DATABASE_URL` and `CELERY_BROKER_URL` point it at PostgreSQL and Redis. `DJANGO_ENV=production`
turns on the strict settings and refuses to start without an explicit `DJANGO_SECRET_KEY`.
"""

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from annotate.model_roots import parse_model_roots
from annotate.storage_url import StorageUrlError, default_storage_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ANNOTATE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("DJANGO_ENV", "development") == "production"
DEBUG = env_bool("DJANGO_DEBUG", default=False) and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key and PRODUCTION and (len(key) < 32 or len(set(key)) < 8 or key.startswith("django-insecure")):
        # A short or example key can be guessed, and with it sessions and password-reset links forged.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is too weak: use 32+ random characters (openssl rand -base64 48)."
        )
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production.")
    # Never a hard-coded key: a random one, kept in var/ so sessions survive restarts of a local install.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "labeling",
    "labeling.auditlog",
    "rewardtrain",
    "rewardtrain.runs",
    "rewardtrain.generation",
]

MIDDLEWARE = [
    # First: every later layer, and the log line and latency metric of the request, see its request id.
    "annotate.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "annotate.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "labeling.auditlog.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "annotate.urls"
WSGI_APPLICATION = "annotate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "annotate" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        # A persistent connection is pinged before reuse only if asked: it is one more round trip per request.
        conn_health_checks=env_bool("DATABASE_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameter binding lets psycopg prepare the hot queries once per connection.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": env_bool("DATABASE_SERVER_SIDE_BINDING", True)}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves a demo with a worker beside it: wait on locks rather than fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "static"))
# The built browser app (frontend/dist, by `make frontend`). Always listed, so a build made after this module is
# imported is still found; its absence is not an error (the SPA view explains how to build it).
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST]
SILENCED_SYSTEM_CHECKS = ["staticfiles.W004"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
# Model roots (`annotate/model_roots.py`): the only directories project admins may register models from.
ANNOTATE_MODEL_ROOTS = parse_model_roots(os.environ.get("ANNOTATE_MODEL_ROOTS"))
# Processes a gpu worker may start for one run (`rewardtrain/runs/devices.py`); unset: its CUDA device count.
_gpus = os.environ.get("ANNOTATE_WORKER_GPUS", "")
if _gpus and (not _gpus.isdigit() or int(_gpus) < 1):
    raise ImproperlyConfigured(f"ANNOTATE_WORKER_GPUS must be a whole number of at least 1, not {_gpus!r}")
ANNOTATE_WORKER_GPUS = int(_gpus) if _gpus else None
# Inference endpoints (`rewardtrain/generation/endpoints.py`): name -> OpenAI-compatible server, as JSON here or
# in the file named by ANNOTATE_INFERENCE_ENDPOINTS_FILE; project admins pick one by name. Checked at start.
ANNOTATE_INFERENCE_ENDPOINTS = os.environ.get("ANNOTATE_INFERENCE_ENDPOINTS", "")
ANNOTATE_INFERENCE_ENDPOINTS_FILE = os.environ.get("ANNOTATE_INFERENCE_ENDPOINTS_FILE", "")
# Every file the app writes or reads (`annotate/storage.py`): MEDIA_ROOT, or an S3-compatible store when
# ANNOTATE_STORAGE_URL=s3://bucket/prefix (endpoint and credentials: `annotate/storage_url.py`).
# Downloads from an S3 store: a presigned redirect (the bytes bypass the web server), unless clients cannot
# reach the store's endpoint (a store on a private network, as in docker-compose.yml): then the web streams them.
ANNOTATE_STORAGE_REDIRECT = os.environ.get("ANNOTATE_STORAGE_REDIRECT", "true").lower() not in (
    "0",
    "false",
    "no",
)
try:
    _default_storage = default_storage_setting(os.environ.get("ANNOTATE_STORAGE_URL"), os.environ)
except StorageUrlError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# A worker's local copy of stored inputs (snapshots, models), keyed by content hash and shared by its jobs
# (`rewardtrain/staging.py`); past ANNOTATE_CACHE_MAX_BYTES the least recently used go first.
ANNOTATE_CACHE_DIR = Path(os.environ.get("ANNOTATE_CACHE_DIR", VAR_DIR / "cache"))
ANNOTATE_CACHE_MAX_BYTES = int(os.environ.get("ANNOTATE_CACHE_MAX_BYTES", str(20 * 1024**3)))
# Entries used within this many seconds stay, whatever the size: another job on the host may be reading them.
ANNOTATE_CACHE_MIN_IDLE_S = float(os.environ.get("ANNOTATE_CACHE_MIN_IDLE_S", "600"))

# Uploads: imports are read in memory up to this size and refused above it with a clear message.
IMPORT_MAX_BYTES = int(os.environ.get("ANNOTATE_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
IMPORT_MAX_RECORDS = int(os.environ.get("ANNOTATE_IMPORT_MAX_RECORDS", "100000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = IMPORT_MAX_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every view names its own permission.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "labeling.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "labeling.api.errors.exception_handler",
    # One JSON parser for the whole API: depth, size and text limits (labeling/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "labeling.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Annotate API",
    "DESCRIPTION": "Human feedback on language-model outputs: projects, tasks, demonstrations, rankings.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every 4xx answers the shared `Error` component (labeling.api.errors makes it so).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labeling.api.schema.error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "labeling.models.TaskKind",
        "TaskStatusEnum": "labeling.models.TaskStatus",
        "AssignmentStatusEnum": "labeling.models.AssignmentStatus",
        "RoleEnum": "labeling.models.Role",
        "ImportKindEnum": [("prompts", "prompts"), ("ranking_items", "ranking_items")],
        "SnapshotKindEnum": "rewardtrain.snapshots.models.SnapshotKind",
        "SnapshotStatusEnum": "rewardtrain.snapshots.models.SnapshotStatus",
        "RunStatusEnum": "rewardtrain.runs.models.RunStatus",
        "RunKindEnum": "rewardtrain.runs.models.RunKind",
        "ReviewDecisionEnum": "labeling.models.ReviewDecision",
        "ReviewStatusEnum": "labeling.models.ReviewStatus",
    },
}

# Celery: job state lives in our own tables; Celery only carries ids.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    for sub in ("in", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default control folder is ./control in whatever directory the process started in
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Above the longest job, so a long training run is not delivered twice (acks_late + Redis).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(7 * 24 * 3600)))
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"rewardtrain.tasks.gpu_*": {"queue": "gpu"}}
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "labeling.tasks.expire_leases", "schedule": 60.0},
    "requeue-stale-runs": {"task": "rewardtrain.tasks.requeue_stale_runs", "schedule": 300.0},
    "requeue-stale-generation-jobs": {
        "task": "rewardtrain.tasks.requeue_stale_generation_jobs",
        "schedule": 300.0,
    },
    "requeue-stale-scoring-jobs": {"task": "rewardtrain.tasks.requeue_stale_scoring_jobs", "schedule": 300.0},
}
CELERY_BEAT_SCHEDULE["requeue-lost-jobs"] = {
    # Jobs whose message was never sent (broker down at the time) or was lost with a restarted broker.
    "task": "rewardtrain.tasks.requeue_lost_jobs",
    "schedule": 60.0,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through Django's LOGGING (JSON lines with the task id) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A queued job older than this, whose queue is empty, is sent again (the job's row claim makes a repeat a no-op).
JOBS_REQUEUE_AFTER_SECONDS = int(os.environ.get("ANNOTATE_JOBS_REQUEUE_AFTER_S", "120"))

# Security headers. HTTPS-only settings switch on in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "annotate.security.csrf_failure"
SESSION_COOKIE_SAMESITE = "Lax"
# Sign-in throttle (labeling/auditlog/signin.py), for the API login and the Django admin alike, counted in the
# database so every worker shares it. Per (username, address): this many failures are free, then each next
# attempt of the pair waits DELAY_BASE * 2^(failures - free) seconds, at most LOCKOUT seconds; failures are
# remembered for FAILURE_MEMORY seconds (or until the pair signs in, or staff unlock). Per address, a coarse
# limit: MAX_FAILURES_PER_IP failures within LOCKOUT seconds lock that address out for LOCKOUT seconds.
LOGIN_FREE_FAILURES = int(os.environ.get("ANNOTATE_LOGIN_MAX_FAILURES", "5"))
LOGIN_DELAY_BASE_SECONDS = int(os.environ.get("ANNOTATE_LOGIN_DELAY_BASE_SECONDS", "30"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("ANNOTATE_LOGIN_LOCKOUT_SECONDS", str(15 * 60)))
LOGIN_FAILURE_MEMORY_SECONDS = int(os.environ.get("ANNOTATE_LOGIN_FAILURE_MEMORY_SECONDS", str(24 * 3600)))
LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("ANNOTATE_LOGIN_MAX_FAILURES_PER_IP", "20"))
AUTHENTICATION_BACKENDS = ["labeling.auditlog.backends.ThrottledModelBackend"]
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed: from one of them, the client address is the
# right-most entry that is not itself a trusted proxy. Empty: REMOTE_ADDR, and the header is ignored.
TRUSTED_PROXIES = env_list("ANNOTATE_TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"ANNOTATE_TRUSTED_PROXIES: {_proxy!r} is not an IP address or CIDR"
        ) from _exc
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Behind a TLS-terminating proxy these stay on; DJANGO_SECURE_COOKIES=false only for a plain-HTTP trial.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# One JSON object per line with the request or task id (annotate/logging.py); LOG_FORMAT=text for a console.
from annotate.logging import logging_config  # noqa: E402

LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"), os.environ.get("LOG_FORMAT", "json"))

# Operations: /metrics for these addresses (unproxied) or with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# /readyz asks the workers which queues they consume, at most this often, waiting this long for answers.
READYZ_WORKERS_CACHE_SECONDS = float(os.environ.get("READYZ_WORKERS_CACHE_SECONDS", "10"))
READYZ_INSPECT_TIMEOUT = float(os.environ.get("READYZ_INSPECT_TIMEOUT", "1.0"))
