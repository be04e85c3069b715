"""Telegram Bot API webhook updates."""
from __future__ import annotations

import hmac
import json
import logging

from flask import jsonify, request

from helpline.inbound import InboundMessage, clean_text, get_contact_by_address
from helpline.models import utcnow
from helpline.runtime import current_runtime
from webhooks import bp
from webhooks.common import reject, store

log = logging.getLogger(__name__)
MAX_ID = 2**63  # Telegram's ids fit 52 bits; anything past a database integer is not Telegram's


def _ok():  # type: ignore[no-untyped-def]
    return jsonify({"ok": True})


@bp.post("/webhooks/telegram")
def telegram_update():  # type: ignore[no-untyped-def]
    rt = current_runtime()
    if not rt.config.telegram_enabled:
        return reject(404, "channel_off", "the Telegram channel is not configured")
    secret = rt.config.telegram_webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return reject(403, "bad_secret", "X-Telegram-Bot-Api-Secret-Token is missing or wrong")
    try:
        update = json.loads(request.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        return reject(400, "malformed", "the body is not JSON")
    if not isinstance(update, dict) or not _is_id(update.get("update_id")) or update["update_id"] < 0:
        return reject(400, "malformed", "an update needs an integer update_id")
    provider_id = f"u{update['update_id']}"

    if "my_chat_member" in update:
        return _member_change(update["my_chat_member"])
    if "callback_query" in update:
        cq = update["callback_query"]
        user = cq.get("from") if isinstance(cq, dict) else None
        if not isinstance(user, dict) or not _is_id(user.get("id")):
            return reject(400, "malformed", "callback_query without from.id")
        message = cq.get("message") or {}
        chat = (message.get("chat") or {}) if isinstance(message, dict) else None
        if not isinstance(chat, dict) or not isinstance(cq.get("data") or "", str):
            return reject(400, "malformed", "callback_query.message.chat must be an object, data text")
        if chat.get("type", "private") != "private":
            return _ok()
        data = (cq.get("data") or "")[:64]
        store(rt, InboundMessage(channel="telegram", address=str(user["id"]), text=data,
                                 provider_id=provider_id, received_at=utcnow(), button=data,
                                 callback_id=str(cq.get("id") or ""),
                                 profile_language=_language(user)))
        return _ok()
    message = update.get("message")
    if message is None:  # edited_message, channel posts, polls ...: acknowledged, not served
        return _ok()
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return reject(400, "malformed", "message without chat")
    chat = message["chat"]
    if chat.get("type") != "private":
        return _ok()  # groups are not served: a helpline conversation is one to one
    if not _is_id(chat.get("id")):
        return reject(400, "malformed", "chat.id must be an integer")
    if not all(isinstance(message.get(k) or "", str) for k in ("text", "caption")):
        return reject(400, "malformed", "text and caption must be text")
    text = clean_text(message.get("text") or message.get("caption"))
    media = []
    for kind in ("photo", "voice", "audio", "document", "video", "sticker", "video_note"):
        if kind in message:
            media.append({"type": kind})
    location = None
    if isinstance(message.get("location"), dict):
        loc = message["location"]
        location = {"lat": loc.get("latitude"), "lon": loc.get("longitude")}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    store(rt, InboundMessage(channel="telegram", address=str(chat["id"]), text=text, provider_id=provider_id,
                             received_at=utcnow(), media=media, location=location,
                             profile_language=_language(sender)))
    return _ok()


def _is_id(value: object) -> bool:
    """A Telegram id: an integer (JSON true is not one, though Python says so) within a database integer."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_ID < value < MAX_ID


def _language(user: dict) -> str | None:
    """The profile's IETF language tag, when it is one: the worker reads its first two letters."""
    tag = user.get("language_code")
    return tag[:35] if isinstance(tag, str) and tag.isascii() else None


def _member_change(change: dict):  # type: ignore[no-untyped-def]
    """The user blocked (kicked) or unblocked the bot: mark reachability, no reply."""
    if not isinstance(change, dict) or not all(isinstance(change.get(k) or {}, dict)
                                                for k in ("chat", "new_chat_member")):
        return reject(400, "malformed", "my_chat_member, its chat and new_chat_member must be objects")
    chat = change.get("chat") or {}
    status = (change.get("new_chat_member") or {}).get("status")
    if chat.get("type") != "private" or status not in ("kicked", "member"):
        return _ok()
    rt = current_runtime()
    with rt.db.session() as s:
        contact = get_contact_by_address(s, "telegram", str(chat.get("id")))
        if contact is not None:
            contact.unreachable = status == "kicked"
    return _ok()
