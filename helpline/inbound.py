"""One normalised inbound message for every channel, and storing it exactly once."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from helpline import crypto
from helpline.models import Contact, Message, new_alias, utcnow

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


INBOUND_LIST = "helpline:inbound"


# built once: a statement with bind parameters compiles once and is then only executed
_FIND_MESSAGE = select(Message.__table__.c.id).where(Message.__table__.c.channel == bindparam("channel"),
                                                     Message.__table__.c.provider_id == bindparam("provider_id"))
_FIND_CONTACT = select(Contact.__table__.c.id).where(Contact.__table__.c.address_hash == bindparam("address_hash"))
_INSERT_CONTACT = insert(Contact.__table__).returning(Contact.__table__.c.id)
_INSERT_MESSAGE = insert(Message.__table__).returning(Message.__table__.c.id)


def do_store_inbound(conn: Connection, msg: InboundMessage, default_region: str) -> tuple[int, int] | None:
    """Stores the message in the caller's transaction; (message id, contact id).

    Prebuilt Core statements on one connection, no ORM unit of work: this is the webhook's hot path.
    A provider id stored before raises IntegrityError (the unique constraint); see is_stored()."""
    address_hash = crypto.address_hash(msg.channel, msg.address)
    contact_id = conn.execute(_FIND_CONTACT, {"address_hash": address_hash}).scalar()
    if contact_id is None:
        region = region_of(msg.address, default_region) if msg.channel in ("sms", "whatsapp") else default_region
        contact_id = conn.execute(_INSERT_CONTACT, {
            "address_hash": address_hash, "channel": msg.channel, "address": msg.address, "alias": new_alias(),
            "region": region, "state": {}, "language_confirmed": False, "accepts_english": False,
            "unsubscribed": False, "unreachable": False, "block_notified": False, "flagged_abusive": False,
            "created_at": msg.received_at, "last_seen_at": msg.received_at}).scalar_one()
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
    row_id = conn.execute(_INSERT_MESSAGE, {
        "direction": "in", "channel": msg.channel, "provider_id": msg.provider_id, "contact_id": contact_id,
        "text": msg.text, "payload": payload, "author": "contact", "status": "received",
        "created_at": msg.received_at, "attempts": 0, "private": False}).scalar_one()
    return row_id, contact_id


def is_stored(conn: Connection, msg: InboundMessage) -> bool:
    return bool(msg.provider_id) and conn.execute(_FIND_MESSAGE, {
        "channel": msg.channel, "provider_id": msg.provider_id}).first() is not None
