"""One normalised inbound message for every channel (stored by helpline.inbound_store)."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline import crypto
from helpline.models import Contact, utcnow

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


def contact_region(contact: Contact, default: str) -> str:
    """The region whose emergency numbers a contact is given. The Twilio webhook leaves it unset for a
    phone number (parsing the number was a tenth of that webhook's CPU): the first reader, usually the
    worker, works it out from the number and keeps it on the row."""
    if contact.region is None:
        phone = contact.channel in ("sms", "whatsapp") and contact.address
        contact.region = region_of(contact.address, default) if phone else default
    return contact.region


def get_contact_by_address(session: Session, channel: str, address: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.address_hash == crypto.address_hash(channel, address)))


INBOUND_LIST = "helpline:inbound"
