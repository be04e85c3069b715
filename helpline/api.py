"""The JSON API (CONTRACT 6); the dashboard uses it too.

Cookie sessions, argon2 passwords, a CSRF token on every unsafe request,
login rate limits per account and per address, roles on every route.
Contacts appear only by alias.
"""
from __future__ import annotations

import hmac
import secrets
import statistics
from functools import wraps
from datetime import timedelta
from typing import Any, Callable

from flask import Blueprint, g, jsonify, request, session
from sqlalchemy import func, select

from helpline.conversations import audit, do_assign, do_assign_waiting, do_close, do_off_shift, do_return_to_queue
from helpline.crisis import HIGH_CATEGORIES
from helpline.errors import ApiError
from helpline.escalation import do_acknowledge, do_open_escalation, do_resolve, escalation_json
from helpline.inbound import contact_region
from helpline.models import Contact, Conversation, Escalation, Message, Staff, utcnow
from helpline.outbox import queue_text
from helpline.ratelimit import clear, count, hit
from helpline.runtime import current_runtime
from helpline.staff import check_password, get_staff_by_email

bp = Blueprint("api", __name__, url_prefix="/api")
LOGIN_WINDOW, LOGIN_MAX_FAILURES = 900, 5
STATUSES = ("waiting", "active", "closed")
ESC_STATUSES = ("open", "acknowledged", "resolved")


# ids are INTEGER columns, 32 bits on PostgreSQL: past that no row has the id, and the database refuses
# to compare with it (SQLite past 64 bits), which would be a 500
MAX_ID = 2**31


@bp.app_url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and any(isinstance(v, int) and not 0 <= v < MAX_ID for v in values.values()):
        raise ApiError(404, "not_found", "no such id")


def _body() -> dict[str, Any]:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting: silent=True covers only ValueError
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "send a JSON object")
    return data


def _text(data: dict, key: str, required: bool = True, max_len: int = 4000) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(422, "invalid", {key: "required text" if required else "must be text"})
    if len(value) > max_len:
        raise ApiError(422, "invalid", {key: f"at most {max_len} characters"})
    return value.strip()


def login_required(*roles: str) -> Callable:
    def wrap(fn: Callable) -> Callable:
        @wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            staff_id = session.get("staff_id")
            if not staff_id:
                raise ApiError(401, "unauthenticated", "log in first")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                token = request.headers.get("X-CSRF-Token", "")
                if not token or not hmac.compare_digest(token, session.get("csrf", "")):
                    raise ApiError(403, "csrf", "missing or wrong X-CSRF-Token")
            rt = current_runtime()
            with rt.db.session() as s:
                staff = s.get(Staff, staff_id)
                if staff is None or not staff.active:
                    session.clear()
                    raise ApiError(401, "unauthenticated", "log in again")
                if roles and staff.role not in roles:
                    raise ApiError(403, "forbidden", f"for {' or '.join(roles)} only")
                g.staff, g.session = staff, s
                return fn(*args, **kwargs)
        return inner
    return wrap


@bp.post("/login")
def login():  # type: ignore[no-untyped-def]
    data = _body()
    email = (_text(data, "email", max_len=254) or "").lower()
    password = _text(data, "password", max_len=1000) or ""
    addr = request.remote_addr or "?"
    if count(f"login:acct:{email}", LOGIN_WINDOW) >= LOGIN_MAX_FAILURES or \
            count(f"login:ip:{addr}", LOGIN_WINDOW) >= LOGIN_MAX_FAILURES * 4:
        raise ApiError(429, "rate_limited", "too many failed logins; wait 15 minutes")
    rt = current_runtime()
    with rt.db.session() as s:
        staff = get_staff_by_email(s, email)
        if not check_password(staff, password) or staff is None or not staff.active:
            hit(f"login:acct:{email}", LOGIN_WINDOW)
            hit(f"login:ip:{addr}", LOGIN_WINDOW)
            audit(s, "anonymous", "login.failed", "staff", staff.id if staff else None)
            raise ApiError(401, "bad_credentials", "email or password is wrong")
        clear(f"login:acct:{email}", LOGIN_WINDOW)
        session.clear()
        session["staff_id"], session["csrf"] = staff.id, secrets.token_urlsafe(32)
        session.permanent = True
        audit(s, f"staff:{staff.id}", "login", "staff", staff.id)
        return jsonify({"csrf_token": session["csrf"], "staff": staff_json(staff)})


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return jsonify({"ok": True})


