"""Processing inbound messages: crisis screening first, then the conversation.

One contact at a time (a lock per contact across every worker), messages in
the order they were stored, each in one transaction with the replies it
causes, so a message handled twice replies once.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.engine import (Erase, LeaveMessage, Menu, RequestHuman, Resubscribe, Say, SayText,
                          SetLanguage, SetTopic, Turn, Unsubscribe)
from helpline.conversations import (audit, do_request_human, get_open_conversation, get_or_open_conversation,
                                    text_for)
from helpline.crisis import Screening
from helpline.escalation import do_acknowledge, do_open_escalation
from helpline.inbound import contact_region
from helpline.language import detect_language
from helpline.models import Contact, Conversation, Escalation, Message, Staff, utcnow
from helpline.outbox import enqueue_delivery, queue_text, queue_to_staff, send_here
from helpline.runtime import current_runtime
from workers.locks import contact_lock
from workers.screening import take_verdict

log = logging.getLogger(__name__)
ACK_RE = re.compile(r"^\s*ack\s+([a-z0-9]{4,8})\s*$", re.IGNORECASE)
FLOOD_COUNT, FLOOD_SECONDS = 10, 10  # more than one message a second for ten seconds: not typed by hand
CRISIS_REPEAT_SECONDS = 300


def process_contact(contact_id: int) -> int:
    """Handles every stored, unprocessed message of the contact, oldest first."""
    rt = current_runtime()
    handled = 0
    with contact_lock(rt, contact_id):
        while True:
            with send_here() as replies:
                with rt.db.session() as s:
                    contact = s.get(Contact, contact_id)
                    if contact is None:
                        return handled
                    msg = s.scalar(select(Message).where(
                        Message.contact_id == contact_id, Message.direction == "in",
                        Message.status == "received").order_by(Message.id).limit(1))
                    if msg is None:
                        return handled
                    handle_message(s, contact, msg)
                    msg.status, msg.processed_at = "processed", utcnow()
            handled += 1
            _send_now(replies)


def _send_now(rows: list[tuple[int, bool]]) -> None:
    """Sends the replies (and pages) this message caused right after its commit, in this worker, rather than
    after a hop to whichever worker takes a send job next (~30 ms of the first reply, and a second worker
    busy with a job that mostly finds its row sent). A row this cannot send now (another send to the
    recipient under way, a provider failure, its turn in the pace not yet come) gets its job: enqueued
    here, or scheduled by `deliver` for its turn. A crisis row's job was enqueued at the commit already;
    the row's state and the per-recipient lock keep it from going out twice."""
    from workers.outbound import deliver
    for mid, crisis in rows:
        try:
            deliver(mid, wait=0)
            continue
        except Exception as e:
            log.warning("reply %s left to a send job: %s", mid, type(e).__name__)
        if not crisis:
            try:
                enqueue_delivery([mid])
            except Exception as e:  # Redis away: the scheduler enqueues the row when it is back
                log.warning("reply %s left to the scheduler: %s", mid, type(e).__name__)


