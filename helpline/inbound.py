"""One normalised inbound message for every channel, and storing it exactly once."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from helpline import crypto
from helpline.db import after_commit
from helpline.models import Contact, Message, new_alias, utcnow
from helpline.outbox import enqueue_processing

log = logging.getLogger(__name__)
MAX_TEXT = 32000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


@dataclass
class InboundMessage:
    channel: str                 # whatsapp | sms | telegram | web | console
    address: str                 # E.164 number, Telegram chat id, web session id
    text: str
    provider_id: str | None
    received_at: datetime = field(default_factory=utcnow)
    media: list[dict] = field(default_factory=list)
    location: dict | None = None
    button: str | None = None    # payload of a button / callback
    callback_id: str | None = None
    profile_language: str | None = None


def clean_text(text: str | None) -> str:
    """Control characters out, Unicode composed; length kept within what we store."""
    text = unicodedata.normalize("NFC", text or "")
    return _CONTROL.sub("", text)[:MAX_TEXT].strip()


def region_of(address: str, default: str) -> str:
    """The region of a phone number: by the number, else by its country code, else the default."""
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return default
    region = phonenumbers.region_code_for_number(number) or \
        phonenumbers.region_code_for_country_code(number.country_code)
    return region if region and region != "001" and region != "ZZ" else default


def get_contact_by_address(session: Session, channel: str, address: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.address_hash == crypto.address_hash(channel, address)))


def do_store_inbound(session: Session, msg: InboundMessage, default_region: str,
                     crisis_hint: bool = False) -> int | None:
    """Stores the message and enqueues processing after commit; None when it was stored before.

    Plain inserts without savepoints (this is the webhook's hot path); a concurrent duplicate
    surfaces as IntegrityError at commit, and the caller tries once more."""
    if msg.provider_id and session.scalar(select(Message.id).where(
            Message.channel == msg.channel, Message.provider_id == msg.provider_id)):
        return None
    address_hash = crypto.address_hash(msg.channel, msg.address)
    contact_id = session.scalar(select(Contact.id).where(Contact.address_hash == address_hash))
    if contact_id is None:
        region = region_of(msg.address, default_region) if msg.channel in ("sms", "whatsapp") else default_region
        contact_id = session.execute(insert(Contact).values(
            address_hash=address_hash, channel=msg.channel, address=msg.address, alias=new_alias(), region=region,
            state={}, language_confirmed=False, accepts_english=False, unsubscribed=False, unreachable=False,
            block_notified=False, flagged_abusive=False, created_at=msg.received_at,
            last_seen_at=msg.received_at).returning(Contact.id)).scalar_one()
    payload: dict = {}
    if msg.media:
        payload["media"] = msg.media
    if msg.location:
        payload["location"] = msg.location
    if msg.button:
        payload["button"] = msg.button
    if msg.callback_id:
        payload["callback_id"] = msg.callback_id
    if msg.profile_language:
        payload["profile_language"] = msg.profile_language
    row_id = session.execute(insert(Message).values(
        direction="in", channel=msg.channel, provider_id=msg.provider_id, contact_id=contact_id, text=msg.text,
        payload=payload, author="contact", status="received", created_at=msg.received_at, attempts=0,
        private=False).returning(Message.id)).scalar_one()
    after_commit(session, lambda: enqueue_processing(contact_id, crisis=crisis_hint))
    return row_id
