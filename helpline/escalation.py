"""The escalation ladder: open -> acknowledged -> resolved.

Professionals are paged in the staff file's order (honouring on-call
windows), each by their own channel with a short code. No acknowledgement
within ESCALATION_ACK_SECONDS pages the next; after the whole rota every
supervisor is paged, again at that interval, until someone acknowledges.
A page that fails at the provider moves to the next professional at once.
"""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.conversations import audit
from helpline.models import Contact, Conversation, Escalation, Page, Staff, utcnow
from helpline.oncall import is_on_call
from helpline.outbox import queue_to_staff
from helpline.runtime import current_runtime

log = logging.getLogger(__name__)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(5))


def rota(session: Session) -> list[Staff]:
    now = utcnow()
    pros = session.scalars(select(Staff).where(Staff.role == "professional", Staff.active.is_(True)).order_by(
        Staff.rota_position, Staff.id)).all()
    return [p for p in pros if is_on_call(p.oncall, now)]


def supervisors(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).where(Staff.role == "supervisor", Staff.active.is_(True))))


def get_open_escalation(session: Session, contact_id: int) -> Escalation | None:
    return session.scalar(select(Escalation).where(
        Escalation.contact_id == contact_id, Escalation.status.in_(("open", "acknowledged"))).order_by(
        Escalation.id.desc()).limit(1))


def do_open_escalation(session: Session, contact: Contact, conv: Conversation | None, category: str) -> Escalation:
    """Opens one, or raises the open one again (no second ladder for the same contact)."""
    esc = get_open_escalation(session, contact.id)
    if esc is not None:
        esc.raised_count += 1
        audit(session, "system", "escalation.raised_again", "escalation", esc.id, category=category)
        if esc.status == "open":
            do_page_next(session, esc)  # raised again: the next one is paged now rather than later
        return esc
    esc = Escalation(code=new_code(), contact_id=contact.id, conversation_id=conv.id if conv else None,
                     category=category, level="high", status="open", rota_index=0)
    session.add(esc)
    session.flush()
    audit(session, "system", "escalation.open", "escalation", esc.id, category=category)
    do_page_next(session, esc)
    return esc


def _page(session: Session, esc: Escalation, staff: Staff, key: str) -> None:
    rt = current_runtime()
    contact = session.get(Contact, esc.contact_id) if esc.contact_id else None
    lang = (staff.languages or ["en"])[0]
    if lang not in rt.content.messages:
        lang = "en"
    category = rt.content.text(f"category.{esc.category}", lang)
    text = rt.content.text(key, lang, code=esc.code, category=category, alias=contact.alias if contact else "-",
                           language=(contact.language or "?") if contact else "?")
    page = Page(escalation_id=esc.id, staff_id=staff.id, via=staff.page_via or "dashboard")
    session.add(page)
    session.flush()
    msg = queue_to_staff(session, staff, text, payload={"page_id": page.id, "escalation_id": esc.id})
    page.message_id = msg.id if msg else None
    page.status = "queued" if msg else "dashboard"
    audit(session, "system", "escalation.page", "escalation", esc.id, staff_id=staff.id, via=page.via)


def do_page_next(session: Session, esc: Escalation) -> None:
    """Pages the professional at rota_index, or every supervisor after the rota; schedules the next."""
    if esc.status != "open":
        return
    now = utcnow()
    pros = rota(session)
    if esc.rota_index < len(pros):
        _page(session, esc, pros[esc.rota_index], "page_professional")
    else:
        for sup in supervisors(session):
            _page(session, esc, sup, "page_supervisor")
    esc.rota_index += 1
    esc.last_paged_at = now
    esc.next_page_at = now + timedelta(seconds=current_runtime().config.escalation_ack_seconds)


def do_page_failed(session: Session, page_id: int) -> None:
    """The provider refused a page: go to the next one at once."""
    page = session.get(Page, page_id)
    if page is None:
        return
    page.status = "failed"
    esc = session.get(Escalation, page.escalation_id)
    if esc is not None and esc.status == "open" and esc.rota_index <= len(rota(session)):
        audit(session, "system", "escalation.page_failed", "escalation", esc.id, staff_id=page.staff_id)
        do_page_next(session, esc)


def do_acknowledge(session: Session, esc: Escalation, staff: Staff, via: str) -> bool:
    if esc.status != "open":
        return False
    esc.status, esc.acknowledged_by, esc.acknowledged_at, esc.next_page_at = "acknowledged", staff.id, utcnow(), None
    audit(session, f"staff:{staff.id}", "escalation.acknowledge", "escalation", esc.id, via=via)
    return True


def do_resolve(session: Session, esc: Escalation, staff: Staff, outcome: str, notes: str | None) -> None:
    if esc.status == "open":
        do_acknowledge(session, esc, staff, "resolve")
    esc.status, esc.resolved_at, esc.outcome, esc.notes, esc.next_page_at = "resolved", utcnow(), outcome, notes, None
    audit(session, f"staff:{staff.id}", "escalation.resolve", "escalation", esc.id, outcome=outcome)


def do_repage_due(session: Session) -> int:
    due = session.scalars(select(Escalation).where(Escalation.status == "open",
                                                   Escalation.next_page_at <= utcnow())).all()
    for esc in due:
        audit(session, "system", "escalation.no_ack", "escalation", esc.id, rota_index=esc.rota_index)
        do_page_next(session, esc)
    return len(due)


def escalation_json(esc: Escalation) -> dict:
    return {"id": esc.id, "code": esc.code, "conversation_id": esc.conversation_id, "category": esc.category,
            "level": esc.level, "status": esc.status, "created_at": _iso(esc.created_at),
            "acknowledged_by": esc.acknowledged_by, "acknowledged_at": _iso(esc.acknowledged_at),
            "resolved_at": _iso(esc.resolved_at), "outcome": esc.outcome, "raised_count": esc.raised_count,
            "last_paged_at": _iso(esc.last_paged_at),
            "pages": [{"staff_id": p.staff_id, "via": p.via, "status": p.status, "at": _iso(p.created_at)}
                      for p in esc.pages]}


def _iso(dt) -> str | None:  # type: ignore[no-untyped-def]
    return dt.isoformat() if dt else None