def handle_message(s: Session, contact: Contact, msg: Message) -> None:
    rt = current_runtime()
    text = msg.text or ""
    if _staff_acknowledgement(s, contact, msg, text):
        return
    if msg.payload.get("callback_id"):
        _answer_callback(msg.payload["callback_id"])
    # the screening stage's verdict when it screened this message already (workers/screening.py), else here
    screening = Screening(None, None, 0.0)
    if text:
        screening = take_verdict(rt, msg.id, contact.id, text) or rt.screener.screen(text)
    if text and screening.level != "high" and not text.strip().isdigit():
        rt.faq.match(text)  # the slow part, done before this transaction writes (SQLite has one writer)
    if screening.level:
        msg.payload = {**msg.payload, "screening": {"level": screening.level, "category": screening.category,
                                                     "score": round(screening.score, 3),
                                                     "method": screening.method}}
    now = utcnow()
    expired = contact.last_seen_at is not None and now - contact.last_seen_at > timedelta(
        seconds=rt.config.session_expiry_seconds)
    contact.last_seen_at = now
    conv = get_or_open_conversation(s, contact)
    msg.conversation_id = conv.id
    conv.last_message_at = now
    if not contact.language:
        _learn_language(contact, msg, text, screening)

    if screening.level == "high":
        _crisis(s, contact, conv, screening)
        return
    if contact.blocked_until and contact.blocked_until > now:
        if not contact.block_notified:
            queue_text(s, contact, text_for(contact, "blocked"), conversation=conv, force=True)
            contact.block_notified = True
        return
    if _flooding(s, contact, msg):
        return
    if screening.level == "medium":
        # MEDIUM asks for a person, it does not stop the bot: a question the FAQ can answer is answered too
        if conv.status not in ("active", "waiting") and text and rt.faq.match(text).found:
            # without "did this help? 1 / 2": a person follows, and the queue may offer numbered choices
            _run_flow(s, contact, conv, msg, text, expired, ask_feedback=False)
        waiting = conv.status == "waiting"
        _distress(s, contact, conv, screening)
        if waiting and contact.state.get("node") in ("_leave_message", "_waiting_options", "_no_language"):
            _waiting_choice(s, contact, conv, text)  # the message they were asked to leave, or their choice
        return
    if conv.status == "active":
        _to_volunteer(s, contact, conv, msg, text)
        return
    if conv.status == "waiting" and _waiting_choice(s, contact, conv, text):
        return
    _run_flow(s, contact, conv, msg, text, expired)


# -- staff acknowledgements ---------------------------------------------------

def _staff_acknowledgement(s: Session, contact: Contact, msg: Message, text: str) -> bool:
    m = ACK_RE.match(text)
    if not m:
        return False
    address = contact.address or ""
    staff = s.scalar(select(Staff).where(Staff.active.is_(True), Staff.role.in_(("professional", "supervisor")),
                                         (Staff.phone == address) | (Staff.telegram_chat_id == address)))
    if staff is None:
        return False
    rt = current_runtime()
    code = m.group(1).upper()
    esc = s.scalar(select(Escalation).where(Escalation.code == code))
    lang = (staff.languages or ["en"])[0] if (staff.languages or ["en"])[0] in rt.content.messages else "en"
    if esc is None or esc.status == "resolved":
        queue_to_staff(s, staff, rt.content.text("page_unknown_code", lang, code=code))
    else:
        do_acknowledge(s, esc, staff, via=msg.channel)
        queue_to_staff(s, staff, rt.content.text("page_acknowledged", lang, code=code))
    msg.contact_id = None  # a staff member's reply is not a contact's message
    msg.text = None
    return True


def _answer_callback(callback_id: str) -> None:
    try:
        sender = current_runtime().senders.get("telegram")
        sender.answer_callback(callback_id)  # type: ignore[attr-defined]
    except Exception as e:  # the spinner on the button is cosmetic; the message is handled anyway
        log.warning("answerCallbackQuery failed: %s", type(e).__name__)


# -- crisis ---------------------------------------------------------------------

def _crisis(s: Session, contact: Contact, conv: Conversation, screening: Screening) -> None:
    rt = current_runtime()
    category = screening.category or "suicide_self_harm"
    esc = do_open_escalation(s, contact, conv, category)
    last = contact.state.get("crisis_reply_at")
    if esc.raised_count == 1 or not last or (utcnow().timestamp() - float(last)) > CRISIS_REPEAT_SECONDS:
        numbers = rt.content.emergency_for(contact_region(contact, rt.config.default_region))
        queue_text(s, contact, text_for(contact, "crisis_high", emergency=numbers.get("emergency", "112"),
                                        crisis_line_name=numbers.get("crisis_line_name") or "",
                                        crisis_line=numbers.get("crisis_line") or numbers.get("emergency", "112")),
                   conversation=conv, crisis=True, force=True)
        contact.state = {**contact.state, "crisis_reply_at": utcnow().timestamp()}
    conv.priority = 2
    blocked = contact.blocked_until is not None and contact.blocked_until > utcnow()
    if conv.status != "active" and not blocked:  # a blocked contact is paged for, not routed to volunteers
        do_request_human(s, contact, conv, priority=2)
    contact.state = {**contact.state, "node": "handoff", "welcomed": True}
    log.info("crisis escalation %s for contact %s (%s, %s)", esc.id, contact.alias, category, screening.method)


