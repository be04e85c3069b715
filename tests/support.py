"""Building the app against real stores and fake providers; running queued jobs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from helpline import create_app, migrate
from helpline.config import Config
from tests.fakes import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN

PUBLIC = "https://helpline.test"
TELEGRAM_SECRET = "test-telegram-secret"
WA_NUMBER, SMS_NUMBER = "+14155238886", "+14155550100"

STAFF_YAML = """\
volunteers:
  - email: amal@example.org
    name: Amal
    password: amal-password-1
    languages: [ar, en]
    topics: [legal_aid, housing]
    max_conversations: 2
    trained_until: 2099-06-30
  - email: claire@example.org
    name: Claire
    password: claire-password-1
    languages: [fr, en]
    topics: [work]
    max_conversations: 2
    trained_until: 2099-06-30
  - email: olena@example.org
    name: Olena
    password: olena-password-1
    languages: [uk, ru]
    max_conversations: 2
    trained_until: 2020-01-01
professionals:
  - email: weber@example.org
    name: Dr. Weber
    password: weber-password-1
    phone: "+4915112345678"
    page_via: sms
    languages: [de, en]
  - email: haddad@example.org
    name: Dr. Haddad
    phone: "+4915187654321"
    page_via: telegram
    telegram_chat_id: 777001
    languages: [ar, en]
supervisors:
  - email: sam@example.org
    name: Sam
    password: sam-password-1
"""


def make_config(tmp_path: Path, database_url: str, redis_url: str, fakes_url: str, **over: Any) -> Config:
    env = {
        "HELPLINE_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret", "PUBLIC_BASE_URL": PUBLIC,
        "HELPLINE_ENCRYPTION_KEY": "k7nJxJ0T3sVq2m8cQeC2pX5rZ1a9bL4dF6gH8iK0mN4=",
        "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": WA_NUMBER, "TWILIO_SMS_NUMBER": SMS_NUMBER, "TWILIO_API_BASE_URL": fakes_url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": fakes_url, "ESCALATION_ACK_SECONDS": "120",
    }
    env.update({k: str(v) for k, v in over.items()})
    return Config.from_env(env)


def make_app(config: Config, staff_yaml: str | None = STAFF_YAML) -> Flask:
    migrate.upgrade(config.database_url)
    app = create_app(config)
    app.testing = True
    if staff_yaml:
        from helpline.staff import do_import_staff, parse_staff_file
        rt = app.extensions["helpline"]
        with rt.db.session() as s:
            do_import_staff(s, parse_staff_file(staff_yaml))
    return app


def run_jobs(app: Flask, max_jobs: int = 500) -> None:
    """Runs every queued job in this process, queues in priority order, until none is left."""
    from rq import Queue, SimpleWorker

    from helpline.runtime import set_process_runtime
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    with app.app_context():
        from workers.dispatch import dispatch_pending
        dispatch_pending(rt)
        queues = [Queue(q, connection=rt.redis) for q in ("crisis", "high", "default", "low")]
        worker = SimpleWorker(queues, connection=rt.redis)
        worker.work(burst=True, max_jobs=max_jobs, logging_level="ERROR")
        while _due_later(queues):  # a send handed to a job for its turn in the pace, as RQ's scheduler would
            worker = SimpleWorker(queues, connection=rt.redis)
            worker.work(burst=True, max_jobs=max_jobs, logging_level="ERROR")


def _due_later(queues: list) -> bool:  # type: ignore[type-arg]
    """Waits for the send jobs that workers.outbound scheduled for a row's turn and enqueues them; False when
    there are none. (Retries that RQ schedules after a failure are left alone, as before.)"""
    import time

    from rq.job import Job

    from workers.outbound import LATER_JOB
    found = False
    for q in queues:
        registry = q.scheduled_job_registry
        for job_id in registry.get_job_ids():
            if not job_id.startswith(LATER_JOB):
                continue
            found = True
            time.sleep(max(0.0, registry.get_scheduled_time(job_id).timestamp() - time.time()))
            registry.remove(job_id)
            q.enqueue_job(Job.fetch(job_id, connection=q.connection))
    return found


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    s = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()


def post_twilio(client: FlaskClient, params: dict[str, str], path: str = "/webhooks/twilio",
                signature: str | None = None):  # type: ignore[no-untyped-def]
    sig = twilio_signature(PUBLIC + path, params) if signature is None else signature
    return client.post(path, data=urllib.parse.urlencode(params),
                       headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})


def post_telegram(client: FlaskClient, update: Any, secret: str | None = TELEGRAM_SECRET,
                  raw: bytes | None = None):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return client.post("/webhooks/telegram", data=raw if raw is not None else json.dumps(update), headers=headers)


_sid = 0


def wa(number: str, text: str, **extra: str) -> dict[str, str]:
    global _sid
    _sid += 1
    p = {"MessageSid": f"SM{_sid:032x}", "AccountSid": TWILIO_SID, "From": f"whatsapp:{number}",
         "To": f"whatsapp:{WA_NUMBER}", "Body": text, "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
         "ApiVersion": "2010-04-01", "ProfileName": "Test", "WaId": number.lstrip("+"), "MessageType": "text"}
    p.update(extra)
    return p


def sms(number: str, text: str, **extra: str) -> dict[str, str]:
    global _sid
    _sid += 1
    p = {"MessageSid": f"SM{_sid:032x}", "AccountSid": TWILIO_SID, "From": number, "To": SMS_NUMBER, "Body": text,
         "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
         "FromCountry": "DE", "ToCountry": "US"}
    p.update(extra)
    return p


def login(client: FlaskClient, email: str, password: str) -> dict[str, str]:
    """Logs a staff member in through the API; returns the CSRF header for unsafe requests."""
    r = client.post("/api/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.json
    return {"X-CSRF-Token": r.json["csrf_token"]}
