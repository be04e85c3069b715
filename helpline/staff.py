"""Staff accounts: the staff file (CONTRACT 5), passwords and rota order."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.errors import StaffFileError
from helpline.models import Staff

LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PAGE_VIA = ("sms", "whatsapp", "telegram")
ROLES = {"volunteers": "volunteer", "professionals": "professional", "supervisors": "supervisor"}
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A real hash to check against when the account does not exist, so timing does not tell."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(staff: Staff | None, password: str) -> bool:
    target = staff.password_hash if staff is not None else None
    try:
        ok = _hasher.verify(target or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and target is not None


@dataclass
class StaffEntry:
    role: str
    email: str
    name: str
    line: int
    password: str | None = None
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    max_conversations: int = 3
    trained_until: date | None = None
    phone: str | None = None
    page_via: str | None = None
    telegram_chat_id: str | None = None
    oncall: dict | None = None
    rota_position: int = 0


def parse_staff_file(text: str, topics: set[str] | None = None) -> list[StaffEntry]:
    """Parses and checks the whole file before anything is written."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        started = f" ({context} started on line {cmark.line + 1})" if context and cmark else ""
        raise StaffFileError(f"not valid YAML: {getattr(e, 'problem', e)}{started}",
                             line=mark.line + 1 if mark else None) from None
    if root is None:
        raise StaffFileError("the file is empty")
    if not isinstance(root, yaml.MappingNode):
        raise StaffFileError("the top level must be a mapping with volunteers, professionals, supervisors",
                             line=root.start_mark.line + 1)
    entries: list[StaffEntry] = []
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        section = key_node.value
        if section not in ROLES:
            raise StaffFileError(f"unknown section {section!r} (expected {', '.join(ROLES)})",
                                 line=key_node.start_mark.line + 1, field=section)
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise StaffFileError("must be a list", line=value_node.start_mark.line + 1, field=section)
        for position, item in enumerate(value_node.value):
            entry = _parse_entry(ROLES[section], item, position, topics)
            if entry.email in seen:
                raise StaffFileError(f"{entry.email} appears twice (first on line {seen[entry.email]})",
                                     line=entry.line, field="email")
            seen[entry.email] = entry.line
            entries.append(entry)
    return entries