def _queue_node(outcome: str) -> str:
    """Where a contact just queued stands: the choices they were offered are what a digit now answers."""
    return {"out_of_hours": "_waiting_options", "no_language": "_no_language"}.get(outcome, "handoff")


def _distress(s: Session, contact: Contact, conv: Conversation, screening: Screening) -> None:
    first = conv.priority < 1
    conv.priority = max(conv.priority, 1)
    if first:
        queue_text(s, contact, text_for(contact, "crisis_medium"), conversation=conv, force=True)
    if conv.status not in ("active", "waiting"):  # already waiting: moved up, not told the same again
        node = _queue_node(do_request_human(s, contact, conv, priority=1))
        contact.state = {**contact.state, "node": node, "welcomed": True}
    audit(s, "system", "screening.medium", "conversation", conv.id, category=screening.category)


# -- with a person --------------------------------------------------------------

def _to_volunteer(s: Session, contact: Contact, conv: Conversation, msg: Message, text: str) -> None:
    """While a volunteer talks, messages go to them; only STOP / START / DELETE act."""
    cmd = current_runtime().engine.keywords.command(text) if text else None
    if cmd in ("stop", "start", "delete"):
        _run_flow(s, contact, conv, msg, text, expired=False)


def _waiting_choice(s: Session, contact: Contact, conv: Conversation, text: str) -> bool:
    """Answers to the out-of-hours, no-language and queue-timeout options."""
    node = contact.state.get("node")
    choice = text.strip()
    if node == "_leave_message":
        conv.queue_notice = {**conv.queue_notice, "left_message": True}
        queue_text(s, contact, text_for(contact, "leave_message_saved"), conversation=conv)
        contact.state = {**contact.state, "node": "handoff"}
        return True
    if node not in ("_waiting_options", "_no_language") or choice not in ("1", "2", "3"):
        if node == "handoff" and text:
            notice = conv.queue_notice.get("still_waiting_at", 0)
            if utcnow().timestamp() - float(notice) > 120:
                queue_text(s, contact, text_for(contact, "still_waiting"), conversation=conv)
                conv.queue_notice = {**conv.queue_notice, "still_waiting_at": utcnow().timestamp()}
            return True
        return False
    if node == "_no_language":
        if choice == "1":
            contact.accepts_english = True
            do_request_human(s, contact, conv)
        else:
            queue_text(s, contact, text_for(contact, "still_waiting"), conversation=conv)
        contact.state = {**contact.state, "node": "handoff"}
        return True
    if choice == "1":
        queue_text(s, contact, text_for(contact, "still_waiting"), conversation=conv)
        contact.state = {**contact.state, "node": "handoff"}
    elif choice == "2" and conv.queue_notice.get("options") == "timeout":
        contact.state = {**contact.state, "node": "main_menu"}
        rt = current_runtime()
        _run_flow(s, contact, conv, None, rt.content.keywords["menu"]["en"][0], expired=False)
    else:
        queue_text(s, contact, text_for(contact, "leave_message_prompt"), conversation=conv)
        contact.state = {**contact.state, "node": "_leave_message"}
    return True


def _flooding(s: Session, contact: Contact, msg: Message) -> bool:
    since = utcnow() - timedelta(seconds=FLOOD_SECONDS)
    recent = s.scalar(select(func.count()).select_from(Message).where(
        Message.contact_id == contact.id, Message.direction == "in", Message.created_at >= since)) or 0
    if recent <= FLOOD_COUNT:
        return False
    if not contact.state.get("flood_notice"):
        queue_text(s, contact, text_for(contact, "flood"))
        contact.state = {**contact.state, "flood_notice": True}
    return True


# -- the bot ---------------------------------------------------------------------

def _learn_language(contact: Contact, msg: Message, text: str, screening: Screening) -> None:
    codes = current_runtime().content.codes
    hint = (msg.payload.get("profile_language") or "")[:2].lower()
    if hint and hint in codes:
        contact.language = hint
    elif screening.level and text:
        # a first message in crisis is answered before any menu: in the language it was written in, when the
        # detector is sure of it, rather than in English
        detection = detect_language(text)
        if detection and detection.confident and detection.lang in codes:
            contact.language = detection.lang


