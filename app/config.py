"""Configuration classes read from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("BALAI_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))


def _secret_key_from_instance() -> str:
    """Read the embedded default's key, generating it once so sessions survive restarts."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'balai.sqlite'}"
    # Heroku-style URLs name the old dialect; psycopg 3 is the driver we ship.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """The embedded default: SQLite under instance/, jobs in-process, no Redis needed."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url()
    # No ping at every checkout: app/transactions.py pings a connection that sat idle a while.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(INSTANCE_DIR / "uploads")
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    MAX_PHOTO_BYTES = 10 * 1024 * 1024
    # Resident forms with photos (app/limits.py): over-large photos are measured and refused with
    # the answers kept; each is stored only up to MAX_PHOTO_BYTES as it arrives.
    MAX_FORM_UPLOAD_BYTES = 128 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    LANGUAGES = ("id", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12

    WTF_CSRF_TIME_LIMIT = None
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (a method name, not a password)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Where several deployments share one Redis, each counts its own limits under its own prefix.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "")
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
    # Wrong passwords per account, from any address (app/auth/guard.py): after this many, each
    # failure locks the account for a delay that doubles from BASE up to MAX seconds; failures are
    # forgotten WINDOW seconds after the first, or at the next right password.
    LOGIN_LOCKOUT_AFTER = int(os.environ.get("LOGIN_LOCKOUT_AFTER", "5"))
    LOGIN_LOCKOUT_BASE_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_BASE_SECONDS", "30"))
    LOGIN_LOCKOUT_MAX_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_MAX_SECONDS", "300"))
    LOGIN_LOCKOUT_WINDOW_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_WINDOW_SECONDS", "3600"))

    TIMEZONE = "Asia/Jakarta"
    TESTING = False
    # Public pages for visitors without a session, kept per web process this long at most; a change
    # of data on the same machine drops them at once (app/pagecache.py). 0 turns the cache off.
    PAGE_CACHE_SECONDS = float(os.environ.get("PAGE_CACHE_SECONDS", "15") or 0)
    PAGE_CACHE_ENTRIES = 512
    # /healthz checks the database and Redis at most this often per process (app/health.py).
    HEALTH_CHECK_SECONDS = float(os.environ.get("HEALTH_CHECK_SECONDS", "1") or 0)
    # Data and rendered blocks the same for every visitor (app/datacache.py), dropped at every write:
    # at once on this machine, within DATA_CACHE_REDIS_SECONDS on another one sharing REDIS_URL.
    DATA_CACHE_ENTRIES = 1024
    DATA_CACHE_REDIS_SECONDS = float(os.environ.get("DATA_CACHE_REDIS_SECONDS", "1") or 0)
    # How many reverse proxies (nginx, a load balancer) stand in front of gunicorn; 0 when none.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0") or 0)
    # Test/dev only: let WhatsApp/SMS gateway calls reach loopback (a gateway stand-in on this
    # machine). Production never allows it (ProductionConfig.init), whatever the environment says.
    GATEWAY_ALLOW_LOOPBACK = os.environ.get("GATEWAY_ALLOW_LOOPBACK", "").lower() in ("1", "true", "yes")

    @classmethod
    def init(cls, config: dict) -> None:
        """Fill values that need the filesystem; called by the app factory."""
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _secret_key_from_instance()


class ProductionConfig(Config):
    """PostgreSQL, Redis and rq workers behind gunicorn; refuses unsafe defaults."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    GATEWAY_ALLOW_LOOPBACK = False

    @classmethod
    def init(cls, config: dict) -> None:
        # An operator-typed gateway URL must never reach this machine's own services.
        config["GATEWAY_ALLOW_LOOPBACK"] = False
        if not config.get("SECRET_KEY"):
            raise RuntimeError("SECRET_KEY must be set in production (BALAI_ENV=production).")
        if len(config["SECRET_KEY"]) < 32:
            raise RuntimeError("SECRET_KEY must be at least 32 characters long.")


class TestConfig(Config):
    """Tests: a database named by TEST_DATABASE_URL (SQLite in a temp dir by default)."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-for-tests"  # noqa: S105
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    # Real scrypt costs ~0.1-0.4 s a hash; the suite hashes thousands. test_auth checks scrypt itself.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105
    REDIS_URL = None
    BASE_URL = "http://balai.test"
    SERVER_NAME = None
    GATEWAY_ALLOW_LOOPBACK = True  # the gateways in tests are local HTTP servers


CONFIGS = {"development": Config, "production": ProductionConfig, "test": TestConfig}


def config_from_env() -> type[Config]:
    """Pick the configuration class named by BALAI_ENV (development by default)."""
    return CONFIGS[os.environ.get("BALAI_ENV", "development")]