def staff_json(st: Staff) -> dict:
    return {"id": st.id, "email": st.email, "name": st.name, "display_name": st.public_name, "role": st.role,
            "languages": st.languages, "topics": st.topics, "available": st.available,
            "max_conversations": st.max_conversations,
            "trained_until": st.trained_until.isoformat() if st.trained_until else None}


@bp.get("/me")
@login_required()
def me():  # type: ignore[no-untyped-def]
    return jsonify({**staff_json(g.staff), "csrf_token": session.get("csrf")})


@bp.put("/me")
@login_required()
def update_me():  # type: ignore[no-untyped-def]
    """Volunteers appear to contacts only by the display name they choose."""
    data = _body()
    name = _text(data, "display_name", max_len=40)
    g.staff.display_name = name
    audit(g.session, f"staff:{g.staff.id}", "staff.display_name", "staff", g.staff.id)
    return jsonify(staff_json(g.staff))


@bp.put("/me/availability")
@login_required()
def availability():  # type: ignore[no-untyped-def]
    data = _body()
    if not isinstance(data.get("available"), bool):
        raise ApiError(422, "invalid", {"available": "must be true or false"})
    s, staff = g.session, g.staff
    staff.available = data["available"]
    audit(s, f"staff:{staff.id}", "availability", "staff", staff.id, available=staff.available)
    if not staff.available:
        do_off_shift(s, staff, f"staff:{staff.id}", "went off shift")
    s.flush()
    do_assign_waiting(s)
    return jsonify(staff_json(staff))


def conversation_json(conv: Conversation, contact: Contact | None) -> dict:
    return {"id": conv.id, "channel": conv.channel, "language": conv.language, "topic": conv.topic,
            "status": conv.status, "assigned_to": conv.assigned_to,
            "contact_alias": contact.alias if contact else "erased", "priority": conv.priority,
            "last_message_at": conv.last_message_at.isoformat() if conv.last_message_at else None,
            "queued_at": conv.queued_at.isoformat() if conv.queued_at else None,
            "direction": current_runtime().content.direction(conv.language)}


def _visible(conv: Conversation | None) -> Conversation:
    if conv is None:
        raise ApiError(404, "not_found", "no such conversation")
    staff = g.staff
    if staff.role == "supervisor":
        return conv
    if conv.assigned_to == staff.id:
        return conv
    if staff.role == "professional" and g.session.scalar(select(Escalation.id).where(
            Escalation.conversation_id == conv.id, Escalation.acknowledged_by == staff.id)):
        return conv
    raise ApiError(404, "not_found", "no such conversation")


@bp.get("/conversations")
@login_required()
def conversations():  # type: ignore[no-untyped-def]
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid", {"status": f"one of {', '.join(STATUSES)}"})
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        raise ApiError(400, "invalid", {"limit": "whole numbers"}) from None
    s, staff = g.session, g.staff
    q = select(Conversation, Contact).outerjoin(Contact, Contact.id == Conversation.contact_id)
    if status:
        q = q.where(Conversation.status == status)
    else:
        q = q.where(Conversation.status != "bot")
    if staff.role != "supervisor":
        q = q.where(Conversation.assigned_to == staff.id)
    if status == "waiting":
        q = q.order_by(Conversation.priority.desc(), Conversation.queued_at.asc())
    else:
        q = q.order_by(Conversation.last_message_at.desc())
    rows = s.execute(q.limit(limit).offset(offset)).all()
    return jsonify([conversation_json(c, ct) for c, ct in rows])


@bp.get("/conversations/<int:conv_id>")
@login_required()
def conversation(conv_id: int):  # type: ignore[no-untyped-def]
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    if conv.assigned_to == g.staff.id and conv.opened_at is None:
        conv.opened_at = utcnow()
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    audit(s, f"staff:{g.staff.id}", "conversation.read", "conversation", conv.id)
    msgs = s.scalars(select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)).all()
    data = conversation_json(conv, contact)
    data["messages"] = [{"id": m.id, "direction": m.direction, "text": m.text, "sent_at": m.created_at.isoformat(),
                         "author": m.author, "status": m.status, "private": m.private,
                         "flag": (m.payload.get("screening") or {}).get("level")} for m in msgs]
    data["outcome"], data["tags"] = conv.outcome, conv.tags
    return jsonify(data)


