"""Encryption at rest and keyed hashes of contact addresses.

Message text and contact addresses are stored encrypted (Fernet). Several keys
may be given (comma-separated, newest first) so old rows stay readable while a
key is rotated; `helpline keys rotate` re-encrypts them with the newest key.
Addresses are looked up by a keyed hash, so the database alone never reveals a
phone number.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from helpline.config import Config, ConfigError

_keyring: MultiFernet | None = None
_hash_key: bytes = b""


def configure(config: Config) -> None:
    """Loads the keys for this process (called by create_app and the CLI)."""
    global _keyring, _hash_key
    raw = config.encryption_key or _kept_key(config)
    try:
        keys = [Fernet(k.strip().encode()) for k in raw.split(",") if k.strip()]
    except ValueError:
        raise ConfigError("HELPLINE_ENCRYPTION_KEY must be Fernet keys (urlsafe base64, 32 bytes), comma-separated") from None
    if not keys:
        raise ConfigError("HELPLINE_ENCRYPTION_KEY is empty")
    _keyring = MultiFernet(keys)
    _hash_key = hashlib.sha256(b"helpline-address-hash:" + config.secret_key.encode()).digest()


def _kept_key(config: Config) -> str:
    if not config.embedded_database:
        raise ConfigError("HELPLINE_ENCRYPTION_KEY is required with an external DATABASE_URL "
                          "(every process must share it); make one with `helpline keys new`")
    path = Path(config.data_dir) / "encryption_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def _ring() -> MultiFernet:
    if _keyring is None:
        raise RuntimeError("helpline.crypto.configure() was not called")
    return _keyring


def encrypt(text: str) -> str:
    return _ring().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _ring().decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("stored text cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    return _ring().rotate(token.encode()).decode()


def address_hash(channel_kind: str, address: str) -> str:
    """Keyed hash of a contact address; `channel_kind` keeps SMS and WhatsApp apart."""
    return hmac.new(_hash_key, f"{channel_kind}:{address}".encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return Fernet.generate_key().decode()
