"""Matching waiting contacts to trained peer volunteers.

A volunteer can take a conversation only if on shift, trained (trained_until
not past), under max_conversations and speaking the contact's language
(English only when the contact accepted it). Among those: the contact's
topic first, then the lowest load, then the longest wait since their last
assignment. The queue is crisis first, then medium risk, then waiting time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.models import Contact, Conversation, Staff, utcnow

_EPOCH = datetime(1970, 1, 1).astimezone()


@dataclass
class Candidate:
    staff: Staff
    load: int


def loads(session: Session) -> dict[int, int]:
    rows = session.execute(select(Conversation.assigned_to, func.count()).where(
        Conversation.status == "active", Conversation.assigned_to.is_not(None)).group_by(Conversation.assigned_to))
    return {sid: n for sid, n in rows}


def free_volunteers(session: Session, today: date | None = None) -> list[Candidate]:
    today = today or utcnow().date()
    staff = session.scalars(select(Staff).where(
        Staff.role == "volunteer", Staff.active.is_(True), Staff.available.is_(True),
        (Staff.trained_until.is_(None)) | (Staff.trained_until >= today))).all()
    load = loads(session)
    return [Candidate(s, load.get(s.id, 0)) for s in staff if load.get(s.id, 0) < s.max_conversations]


def can_take(c: Candidate, language: str | None, accepts_english: bool) -> bool:
    langs = c.staff.languages or []
    return (language in langs) or (accepts_english and "en" in langs)


def best_volunteer(candidates: list[Candidate], language: str | None, topic: str | None,
                   accepts_english: bool) -> Candidate | None:
    """One pass over the candidates: linear in the number of volunteers."""
    best: Candidate | None = None
    best_key: tuple | None = None
    for c in candidates:
        if c.load >= c.staff.max_conversations or not can_take(c, language, accepts_english):
            continue
        native = language in (c.staff.languages or [])
        key = (not native, not (topic and topic in (c.staff.topics or [])), c.load,
               c.staff.last_assigned_at or _EPOCH, c.staff.id)
        if best_key is None or key < best_key:
            best, best_key = c, key
    return best


def waiting_queue(session: Session, limit: int | None = None) -> list[Conversation]:
    q = select(Conversation).where(Conversation.status == "waiting").order_by(
        Conversation.priority.desc(), Conversation.queued_at.asc(), Conversation.id.asc())
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def queue_position(session: Session, conv: Conversation) -> int:
    """1-based place among the waiting conversations of the same language."""
    ahead = session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.status == "waiting", Conversation.language == conv.language, Conversation.id != conv.id,
        (Conversation.priority > conv.priority) | (
            (Conversation.priority == conv.priority) & (Conversation.queued_at < conv.queued_at))))
    return int(ahead or 0) + 1


def by_language(candidates: list[Candidate]) -> dict[str, list[Candidate]]:
    """Candidates indexed by the languages they speak: a conversation looks only at its speakers."""
    index: dict[str, list[Candidate]] = {}
    for c in candidates:
        for lang in c.staff.languages or []:
            index.setdefault(lang, []).append(c)
    return index


def speakers(index: dict[str, list[Candidate]], language: str | None, accepts_english: bool) -> list[Candidate]:
    found = list(index.get(language or "", []))
    if accepts_english and language != "en":
        found += index.get("en", [])
    return found


def plan_assignments(session: Session) -> list[tuple[Conversation, Staff]]:
    """Pairs for every waiting conversation that a free volunteer can take now, queue order kept."""
    candidates = free_volunteers(session)
    if not candidates:
        return []
    index = by_language(candidates)
    pairs = []
    for conv in waiting_queue(session):
        contact = session.get(Contact, conv.contact_id) if conv.contact_id else None
        if contact is None:
            continue
        best = best_volunteer(speakers(index, conv.language, contact.accepts_english), conv.language, conv.topic,
                              contact.accepts_english)
        if best is None:
            continue
        best.load += 1
        best.staff.last_assigned_at = utcnow()
        pairs.append((conv, best.staff))
    return pairs