def _parse_entry(role: str, node: yaml.Node, position: int, topics: set[str] | None) -> StaffEntry:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise StaffFileError("each person must be a mapping of fields", line=line)
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    constructor = yaml.SafeLoader("")
    for k, v in node.value:
        raw[k.value] = constructor.construct_object(v, deep=True)
        lines[k.value] = k.start_mark.line + 1
    allowed = {"email", "name", "password", "display_name"} | {
        "volunteer": {"languages", "topics", "max_conversations", "trained_until"},
        "professional": {"phone", "page_via", "telegram_chat_id", "languages", "oncall"},
        "supervisor": {"languages", "phone", "page_via", "telegram_chat_id"},
    }[role]

    def fail(field_name: str, message: str) -> None:
        raise StaffFileError(message, line=lines.get(field_name, line), field=field_name)

    for k in raw:
        if k not in allowed:
            fail(k, f"unknown field for a {role}")
    email = raw.get("email")
    if not isinstance(email, str) or not EMAIL_RE.match(email):
        fail("email", "a valid email address is required")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("name", "a name is required")
    entry = StaffEntry(role=role, email=str(email).lower(), name=str(name).strip(), line=line,
                       rota_position=position)
    if "password" in raw and raw["password"] is not None:
        if not isinstance(raw["password"], str) or len(raw["password"]) < 8:
            fail("password", "must be text of at least 8 characters")
        entry.password = raw["password"]
    langs = raw.get("languages", [])
    if not isinstance(langs, list) or not all(isinstance(x, str) and LANGUAGE_RE.match(x) for x in langs):
        fail("languages", "must be a list of ISO 639-1 codes such as [ar, en]")
    entry.languages = list(langs)
    if role == "volunteer":
        if not entry.languages:
            fail("languages", "a volunteer needs at least one language")
        tps = raw.get("topics", [])
        if not isinstance(tps, list) or not all(isinstance(t, str) for t in tps):
            fail("topics", "must be a list of FAQ topics")
        unknown = [t for t in tps if topics is not None and t not in topics]
        if unknown:
            fail("topics", f"unknown topic(s): {', '.join(unknown)}")
        entry.topics = list(tps)
        mc = raw.get("max_conversations", 3)
        if not isinstance(mc, int) or isinstance(mc, bool) or not 1 <= mc <= 50:
            fail("max_conversations", "must be a whole number from 1 to 50")
        entry.max_conversations = mc
        tu = raw.get("trained_until")
        if tu is not None and not isinstance(tu, date):
            fail("trained_until", "must be a date such as 2027-06-30")
        entry.trained_until = tu
    if role in ("professional", "supervisor"):
        phone = raw.get("phone")
        if phone is not None:
            import phonenumbers
            try:
                ok = phonenumbers.is_valid_number(phonenumbers.parse(str(phone), None))
            except phonenumbers.NumberParseException:
                ok = False
            if not ok:
                fail("phone", "must be a valid E.164 number such as +4915112345678 (quote it)")
            entry.phone = str(phone)
        via = raw.get("page_via", "sms" if role == "professional" else None)
        if via is not None and via not in PAGE_VIA:
            fail("page_via", f"must be one of {', '.join(PAGE_VIA)}")
        entry.page_via = via
        tg = raw.get("telegram_chat_id")
        if tg is not None and not re.fullmatch(r"-?\d{1,20}", str(tg)):
            fail("telegram_chat_id", "must be a number")
        entry.telegram_chat_id = str(tg) if tg is not None else None
        if via in ("sms", "whatsapp") and not entry.phone and role == "professional":
            fail("phone", f"page_via {via} needs a phone number")
        if via == "telegram" and not entry.telegram_chat_id:
            fail("telegram_chat_id", "page_via telegram needs telegram_chat_id")
        oncall = raw.get("oncall")
        if oncall is not None:
            entry.oncall = _check_oncall(oncall, lambda m: fail("oncall", m))
    return entry


def _check_oncall(value: Any, fail: Any) -> dict:
    """On-call windows: {timezone: Europe/Berlin, windows: ["mon-fri 08:00-20:00", "sat 10:00-14:00"]}."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from helpline.oncall import parse_window
    if not isinstance(value, dict):
        fail("must be a mapping with timezone and windows")
    tz = value.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {tz!r}")
    windows = value.get("windows", [])
    if not isinstance(windows, list) or not windows:
        fail("windows must be a non-empty list such as ['mon-fri 08:00-20:00']")
    for w in windows:
        try:
            parse_window(str(w))
        except ValueError as e:
            fail(str(e))
    return {"timezone": tz, "windows": [str(w) for w in windows]}


def do_import_staff(session: Session, entries: list[StaffEntry]) -> dict[str, int]:
    """Creates or updates every entry; unchanged rows are left untouched (idempotent)."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {s.email: s for s in session.scalars(select(Staff).where(
        Staff.email.in_([e.email for e in entries])))}
    for e in entries:
        staff = existing.get(e.email)
        values = {"name": e.name, "role": e.role, "languages": e.languages, "topics": e.topics,
                  "max_conversations": e.max_conversations, "trained_until": e.trained_until,
                  "phone": e.phone, "page_via": e.page_via, "telegram_chat_id": e.telegram_chat_id,
                  "oncall": e.oncall, "rota_position": e.rota_position}
        if staff is None:
            staff = Staff(email=e.email, **values)
            if e.password:
                staff.password_hash = hash_password(e.password)
            session.add(staff)
            counts["created"] += 1
            continue
        changed = False
        for k, v in values.items():
            if getattr(staff, k) != v:
                setattr(staff, k, v)
                changed = True
        if e.password and not check_password(staff, e.password):
            staff.password_hash = hash_password(e.password)
            changed = True
        counts["updated" if changed else "unchanged"] += 1
    return counts


def get_staff_by_email(session: Session, email: str) -> Staff | None:
    return session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