def _run_flow(s: Session, contact: Contact, conv: Conversation, msg: Message | None, text: str,
              expired: bool, ask_feedback: bool = True) -> None:
    rt = current_runtime()
    engine = rt.engine
    detection = detect_language(text) if text else None
    detected = detection.lang if detection and detection.confident and detection.lang in rt.content.codes else None
    button = msg.payload.get("button") if msg else None
    if text.lower().startswith("/start"):
        text = "start" if contact.state.get("welcomed") else ""
    state = {k: v for k, v in contact.state.items() if k in ("node", "data", "back")}
    turn = Turn(text=text, button=button, has_media=bool(msg and msg.payload.get("media")),
                lang=contact.language, detected=detected, new_contact=not contact.state.get("welcomed"),
                expired=expired and state.get("node") not in (None, "main_menu"))
    if turn.new_contact and not detected and contact.language:
        turn = Turn(**{**turn.__dict__, "detected": contact.language})
    step = engine.step(state, turn)
    parts: list[str] = []
    buttons: list[str] = []
    force = False

    def flush() -> None:
        nonlocal parts, buttons, force
        if parts:
            queue_text(s, contact, "\n\n".join(parts), conversation=conv, options=tuple(buttons), force=force)
        parts, buttons, force = [], [], False

    for effect in step.effects:
        if isinstance(effect, Say):
            parts.append(text_for(contact, effect.key, **effect.params))
        elif isinstance(effect, SayText):
            parts.append(effect.text)
        elif isinstance(effect, Menu):
            if not ask_feedback and effect.key == "feedback_question":
                continue
            labels = [text_for(contact, v) if kind == "key" else v for kind, v in effect.options]
            numbered = "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
            parts.append(text_for(contact, effect.key, **effect.params) + "\n" + numbered)
            buttons = labels
        elif isinstance(effect, SetLanguage):
            if effect.confirmed or not contact.language_confirmed:
                contact.language = effect.lang
                contact.language_confirmed = effect.confirmed or contact.language_confirmed
                conv.language = effect.lang
        elif isinstance(effect, SetTopic):
            conv.topic = effect.topic
        elif isinstance(effect, Unsubscribe):
            contact.unsubscribed = True
            force = True
            audit(s, f"contact:{contact.alias}", "contact.unsubscribe", "contact", contact.id)
        elif isinstance(effect, Resubscribe):
            contact.unsubscribed = False
        elif isinstance(effect, RequestHuman):
            flush()
            step.state = {"node": _queue_node(do_request_human(s, contact, conv))}
        elif isinstance(effect, LeaveMessage):
            if conv.status not in ("waiting", "active"):
                step.state = {"node": rt.engine.flow.start}
        elif isinstance(effect, Erase):
            flush()
            do_erase(s, contact, keep=msg)
            return
    if contact.unsubscribed and not force:
        parts = []
    flush()
    contact.state = {**step.state, "welcomed": True}


def do_erase(s: Session, contact: Contact, keep: Message | None = None) -> None:
    """Erases every message, conversation and identifier; the confirmation goes out, then the contact row."""
    from sqlalchemy import delete
    if keep is not None:  # the DELETE confirmation itself: kept only as an empty, processed row
        keep.text, keep.contact_id, keep.conversation_id, keep.payload = None, None, None, {}
        s.flush()
    s.execute(delete(Message).where(Message.contact_id == contact.id))
    for conv in s.scalars(select(Conversation).where(Conversation.contact_id == contact.id)):
        s.execute(delete(Message).where(Message.conversation_id == conv.id))
        conv.contact_id = None
        conv.notes = None
        conv.status = "closed" if conv.status != "closed" else conv.status
    for esc in s.scalars(select(Escalation).where(Escalation.contact_id == contact.id)):
        esc.contact_id = None
        esc.notes = None
    audit(s, "system", "contact.erase", "contact", None)
    s.flush()
    text = text_for(contact, "delete_done")
    contact.state = {"erased": True}
    contact.unsubscribed = False
    queue_text(s, contact, text, force=True, payload={"erase_contact": True})
    contact.alias = "erased"
