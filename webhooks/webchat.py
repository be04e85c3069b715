"""The web chat channel (/chat): anonymous, a session cookie as the address.

Same store-then-process path, flows and screening as the other channels; the
page polls for replies. Rate-limited per session and per address.
"""
from __future__ import annotations

import secrets

from flask import jsonify, render_template, request, session
from sqlalchemy import select

from helpline.inbound import InboundMessage, clean_text, get_contact_by_address
from helpline.models import Message, utcnow
from helpline.ratelimit import too_many
from helpline.runtime import current_runtime
from webhooks import bp
from webhooks.common import reject, store

MAX_CHAT_TEXT = 2000
MAX_ID = 2**31  # message ids are INTEGER columns, 32 bits on PostgreSQL


def _chat_id(create: bool) -> str | None:
    if "chat_id" not in session and create:
        session["chat_id"] = secrets.token_urlsafe(24)
        session.permanent = True
    return session.get("chat_id")


WEBCHAT_KEYS = ("title", "intro", "label", "send", "language", "rate_limited", "not_sent")


@bp.get("/chat")
def chat_page():  # type: ignore[no-untyped-def]
    """The page in the language chosen on it (?lang=), else the browser's best supported language."""
    rt = current_runtime()
    codes = rt.content.codes
    lang = request.args.get("lang", "")
    if lang not in codes:
        lang = request.accept_languages.best_match(codes) or "en"
    texts = {k: rt.content.text(f"webchat.{k}", lang) for k in WEBCHAT_KEYS}
    return render_template("chat.html", languages=rt.content.languages, lang=lang,
                           direction=rt.content.direction(lang), t=texts)


@bp.post("/chat/messages")
def chat_send():  # type: ignore[no-untyped-def]
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting: silent=True covers only ValueError
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return reject(400, "malformed", 'send JSON {"text": "..."}')
    text = clean_text(body["text"])
    if not text:
        return reject(422, "empty", "the message is empty")
    if len(text) > MAX_CHAT_TEXT:
        return reject(422, "too_long", f"at most {MAX_CHAT_TEXT} characters")
    chat_id = _chat_id(create=True)
    if too_many(f"chat:{chat_id}", 20, 60) or too_many(f"chatip:{request.remote_addr}", 120, 60):
        return reject(429, "rate_limited", "too many messages; please wait a moment")
    lang = body.get("lang") if isinstance(body.get("lang"), str) else None
    store(current_runtime(), InboundMessage(channel="web", address=chat_id or "", text=text,
                                            provider_id=f"w{secrets.token_hex(12)}", received_at=utcnow(),
                                            profile_language=lang))
    return jsonify({"ok": True}), 201


@bp.get("/chat/messages")
def chat_poll():  # type: ignore[no-untyped-def]
    chat_id = _chat_id(create=False)
    if not chat_id:
        return jsonify({"messages": []})
    try:
        after = int(request.args.get("after", 0))
    except ValueError:
        return reject(400, "malformed", "after must be a message id")
    if not -MAX_ID < after < MAX_ID:  # the database would refuse to compare with a larger number
        return reject(400, "malformed", "after must be a message id")
    rt = current_runtime()
    with rt.db.session() as s:
        contact = get_contact_by_address(s, "web", chat_id)
        if contact is None:
            return jsonify({"messages": []})
        rows = s.scalars(select(Message).where(Message.contact_id == contact.id, Message.id > after,
                                               Message.private.is_(False)).order_by(Message.id).limit(200)).all()
        out = [{"id": m.id, "direction": m.direction, "text": m.text or "",
                "options": m.payload.get("options", []), "at": m.created_at.isoformat()} for m in rows
               if m.direction == "in" or m.status in ("delivered", "sent", "read")]
        direction = rt.content.direction(contact.language)
    return jsonify({"messages": out, "dir": direction})