@bp.post("/conversations/<int:conv_id>/messages")
@login_required()
def reply(conv_id: int):  # type: ignore[no-untyped-def]
    data = _body()
    text = _text(data, "text")
    private = bool(data.get("private", False))
    s, staff = g.session, g.staff
    conv = _visible(s.get(Conversation, conv_id))
    if conv.assigned_to != staff.id and not private:
        raise ApiError(403, "forbidden", "only the assigned staff member replies")
    if conv.status == "closed":
        raise ApiError(409, "closed", "the conversation is closed")
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None:
        raise ApiError(409, "erased", "the contact erased their data")
    conv.opened_at = conv.opened_at or utcnow()
    conv.last_message_at = utcnow()
    if private:
        note = Message(direction="out", channel=conv.channel, contact_id=contact.id, conversation_id=conv.id,
                       text=text, author=f"staff:{staff.id}", status="note", private=True)
        s.add(note)
        s.flush()
        msg_id = note.id
    else:
        msg = queue_text(s, contact, text or "", conversation=conv, author=f"staff:{staff.id}", force=False)
        if msg is None:
            raise ApiError(409, "unreachable", "the contact cannot receive messages (stopped or blocked the bot)")
        msg_id = msg.id
    audit(s, f"staff:{staff.id}", "conversation.reply", "conversation", conv.id, private=private)
    return jsonify({"id": msg_id, "status": "queued"}), 201


@bp.post("/conversations/<int:conv_id>/transfer")
@login_required("volunteer", "supervisor", "professional")
def transfer(conv_id: int):  # type: ignore[no-untyped-def]
    data = _body()
    reason = _text(data, "reason", required=False, max_len=500) or ""
    s, staff = g.session, g.staff
    conv = _visible(s.get(Conversation, conv_id))
    if conv.status == "closed":
        raise ApiError(409, "closed", "the conversation is closed")
    to = data.get("to")
    if to is None:
        do_return_to_queue(s, conv, f"staff:{staff.id}", reason)
        s.flush()
        do_assign_waiting(s)
        return jsonify(conversation_json(conv, s.get(Contact, conv.contact_id) if conv.contact_id else None))
    if not isinstance(to, int) or isinstance(to, bool) or not 0 <= to < MAX_ID:
        raise ApiError(422, "invalid", {"to": "a staff id or null"})
    target = s.get(Staff, to)
    if target is None or not target.active or target.role == "supervisor" and staff.role != "supervisor":
        raise ApiError(422, "invalid", {"to": "no such staff member"})
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is not None:
        from helpline.conversations import text_for
        queue_text(s, contact, text_for(contact, "transferred"), conversation=conv)
    audit(s, f"staff:{staff.id}", "conversation.transfer", "conversation", conv.id, to=to, reason=reason)
    do_assign(s, conv, target, actor=f"staff:{staff.id}")
    return jsonify(conversation_json(conv, contact))


@bp.post("/conversations/<int:conv_id>/close")
@login_required()
def close(conv_id: int):  # type: ignore[no-untyped-def]
    data = _body()
    outcome = _text(data, "outcome", max_len=64)
    notes = _text(data, "notes", required=False, max_len=4000)
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 40 for t in tags):
        raise ApiError(422, "invalid", {"tags": "a list of short texts"})
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    if conv.status == "closed":
        raise ApiError(409, "closed", "already closed")
    do_close(s, conv, f"staff:{g.staff.id}", outcome or "", notes, tags)
    s.flush()
    do_assign_waiting(s)
    return jsonify(conversation_json(conv, s.get(Contact, conv.contact_id) if conv.contact_id else None))


@bp.get("/conversations/<int:conv_id>/canned")
@login_required()
def canned(conv_id: int):  # type: ignore[no-untyped-def]
    """Canned responses from content/ in the contact's language, with the English beside them as a label."""
    conv = _visible(g.session.get(Conversation, conv_id))
    rt = current_runtime()
    content = rt.content
    lang = conv.language if conv.language in content.messages else "en"
    contact = g.session.get(Contact, conv.contact_id) if conv.contact_id else None
    region = contact_region(contact, rt.config.default_region) if contact else rt.config.default_region
    params = {"name": g.staff.public_name, "emergency": content.emergency_for(region).get("emergency", "112")}
    keys = [k for k in content.messages["en"] if k.startswith("canned.")]
    return jsonify({"language": lang, "direction": content.direction(lang), "responses": [
        {"key": k, "label": content.text(k, "en", **params), "text": content.text(k, lang, **params)}
        for k in keys]})


