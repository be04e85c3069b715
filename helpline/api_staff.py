"""Staff in the JSON API: who is on shift and their load; supervisors manage the team.

The staff file (`helpline staff import`) stays the source of truth for the rota and
page channels; the dashboard changes what a supervisor changes day to day: shifts,
capacity, training dates, languages and topics, and who may log in at all.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, g, jsonify
from sqlalchemy import func, select

from helpline.api import _body, _text, login_required, staff_json
from helpline.content import TOPICS
from helpline.conversations import audit, do_assign_waiting, do_off_shift
from helpline.errors import ApiError
from helpline.models import Conversation, Staff
from helpline.staff import EMAIL_RE, get_staff_by_email, hash_password

bp = Blueprint("api_staff", __name__, url_prefix="/api")
ROLES = ("volunteer", "professional", "supervisor")
EDITABLE = ("name", "languages", "topics", "max_conversations", "trained_until", "active", "available", "role")


def _loads(session: Any) -> dict[int, int]:
    return dict(session.execute(select(Conversation.assigned_to, func.count()).where(
        Conversation.status == "active", Conversation.assigned_to.is_not(None)).group_by(
        Conversation.assigned_to)).all())


def _colleague_json(st: Staff, load: int) -> dict:
    """What a volunteer may see of a colleague: enough to pick whom to hand a conversation to."""
    return {"id": st.id, "display_name": st.public_name, "role": st.role, "languages": st.languages,
            "topics": st.topics, "available": st.available, "load": load,
            "max_conversations": st.max_conversations}


@bp.get("/staff")
@login_required()
def staff_list():  # type: ignore[no-untyped-def]
    s, me = g.session, g.staff
    loads = _loads(s)
    q = select(Staff).order_by(Staff.role, Staff.name)
    if me.role != "supervisor":
        q = q.where(Staff.active.is_(True), Staff.role != "supervisor")
        return jsonify([_colleague_json(st, loads.get(st.id, 0)) for st in s.scalars(q)])
    return jsonify([{**staff_json(st), "active": st.active, "load": loads.get(st.id, 0),
                     "trained": st.trained_until is None or st.trained_until >= date.today()}
                    for st in s.scalars(q)])


def _check(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Validates the fields a supervisor may set; an error names the field and changes nothing."""
    values: dict[str, Any] = {}
    unknown = [k for k in data if k not in EDITABLE + ("password",) + (("email",) if creating else ())]
    if unknown:
        raise ApiError(422, "invalid", {k: "not a field you can set here" for k in unknown})
    if "name" in data or creating:
        values["name"] = _text(data, "name", max_len=120)
    if "role" in data or creating:
        if data.get("role") not in ROLES:
            raise ApiError(422, "invalid", {"role": f"one of {', '.join(ROLES)}"})
        values["role"] = data["role"]
    if "languages" in data:
        langs = data["languages"]
        if not isinstance(langs, list) or not all(isinstance(x, str) and re.fullmatch(r"[a-z]{2}", x)
                                                  for x in langs) or len(langs) > 20:
            raise ApiError(422, "invalid", {"languages": "a list of ISO 639-1 codes such as [\"ar\", \"en\"]"})
        values["languages"] = list(dict.fromkeys(langs))
    if "topics" in data:
        topics = data["topics"]
        if not isinstance(topics, list) or not all(isinstance(t, str) and t in TOPICS for t in topics):
            raise ApiError(422, "invalid", {"topics": "a list of FAQ topics (CONTRACT 7)"})
        values["topics"] = list(dict.fromkeys(topics))
    if "max_conversations" in data:
        mc = data["max_conversations"]
        if not isinstance(mc, int) or isinstance(mc, bool) or not 1 <= mc <= 50:
            raise ApiError(422, "invalid", {"max_conversations": "a whole number from 1 to 50"})
        values["max_conversations"] = mc
    if "trained_until" in data:
        tu = data["trained_until"]
        try:
            values["trained_until"] = None if tu is None else date.fromisoformat(tu)
        except (TypeError, ValueError):
            raise ApiError(422, "invalid", {"trained_until": "a date such as 2027-06-30, or null"}) from None
    for flag in ("active", "available"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ApiError(422, "invalid", {flag: "true or false"})
            values[flag] = data[flag]
    if creating:
        email = data.get("email")
        if not isinstance(email, str) or len(email) > 254 or not EMAIL_RE.match(email):
            raise ApiError(422, "invalid", {"email": "a valid email address"})
        values["email"] = email.strip().lower()
    if "password" in data or creating:  # a supervisor sets a first password or resets a forgotten one
        password = data.get("password")
        if not isinstance(password, str) or not 8 <= len(password) <= 1000:
            raise ApiError(422, "invalid", {"password": "at least 8 characters"})
        values["password_hash"] = hash_password(password)
    if creating:
        if values["role"] == "volunteer" and not values.get("languages"):
            raise ApiError(422, "invalid", {"languages": "a volunteer needs at least one language"})
    return values


@bp.post("/staff")
@login_required("supervisor")
def staff_create():  # type: ignore[no-untyped-def]
    s = g.session
    values = _check(_body(), creating=True)
    if get_staff_by_email(s, values["email"]) is not None:
        raise ApiError(409, "exists", {"email": "someone with this email exists already"})
    staff = Staff(**values)
    s.add(staff)
    s.flush()
    audit(s, f"staff:{g.staff.id}", "staff.create", "staff", staff.id, role=staff.role)
    return jsonify({**staff_json(staff), "active": staff.active, "load": 0}), 201


@bp.patch("/staff/<int:staff_id>")
@login_required("supervisor")
def staff_update(staff_id: int):  # type: ignore[no-untyped-def]
    s = g.session
    staff = s.get(Staff, staff_id)
    if staff is None:
        raise ApiError(404, "not_found", "no such staff member")
    values = _check(_body(), creating=False)
    if staff.id == g.staff.id and (values.get("active") is False or values.get("role", "supervisor") != "supervisor"):
        raise ApiError(409, "self", "you cannot lock yourself out; ask another supervisor")
    for k, v in values.items():
        setattr(staff, k, v)
    audit(s, f"staff:{g.staff.id}", "staff.update", "staff", staff.id,
          fields=sorted(k.replace("password_hash", "password") for k in values))
    if values.get("active") is False:  # no longer with the team: every conversation goes back
        do_off_shift(s, staff, f"staff:{g.staff.id}", "staff member deactivated", opened_too=True)
    elif values.get("available") is False:
        do_off_shift(s, staff, f"staff:{g.staff.id}", "taken off shift by a supervisor")
    s.flush()
    do_assign_waiting(s)
    return jsonify({**staff_json(staff), "active": staff.active, "load": _loads(s).get(staff.id, 0)})
