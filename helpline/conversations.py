"""Conversation lifecycle: bot -> waiting -> active -> closed, and the audit log.

`do_*` functions change state and queue the messages that tell the contact;
callers commit. Every state change by staff is audited.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.inbound import contact_region
from helpline.matching import can_take, free_volunteers, plan_assignments, queue_position
from helpline.models import AuditLog, Contact, Conversation, Staff, utcnow
from helpline.outbox import queue_text
from helpline.runtime import current_runtime

log = logging.getLogger(__name__)
AVERAGE_HANDLING_MINUTES = 8


def audit(session: Session, actor: str, action: str, target_type: str | None = None,
          target_id: int | None = None, **detail: object) -> None:
    session.add(AuditLog(actor=actor, action=action, target_type=target_type, target_id=target_id,
                         detail=detail))


def text_for(contact: Contact, key: str, **params: object) -> str:
    rt = current_runtime()
    if "emergency" not in params:
        params["emergency"] = rt.content.emergency_for(contact_region(contact, rt.config.default_region))["emergency"]
    params.setdefault("retention_days", rt.config.retention_days)
    return rt.content.text(key, contact.language or "en", **params)


def get_open_conversation(session: Session, contact: Contact) -> Conversation | None:
    return session.scalar(select(Conversation).where(
        Conversation.contact_id == contact.id, Conversation.status != "closed").order_by(
        Conversation.id.desc()).limit(1))


def get_or_open_conversation(session: Session, contact: Contact) -> Conversation:
    conv = get_open_conversation(session, contact)
    if conv is None:
        conv = Conversation(contact_id=contact.id, channel=contact.channel, language=contact.language,
                            status="bot")
        session.add(conv)
        session.flush()
    return conv


def do_request_human(session: Session, contact: Contact, conv: Conversation, priority: int = 0) -> str:
    """Queues the conversation; answers what the contact is told: queued, out_of_hours, no_language."""
    now = utcnow()
    if conv.status == "active":
        return "active"
    conv.language = contact.language or conv.language
    if conv.status != "waiting":
        conv.status, conv.queued_at = "waiting", now
    conv.priority = max(conv.priority, priority)
    conv.last_message_at = now
    candidates = free_volunteers(session)
    assigned = do_assign_waiting(session)
    if conv.status == "active" and conv.id in assigned:
        return "assigned"
    on_shift = session.scalars(select(Staff).where(Staff.role == "volunteer", Staff.available.is_(True),
                                                   Staff.active.is_(True))).all()
    if priority >= 2:
        return "crisis"
    if not on_shift:
        queue_text(session, contact, text_for(contact, "handoff_out_of_hours"), conversation=conv)
        return "out_of_hours"
    speaks = [s for s in on_shift if contact.language in (s.languages or [])]
    if not speaks and not contact.accepts_english and any(can_take(c, "en", True) for c in candidates) \
            and contact.language != "en":
        queue_text(session, contact, text_for(contact, "handoff_no_language"), conversation=conv)
        conv.queue_notice = {**conv.queue_notice, "asked_english": True}
        return "no_language"
    do_tell_position(session, contact, conv, force=True)
    return "queued"


def do_tell_position(session: Session, contact: Contact, conv: Conversation, force: bool = False) -> None:
    """Tells the position when it is new or changed meaningfully (not on every tick)."""
    position = queue_position(session, conv)
    minutes = max(2, position * AVERAGE_HANDLING_MINUTES // 2)
    last = conv.queue_notice.get("position")
    if not force and last is not None and not (position < last and (last - position >= 2 or position == 1)):
        return
    key = "handoff_queued" if force or last is None else "handoff_position"
    queue_text(session, contact, text_for(contact, key, position=position, minutes=minutes), conversation=conv)
    conv.queue_notice = {**conv.queue_notice, "position": position}


def do_assign_waiting(session: Session) -> list[int]:
    """Assigns every waiting conversation a free volunteer can take now; tells the contacts."""
    done = []
    for conv, staff in plan_assignments(session):
        do_assign(session, conv, staff, actor="system")
        done.append(conv.id)
    return done


def do_assign(session: Session, conv: Conversation, staff: Staff, actor: str) -> None:
    now = utcnow()
    conv.status, conv.assigned_to, conv.assigned_at, conv.opened_at = "active", staff.id, now, None
    staff.last_assigned_at = now
    audit(session, actor, "conversation.assign", "conversation", conv.id, staff_id=staff.id)
    contact = session.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is not None:
        queue_text(session, contact, text_for(contact, "handoff_connected", name=staff.public_name),
                   conversation=conv)
    log.info("conversation %s assigned to staff %s", conv.id, staff.id)


def do_return_to_queue(session: Session, conv: Conversation, actor: str, reason: str) -> None:
    """Back to the queue at its old place (queued_at is kept)."""
    conv.status, conv.assigned_to, conv.assigned_at = "waiting", None, None
    conv.queued_at = conv.queued_at or utcnow()
    audit(session, actor, "conversation.requeue", "conversation", conv.id, reason=reason)


def do_off_shift(session: Session, staff: Staff, actor: str, reason: str, opened_too: bool = False) -> None:
    """Off shift: conversations not yet opened go back to the queue at their old place.

    Conversations already under way stay with the volunteer to finish, unless
    `opened_too` (the staff member is leaving the team).
    """
    staff.available = False
    q = select(Conversation).where(Conversation.assigned_to == staff.id, Conversation.status == "active")
    if not opened_too:
        q = q.where(Conversation.opened_at.is_(None))
    for conv in session.scalars(q):
        do_return_to_queue(session, conv, actor, reason)


def do_close(session: Session, conv: Conversation, actor: str, outcome: str, notes: str | None,
             tags: list[str] | None = None) -> None:
    conv.status, conv.closed_at, conv.outcome, conv.notes = "closed", utcnow(), outcome, notes
    conv.tags = tags or []
    audit(session, actor, "conversation.close", "conversation", conv.id, outcome=outcome)
    contact = session.get(Contact, conv.contact_id) if conv.contact_id else None
    if contact is not None:
        contact.state = {}
        queue_text(session, contact, text_for(contact, "conversation_closed"), conversation=conv)


def do_expire_unopened(session: Session, open_seconds: int) -> int:
    """Assigned but never opened within the time: back to the queue at its old place, and the volunteer
    off shift (their other unopened conversations too), so that the next assignment does not wait on
    someone who has gone quiet. They come back by switching their shift on again."""
    cutoff = utcnow() - timedelta(seconds=open_seconds)
    convs = session.scalars(select(Conversation).where(
        Conversation.status == "active", Conversation.opened_at.is_(None), Conversation.assigned_at < cutoff)).all()
    for conv in convs:
        staff = session.get(Staff, conv.assigned_to) if conv.assigned_to else None
        do_return_to_queue(session, conv, "system", "not opened in time")
        if staff is not None and staff.available:
            do_off_shift(session, staff, "system", "did not open an assigned conversation in time")
            audit(session, "system", "availability", "staff", staff.id, available=False,
                  reason="did not open an assigned conversation in time")
    return len(convs)
