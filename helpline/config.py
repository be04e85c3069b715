"""Typed configuration, read once from the environment (CONTRACT 2)."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import phonenumbers


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("instance")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    public_base_url: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_whatsapp_number: str = ""
    twilio_sms_number: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"
    default_region: str = "DE"
    escalation_ack_seconds: int = 120
    queue_timeout_seconds: int = 300
    assignment_open_seconds: int = 300
    session_expiry_seconds: int = 6 * 3600
    retention_days: int = 90
    encryption_key: str = ""
    chat_embed_origins: tuple[str, ...] = ()
    http_timeout_seconds: float = 10.0
    embedded_redis: bool = False
    testing: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def embedded_database(self) -> bool:
        return self.database_url == default_database_url(self.data_dir)

    def with_(self, **changes: object) -> "Config":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_secret: bool = True) -> "Config":
        """Reads and checks every variable; raises ConfigError naming the bad one."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("HELPLINE_DATA_DIR") or "instance").resolve()
        secret = env.get("SECRET_KEY", "")
        if not secret:
            if require_secret:
                raise ConfigError("SECRET_KEY is required outside `helpline serve`")
            secret = _kept_secret(data_dir, "secret_key")
        region = (env.get("HELPLINE_DEFAULT_REGION") or "DE").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"HELPLINE_DEFAULT_REGION={region!r} is not an ISO 3166 region code")
        base = env.get("PUBLIC_BASE_URL", "").rstrip("/")
        if base and not base.startswith(("http://", "https://")):
            raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
        for var in ("TWILIO_WHATSAPP_NUMBER", "TWILIO_SMS_NUMBER"):
            value = env.get(var, "")
            if value and not _is_e164(value):
                raise ConfigError(f"{var} must be an E.164 number such as +14155550100")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or default_database_url(data_dir),
            redis_url=env.get("REDIS_URL", ""),
            secret_key=secret,
            public_base_url=base,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_whatsapp_number=env.get("TWILIO_WHATSAPP_NUMBER", ""),
            twilio_sms_number=env.get("TWILIO_SMS_NUMBER", ""),
            twilio_api_base_url=_url(env, "TWILIO_API_BASE_URL", "https://api.twilio.com"),
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
            telegram_api_base_url=_url(env, "TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
            default_region=region,
            escalation_ack_seconds=_int(env, "ESCALATION_ACK_SECONDS", 120, minimum=1),
            queue_timeout_seconds=_int(env, "QUEUE_TIMEOUT_SECONDS", 300, minimum=1),
            assignment_open_seconds=_int(env, "ASSIGNMENT_OPEN_SECONDS", 300, minimum=1),
            session_expiry_seconds=_int(env, "SESSION_EXPIRY_SECONDS", 6 * 3600, minimum=1),
            retention_days=_int(env, "HELPLINE_RETENTION_DAYS", 90, minimum=1),
            encryption_key=env.get("HELPLINE_ENCRYPTION_KEY", ""),
            chat_embed_origins=_origins(env, "HELPLINE_CHAT_EMBED_ORIGINS"),
        )


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'helpline.db'}"


def _kept_secret(data_dir: Path, name: str) -> str:
    """A secret generated once and kept in the data dir (embedded default only)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Sites allowed to show the web chat in a frame: https://ngo.example, space- or comma-separated."""
    origins = tuple(o.rstrip("/") for o in env.get(name, "").replace(",", " ").split())
    for o in origins:
        if not re.fullmatch(r"https://[a-z0-9.-]+(:\d{1,5})?", o.lower()):
            raise ConfigError(f"{name}: {o!r} is not an origin such as https://ngo.example (https only)")
    return origins


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _is_e164(value: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False