@bp.post("/conversations/<int:conv_id>/escalate")
@login_required()
def escalate(conv_id: int):  # type: ignore[no-untyped-def]
    """A volunteer sees danger the screener missed: the same ladder as an automatic crisis."""
    data = _body()
    category = data.get("category")
    if category not in HIGH_CATEGORIES:
        raise ApiError(422, "invalid", {"category": f"one of {', '.join(HIGH_CATEGORIES)}"})
    reason = _text(data, "reason", required=False, max_len=500)
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None:
        raise ApiError(409, "erased", "the contact erased their data")
    esc = do_open_escalation(s, contact, conv, category)
    conv.priority = 2
    audit(s, f"staff:{g.staff.id}", "escalation.by_staff", "escalation", esc.id, category=category,
          conversation_id=conv.id, reason=reason)
    return jsonify(escalation_json(esc)), 201


BLOCK_PERIODS = {"day": timedelta(days=1), "month": timedelta(days=30), "forever": timedelta(days=365 * 100)}


@bp.post("/conversations/<int:conv_id>/flag")
@login_required()
def flag(conv_id: int):  # type: ignore[no-untyped-def]
    """A volunteer flags the contact as abusive; a supervisor decides on a block."""
    reason = _text(_body(), "reason", max_len=300)
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None:
        raise ApiError(409, "erased", "the contact erased their data")
    contact.flagged_abusive = True
    audit(s, f"staff:{g.staff.id}", "contact.flag", "conversation", conv.id, reason=reason)
    return jsonify({"ok": True})


@bp.post("/conversations/<int:conv_id>/block")
@login_required("supervisor")
def block(conv_id: int):  # type: ignore[no-untyped-def]
    """Blocked contacts are told once; they still get emergency numbers in a crisis, but no routing."""
    data = _body()
    reason = _text(data, "reason", max_len=200)
    period = data.get("until")
    if not isinstance(period, str) or period not in BLOCK_PERIODS:  # {} would not even hash
        raise ApiError(422, "invalid", {"until": f"one of {', '.join(BLOCK_PERIODS)}"})
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None:
        raise ApiError(409, "erased", "the contact erased their data")
    contact.blocked_until, contact.block_reason, contact.block_notified = utcnow() + BLOCK_PERIODS[period], reason, False
    if conv.status != "closed":
        conv.status, conv.closed_at, conv.outcome = "closed", utcnow(), "blocked"
    audit(s, f"staff:{g.staff.id}", "contact.block", "conversation", conv.id, until=period, reason=reason)
    return jsonify({"ok": True, "blocked_until": contact.blocked_until.isoformat()})


@bp.post("/conversations/<int:conv_id>/unblock")
@login_required("supervisor")
def unblock(conv_id: int):  # type: ignore[no-untyped-def]
    s = g.session
    conv = _visible(s.get(Conversation, conv_id))
    contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is None:
        raise ApiError(409, "erased", "the contact erased their data")
    contact.blocked_until, contact.block_reason, contact.block_notified = None, None, False
    audit(s, f"staff:{g.staff.id}", "contact.unblock", "conversation", conv.id)
    return jsonify({"ok": True})


@bp.get("/escalations")
@login_required("supervisor", "professional")
def escalations():  # type: ignore[no-untyped-def]
    status = request.args.get("status")
    if status is not None and status not in ESC_STATUSES:
        raise ApiError(400, "invalid", {"status": f"one of {', '.join(ESC_STATUSES)}"})
    q = select(Escalation).order_by(Escalation.id.desc()).limit(200)
    if status:
        q = q.where(Escalation.status == status)
    return jsonify([escalation_json(e) for e in g.session.scalars(q)])


def _escalation(esc_id: int) -> Escalation:
    esc = g.session.get(Escalation, esc_id)
    if esc is None:
        raise ApiError(404, "not_found", "no such escalation")
    return esc


@bp.post("/escalations/<int:esc_id>/acknowledge")
@login_required("supervisor", "professional")
def acknowledge(esc_id: int):  # type: ignore[no-untyped-def]
    esc = _escalation(esc_id)
    if not do_acknowledge(g.session, esc, g.staff, via="dashboard"):
        raise ApiError(409, "not_open", f"the escalation is {esc.status}")
    return jsonify(escalation_json(esc))


@bp.post("/escalations/<int:esc_id>/resolve")
@login_required("supervisor", "professional")
def resolve(esc_id: int):  # type: ignore[no-untyped-def]
    data = _body()
    outcome = _text(data, "outcome", max_len=64)
    notes = _text(data, "notes", required=False)
    esc = _escalation(esc_id)
    if esc.status == "resolved":
        raise ApiError(409, "resolved", "already resolved")
    do_resolve(g.session, esc, g.staff, outcome or "", notes)
    return jsonify(escalation_json(esc))


