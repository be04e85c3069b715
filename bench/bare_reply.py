"""The yardstick for bench/load.py: a bare Flask handler that answers the webhook at once and posts one
reply to the (fake) provider from a thread. No signature check, no storage, no queue, no screening:
the floor of "webhook in -> provider call out" on this machine.

The provider is read from the environment bench/load.py gives gunicorn: BARE_PROVIDER_URL,
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TELEGRAM_BOT_TOKEN.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import urllib.parse

from flask import Flask, request

app = Flask(__name__)
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _post(path: str, body: bytes, headers: dict[str, str]) -> None:
    url = urllib.parse.urlparse(os.environ["BARE_PROVIDER_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        conn.getresponse().read()
    finally:
        conn.close()


def _twilio_reply(to: str, sender: str) -> None:
    sid, token = os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"]
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    body = urllib.parse.urlencode({"To": to, "From": sender, "Body": "Welcome"}).encode()
    _post(f"/2010-04-01/Accounts/{sid}/Messages.json", body,
          {"Authorization": "Basic " + auth, "Content-Type": "application/x-www-form-urlencoded"})


def _telegram_reply(chat_id: int) -> None:
    body = json.dumps({"chat_id": chat_id, "text": "Welcome"}).encode()
    _post(f"/bot{os.environ['TELEGRAM_BOT_TOKEN']}/sendMessage", body, {"Content-Type": "application/json"})


@app.post("/webhooks/twilio")
def twilio():  # type: ignore[no-untyped-def]
    threading.Thread(target=_twilio_reply, args=(request.form["From"], request.form["To"]), daemon=True).start()
    return TWIML, 200, {"Content-Type": "application/xml"}


@app.post("/webhooks/telegram")
def telegram():  # type: ignore[no-untyped-def]
    chat_id = request.get_json()["message"]["chat"]["id"]
    threading.Thread(target=_telegram_reply, args=(chat_id,), daemon=True).start()
    return {"ok": True}
