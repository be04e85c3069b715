"""Twilio Messaging webhooks: WhatsApp (From=whatsapp:+...) and SMS, and status callbacks."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re

from flask import request
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from helpline.inbound import InboundMessage, clean_text
from helpline.models import Contact, Message, utcnow
from helpline.runtime import Runtime, current_runtime
from webhooks import bp
from webhooks.common import reject, store

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
STATUS_ORDER = {"accepted": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
TERMINAL_FAILED = {"failed", "undelivered", "canceled"}
SID = re.compile(r"[A-Za-z0-9]{2,64}")  # Twilio's are SM + 32 hex; the database keeps up to 64


def _verified(rt: Runtime, req: Request) -> bool:
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature or not rt.config.twilio_auth_token:
        return False
    base = rt.config.public_base_url
    url = (base + req.full_path.rstrip("?")) if base else req.url
    # the whole form: Twilio signs every value of a repeated field, so none can be added unsigned
    # validate() always computes two signatures (the URL with and without its port); the URL as
    # configured is what Twilio signs in practice, so try it alone first
    expected = _signature(rt.config.twilio_auth_token.encode(), url, req.form)
    return hmac.compare_digest(expected, signature.encode()) or \
        _validator(rt.config.twilio_auth_token).validate(url, req.form, signature)


def _signature(token: bytes, url: str, form: MultiDict) -> bytes:
    """RequestValidator.compute_signature (Twilio's documented HMAC-SHA1 of the URL and every name and
    value, sorted), without the exception it raises and catches for each field of a werkzeug MultiDict."""
    signed = url + "".join(name + value for name in sorted(form) for value in sorted(set(form.getlist(name))))
    return base64.b64encode(hmac.new(token, signed.encode(), hashlib.sha1).digest())


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="application/xml")


def receive(rt: Runtime, req: Request) -> Response:
    """POST /webhooks/twilio, an inbound WhatsApp or SMS message: verified, stored and announced, or refused
    with a reason. webhooks.fast routes it, outside Flask's request handling."""
    if not rt.config.twilio_enabled:
        return reject(404, "channel_off", "the Twilio channel is not configured")
    if req.mimetype != "application/x-www-form-urlencoded":
        return reject(400, "malformed", "expected a form-encoded body")
    if not _verified(rt, req):
        return reject(403, "bad_signature", "X-Twilio-Signature is missing or does not match")
    form = req.form
    sid, sender = form.get("MessageSid") or form.get("SmsSid"), form.get("From", "")
    if not sid or not sender:
        return reject(400, "malformed", "MessageSid and From are required")
    if not SID.fullmatch(sid):
        return reject(400, "malformed", "MessageSid is not a Twilio id")
    if sender.startswith("whatsapp:"):
        channel, address = "whatsapp", sender[len("whatsapp:"):]
    else:
        channel, address = "sms", sender
    digits = address[1:]  # ASCII only: str.isdigit() also takes "²" and "٤"
    if not address.startswith("+") or not (digits.isascii() and digits.isdigit()) or len(address) > 17:
        return reject(400, "malformed", "From is not an E.164 number")
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        return reject(400, "malformed", "NumMedia is not a number")
    media = [{"url": form.get(f"MediaUrl{i}", ""), "type": form.get(f"MediaContentType{i}", "")}
             for i in range(min(num_media, 10))]
    location = None
    if form.get("Latitude") and form.get("Longitude"):
        location = {"lat": form.get("Latitude"), "lon": form.get("Longitude"), "label": form.get("Label") or ""}
    button = form.get("ButtonPayload") or None
    text = clean_text(form.get("Body")) or clean_text(form.get("ButtonText"))
    store(rt, InboundMessage(channel=channel, address=address, text=text, provider_id=sid,
                             received_at=utcnow(), media=media, location=location, button=button))
    return _twiml()


@bp.post("/webhooks/twilio/status")
def twilio_status():  # type: ignore[no-untyped-def]
    rt = current_runtime()
    if not rt.config.twilio_enabled:
        return reject(404, "channel_off", "the Twilio channel is not configured")
    if not _verified(rt, request):
        return reject(403, "bad_signature", "X-Twilio-Signature is missing or does not match")
    sid, status = request.form.get("MessageSid"), (request.form.get("MessageStatus") or "").lower()
    if not sid or not status:
        return reject(400, "malformed", "MessageSid and MessageStatus are required")
    if not SID.fullmatch(sid):
        return reject(400, "malformed", "MessageSid is not a Twilio id")
    with rt.db.session() as s:
        msg = s.scalar(select(Message).where(Message.direction == "out", Message.provider_id == sid))
        if msg is not None and msg.status not in TERMINAL_FAILED:
            if status in TERMINAL_FAILED:
                code = re.sub(r"[^A-Za-z0-9_.-]", "", request.form.get("ErrorCode") or status)
                msg.status, msg.error_code = "failed", code[:32]  # what fits the column, no NUL
                contact = s.get(Contact, msg.contact_id) if msg.contact_id else None
                if request.form.get("ErrorCode") in ("21610", "63024") and contact is not None:
                    contact.unreachable = True
            elif STATUS_ORDER.get(status, -1) > STATUS_ORDER.get(msg.status, -1):
                msg.status = status
                if status in ("delivered", "read"):
                    msg.delivered_at = msg.delivered_at or utcnow()
    return _twiml()
