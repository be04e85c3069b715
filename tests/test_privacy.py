"""Privacy at rest: retention purge, key rotation, no numbers or texts in responses."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from sqlalchemy import select, text, update

from helpline import crypto
from helpline.config import Config
from helpline.models import Conversation, Message, utcnow
from helpline.runtime import set_process_runtime
from tests.support import post_twilio, run_jobs, sms
from workers.scheduler import purge


def test_retention_purges_old_text_and_keeps_the_counts(app, client):
    post_twilio(client, sms("+4915100001101", "Hello"))
    run_jobs(app)
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        s.execute(update(Message).values(created_at=utcnow() - timedelta(days=rt.config.retention_days + 1)))
    post_twilio(client, sms("+4915100001101", "MENU"))
    run_jobs(app)
    set_process_runtime(rt)
    with app.app_context():
        assert purge(rt) == 2
    with rt.db.session() as s:
        rows = s.scalars(select(Message).order_by(Message.id)).all()
        assert [m.text is None for m in rows] == [True, True, False, False]
        assert s.scalar(select(Conversation.id)) is not None  # aggregates survive


def test_key_rotation_reencrypts_everything(app, client, tmp_path):
    post_twilio(client, sms("+4915100001102", "my private story"))
    run_jobs(app)
    rt = app.extensions["helpline"]
    old = rt.config.encryption_key
    new = crypto.new_key()
    env = {"HELPLINE_DATA_DIR": str(tmp_path / "d"), "DATABASE_URL": rt.config.database_url, "SECRET_KEY": "test-secret",
           "HELPLINE_ENCRYPTION_KEY": f"{new},{old}", "REDIS_URL": rt.config.redis_url, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "helpline.cli", "keys", "rotate"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "re-encrypted" in r.stdout
    crypto.configure(Config.from_env(env | {"HELPLINE_ENCRYPTION_KEY": new}))  # the old key is gone now
    try:
        with rt.db.session() as s:
            assert s.scalar(select(Message.text).where(Message.direction == "in")) == "my private story"
        with rt.db.engine.connect() as conn:
            raw = conn.execute(text("SELECT text FROM message WHERE direction = 'in'")).scalar()
        assert "private" not in raw
    finally:
        crypto.configure(rt.config)


def test_responses_carry_no_number_and_security_headers(app, client):
    post_twilio(client, sms("+4915100001103", "Hello"))
    run_jobs(app)
    client.post("/api/login", json={"email": "sam@example.org", "password": "sam-password-1"})
    for path in ("/api/conversations", "/dashboard", "/chat", "/"):
        r = client.get(path)
        assert b"4915100001103" not in r.data
        assert "frame-ancestors" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_web_chat_can_be_framed_by_the_ngos_own_site_and_nothing_else(make_helpline):
    app = make_helpline(PUBLIC_BASE_URL="https://help.example", HELPLINE_CHAT_EMBED_ORIGINS="https://ngo.example")
    client = app.test_client()
    chat = client.get("/chat", base_url="https://help.example").headers["Content-Security-Policy"]
    dashboard = client.get("/dashboard", base_url="https://help.example").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://ngo.example" in chat
    assert "ngo.example" not in dashboard  # staff pages are never framed by another site
    r = client.post("/chat/messages", json={"text": "Hello"}, base_url="https://help.example")
    cookie = r.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_embed_origins_must_be_https_origins():
    from helpline.config import Config, ConfigError
    with pytest.raises(ConfigError, match="HELPLINE_CHAT_EMBED_ORIGINS"):
        Config.from_env({"SECRET_KEY": "x", "HELPLINE_CHAT_EMBED_ORIGINS": "http://ngo.example"})
    cfg = Config.from_env({"SECRET_KEY": "x", "HELPLINE_CHAT_EMBED_ORIGINS": "https://a.example, https://b.example:8443/"})
    assert cfg.chat_embed_origins == ("https://a.example", "https://b.example:8443")