@bp.post("/escalations/<int:esc_id>/take")
@login_required("supervisor", "professional")
def take_over(esc_id: int):  # type: ignore[no-untyped-def]
    """The acknowledging professional (or a supervisor) takes the conversation over in the dashboard."""
    s, staff = g.session, g.staff
    esc = _escalation(esc_id)
    if esc.status == "open":
        do_acknowledge(s, esc, staff, via="dashboard")
    if esc.acknowledged_by != staff.id and staff.role != "supervisor":
        raise ApiError(403, "forbidden", "acknowledged by someone else")
    conv = s.get(Conversation, esc.conversation_id) if esc.conversation_id else None
    if conv is None or conv.status == "closed":
        raise ApiError(409, "no_conversation", "the conversation is closed or erased")
    do_assign(s, conv, staff, actor=f"staff:{staff.id}")
    conv.opened_at = utcnow()
    return jsonify(conversation_json(conv, s.get(Contact, conv.contact_id) if conv.contact_id else None))


def _volume_per_day(s: Any, days: int) -> list[dict]:
    """New conversations per UTC day and language, oldest first: [{"day", "language", "count"}]."""
    col = Conversation.created_at
    day = func.date(func.timezone("UTC", col)) if s.get_bind().dialect.name == "postgresql" else func.date(col)
    since = utcnow() - timedelta(days=days)
    rows = s.execute(select(day, Conversation.language, func.count()).where(col >= since)
                     .group_by(day, Conversation.language).order_by(day)).all()
    return [{"day": str(d), "language": lang or "unknown", "count": n} for d, lang, n in rows]


def _p90(values: list[float]) -> float | None:
    # inclusive: never beyond the longest wait seen (the default extrapolates for a few values)
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _wait_per_day(assigned_waits: list[tuple[Any, float]], days: int) -> list[dict]:
    """Median and 90th percentile wait (queued -> assigned) per UTC day of assignment, oldest first."""
    since = (utcnow() - timedelta(days=days)).date()
    per_day: dict[str, list[float]] = {}
    for assigned, wait in assigned_waits:
        if assigned.date() >= since:
            per_day.setdefault(assigned.date().isoformat(), []).append(wait)
    return [{"day": d, "median": statistics.median(w), "p90": _p90(w), "count": len(w)}
            for d, w in sorted(per_day.items())]


@bp.get("/metrics")
@login_required("supervisor")
def metrics():  # type: ignore[no-untyped-def]
    s = g.session
    by_status = dict(s.execute(select(Conversation.status, func.count()).group_by(Conversation.status)).all())
    # two columns, not 5,000 whole rows: loading rows decrypted every conversation's notes
    assigned_waits = [(assigned, (assigned - queued).total_seconds()) for assigned, queued in s.execute(
        select(Conversation.assigned_at, Conversation.queued_at).where(
            Conversation.assigned_at.is_not(None), Conversation.queued_at.is_not(None))
        .order_by(Conversation.id.desc()).limit(5000))]
    waits = [w for _, w in assigned_waits]
    escal = dict(s.execute(select(Escalation.status, func.count()).group_by(Escalation.status)).all())
    langs = dict(s.execute(select(Conversation.language, func.count()).group_by(Conversation.language)).all())
    answered = s.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.assigned_at.is_not(None))) or 0
    abandoned = s.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.status == "closed", Conversation.assigned_at.is_(None),
        Conversation.queued_at.is_not(None))) or 0
    return jsonify({"waiting": by_status.get("waiting", 0), "active": by_status.get("active", 0),
                    "volume_per_day": _volume_per_day(s, days=30),
                    "escalations_by_outcome": {k or "open": v for k, v in s.execute(
                        select(Escalation.outcome, func.count()).group_by(Escalation.outcome)).all()},
                    "answered": answered, "abandoned": abandoned,
                    "median_wait_seconds": statistics.median(waits) if waits else None,
                    "p90_wait_seconds": _p90(waits),
                    "wait_per_day": _wait_per_day(assigned_waits, days=30),
                    "escalations": {k: escal.get(k, 0) for k in ESC_STATUSES},
                    "per_language": {k or "unknown": v for k, v in langs.items()}})


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    from helpline.openapi import spec
    return jsonify(spec())
