"""The queue as a contact lives it: the position told and told again only when it changes meaningfully,
the timeout options, English only when accepted, a volunteer who never opens a conversation, a fresh bot
session after a close, and a flood answered once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from helpline.content import load_content
from helpline.models import Contact, Conversation, Message, Staff, utcnow
from helpline.runtime import set_process_runtime
from tests.support import login, post_twilio, run_jobs, sms
from tests.test_flows import Person
from workers.scheduler import run_round

CONTENT = load_content()


def text(key: str, lang: str = "en", **p: object) -> str:
    return CONTENT.text(key, lang, **p)


def scheduler_round(app) -> None:  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    with app.app_context():
        run_round(rt)
    run_jobs(app)


def on_shift(app, *emails: str) -> None:  # type: ignore[no-untyped-def]
    with app.extensions["helpline"].db.session() as s:
        for email in emails:
            s.scalar(select(Staff).where(Staff.email == email)).available = True


def conversation_of(app, number: str) -> Conversation:  # type: ignore[no-untyped-def]
    with app.extensions["helpline"].db.session() as s:
        contacts = {c.id: c for c in s.scalars(select(Contact))}
        cid = next(i for i, c in contacts.items() if c.address == number)
        return s.scalar(select(Conversation).where(Conversation.contact_id == cid).order_by(Conversation.id.desc()))


def asks_for_a_person(app, client, fakes, number: str) -> Person:  # type: ignore[no-untyped-def]
    p = Person(app, client, fakes, number)
    p.say("Hello")
    p.say("1")  # English
    p.say("HUMAN")
    return p


def test_the_position_is_told_and_told_again_only_when_it_moves_meaningfully(app, client, fakes):
    on_shift(app, "amal@example.org")  # takes two at a time
    for n in ("+4915100003001", "+4915100003002"):
        asks_for_a_person(app, client, fakes, n)
    waiting = [asks_for_a_person(app, client, fakes, f"+491510000301{i}") for i in range(4)]
    for position, p in enumerate(waiting, 1):
        told = fakes.messages(p.number)[-1].text
        assert told == text("handoff_queued", position=position, minutes=max(2, position * 4))
    seen = [len(fakes.messages(p.number)) for p in waiting]
    scheduler_round(app)  # nothing moved: nobody is told anything
    assert [len(fakes.messages(p.number)) for p in waiting] == seen
    with app.extensions["helpline"].db.session() as s:  # the first in the queue leaves
        s.get(Conversation, conversation_of(app, waiting[0].number).id).status = "closed"
    scheduler_round(app)
    # 2 -> 1 is told (next in line); 3 -> 2 and 4 -> 3 are not worth a message
    assert fakes.messages(waiting[1].number)[-1].text == text("handoff_position", position=1, minutes=4)
    assert [len(fakes.messages(p.number)) for p in waiting[2:]] == seen[2:]
    with app.extensions["helpline"].db.session() as s:
        s.get(Conversation, conversation_of(app, waiting[1].number).id).status = "closed"
    scheduler_round(app)  # 4 -> 2 since the last notice: two places, told
    assert fakes.messages(waiting[3].number)[-1].text == text("handoff_position", position=2, minutes=8)


def test_after_the_queue_timeout_the_contact_may_wait_read_or_leave_a_message(app, client, fakes):
    on_shift(app, "amal@example.org")
    for n in ("+4915100003101", "+4915100003102"):
        asks_for_a_person(app, client, fakes, n)
    leaver, reader, waiter = (asks_for_a_person(app, client, fakes, f"+491510000311{i}") for i in range(3))
    with app.extensions["helpline"].db.session() as s:
        for conv in s.scalars(select(Conversation).where(Conversation.status == "waiting")):
            conv.queued_at = utcnow() - timedelta(seconds=app.extensions["helpline"].config.queue_timeout_seconds + 1)
    scheduler_round(app)
    for p in (leaver, reader, waiter):
        offer = fakes.messages(p.number)[-1].text
        assert offer.startswith(text("queue_timeout"))
        assert all(text(k) in offer for k in ("option.keep_waiting", "option.read_faq", "option.leave_message"))
    scheduler_round(app)  # offered once
    assert fakes.messages(waiter.number)[-1].text.startswith(text("queue_timeout"))
    for p in (leaver, reader, waiter):
        p.seen = len(fakes.messages(p.number))
    assert leaver.say("3") == [text("leave_message_prompt")]
    # (whether the net also asks a person to look first is not this test's business: the last word is the same)
    assert leaver.say("Please tell the volunteer I have a question about my appeal letter")[-1] == \
        text("leave_message_saved")
    assert conversation_of(app, leaver.number).queue_notice.get("left_message") is True
    assert any(text("main_menu") in r for r in reader.say("2"))
    assert waiter.say("1") == [text("still_waiting")]
    assert conversation_of(app, waiter.number).status == "waiting"


def test_english_only_when_the_contact_accepts_it(app, client, fakes):
    on_shift(app, "amal@example.org")  # Arabic and English; nobody speaks Tigrinya
    p = Person(app, client, fakes, "+4915100003201")
    p.say("Hello")
    p.say(str(CONTENT.codes.index("ti") + 1))
    assert p.say("HUMAN") == [text("handoff_no_language", "ti")]
    assert conversation_of(app, p.number).status == "waiting"  # not handed to an English speaker unasked
    scheduler_round(app)
    assert conversation_of(app, p.number).status == "waiting"
    assert p.say("1") == [text("handoff_connected", "ti", name="Amal")]
    conv = conversation_of(app, p.number)
    assert conv.status == "active" and p.contact().accepts_english


def test_a_conversation_never_opened_goes_to_another_volunteer_at_its_old_place(app, client, fakes):
    on_shift(app, "amal@example.org")
    p = asks_for_a_person(app, client, fakes, "+4915100003301")
    first = conversation_of(app, p.number)
    assert first.status == "active"
    quiet = first.assigned_to
    late = asks_for_a_person(app, client, fakes, "+4915100003302")
    assert conversation_of(app, late.number).status == "active"  # Amal takes two
    on_shift(app, "claire@example.org")  # Claire comes on shift with room for both
    with app.extensions["helpline"].db.session() as s:
        conv = s.get(Conversation, first.id)
        conv.assigned_at = utcnow() - timedelta(
            seconds=app.extensions["helpline"].config.assignment_open_seconds + 1)
    scheduler_round(app)
    again = conversation_of(app, p.number)
    assert again.status == "active" and again.assigned_to not in (None, quiet)
    assert again.queued_at == first.queued_at  # its old place, not the end of the queue
    assert fakes.messages(p.number)[-1].text == text("handoff_connected", name="Claire")
    with app.extensions["helpline"].db.session() as s:
        amal = s.get(Staff, quiet)
        assert not amal.available  # gone quiet: no new conversations until back on shift
        claire = s.scalar(select(Staff).where(Staff.email == "claire@example.org")).id
    # Amal's other unopened conversation went with her going off shift, to Claire as well
    assert conversation_of(app, late.number).assigned_to == claire


def test_after_a_close_the_next_message_starts_a_fresh_bot_session(app, client, fakes):
    on_shift(app, "amal@example.org")
    p = asks_for_a_person(app, client, fakes, "+4915100003401")
    conv = conversation_of(app, p.number)
    h = login(client, "amal@example.org", "amal-password-1")
    client.get(f"/api/conversations/{conv.id}")
    assert client.post(f"/api/conversations/{conv.id}/close", json={"outcome": "answered", "notes": "housing",
                                                                    "tags": ["housing"]}, headers=h).status_code == 200
    run_jobs(app)
    p.seen = len(fakes.messages(p.number))
    replies = p.say("Hello again")
    assert replies and text("welcome") in replies[0]  # the bot answers, not the volunteer
    fresh = conversation_of(app, p.number)
    assert fresh.id != conv.id and fresh.status == "bot" and fresh.assigned_to is None
    with app.extensions["helpline"].db.session() as s:
        old = s.get(Conversation, conv.id)
        assert old.status == "closed" and old.outcome == "answered" and old.tags == ["housing"]


def test_a_flood_is_stored_and_answered_once(app, client, fakes):
    number = "+4915100003501"
    Person(app, client, fakes, number).say("Hello")
    before = len(fakes.messages(number))
    for i in range(30):  # pasted or scripted: faster than anyone types
        assert post_twilio(client, sms(number, f"hello {i} are you there")).status_code == 200
    run_jobs(app)
    with app.extensions["helpline"].db.session() as s:
        stored = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        assert stored == 31  # nothing lost
    replies = [m.text for m in fakes.messages(number)[before:]]
    assert replies.count(text("flood")) == 1
    assert len(replies) <= 12  # not one answer per message
