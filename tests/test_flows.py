"""Conversation behaviour through the real path: global words in every language, DELETE, expiry,
out-of-hours, menus per channel."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpline.content import load_content
from helpline.models import AuditLog, Contact, Conversation, Message, Staff, utcnow
from tests.support import post_telegram, post_twilio, run_jobs, sms, wa

CONTENT = load_content()
LANGS = CONTENT.codes


class Person:
    """A contact on SMS; say() posts, runs the jobs and returns the replies that came back."""

    def __init__(self, app, client, fakes, number: str) -> None:  # type: ignore[no-untyped-def]
        self.app, self.client, self.fakes, self.number = app, client, fakes, number
        self.seen = 0

    def say(self, text: str) -> list[str]:
        assert post_twilio(self.client, sms(self.number, text)).status_code == 200
        run_jobs(self.app)
        got = self.fakes.messages(self.number)
        new, self.seen = got[self.seen:], len(got)
        return [m.text for m in new]

    def contact(self) -> Contact:
        with self.app.extensions["helpline"].db.session() as s:
            return s.scalar(select(Contact).where(Contact.channel == "sms"))


@pytest.fixture
def person(app, client, fakes):  # type: ignore[no-untyped-def]
    return Person(app, client, fakes, "+4915100000601")


def text(key: str, lang: str = "en", **p: object) -> str:
    return CONTENT.text(key, lang, **p)


def test_welcome_privacy_and_language_choice(person):
    [reply] = person.say("Hello")
    assert text("welcome") in reply and "90" in reply and "DELETE" in reply
    for code in LANGS:
        assert CONTENT.native_name(code) in reply
    [reply] = person.say("2")  # Arabic
    assert text("language_set", "ar") in reply and text("main_menu", "ar") in reply
    assert person.contact().language == "ar"


def test_a_question_in_a_recognised_language_skips_the_choice(person):
    [reply] = person.say("Bonjour, comment faire une demande d'asile en Allemagne ?")
    assert text("welcome", "fr") in reply and text("choose_language", "fr") not in reply
    assert person.contact().language == "fr"


def test_asking_for_a_person_in_another_language_is_answered_in_it(person):
    person.say("Hello")  # no language yet: the language menu
    replies = person.say("Je voudrais parler à une personne, s'il vous plaît")
    assert person.contact().language == "fr"
    assert replies == [text("handoff_out_of_hours", "fr")]  # nobody on shift: the options, in French


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("command,key", [("menu", "main_menu"), ("help", "help"), ("language", "choose_language"),
                                         ("stop", "stopped"), ("delete", "delete_confirm")])
def test_global_words_in_every_language(app, client, fakes, lang, command, key):
    p = Person(app, client, fakes, "+4915100000602")
    p.say("Hello")
    p.say(str(LANGS.index(lang) + 1))
    words = CONTENT.keywords[command][lang]
    assert words, f"no {command} word for {lang}"
    replies = p.say(words[0])
    assert replies and text(key, lang, emergency="112").split("{")[0][:25] in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
def test_human_phrase_in_every_language_reaches_the_handoff(app, client, fakes, lang):
    p = Person(app, client, fakes, "+4915100000603")
    p.say("Hello")
    p.say(str(LANGS.index(lang) + 1))
    phrase = max(CONTENT.keywords["human"][lang], key=len)
    replies = p.say(phrase)
    assert text("handoff_out_of_hours", lang)[:30] in replies[-1]  # nobody is on shift in this test


def test_stop_silences_and_start_resumes(person):
    person.say("Hello")
    assert person.say("STOP") == [text("stopped")]
    assert person.say("how do I apply for asylum") == []
    assert person.contact().unsubscribed
    replies = person.say("START")
    assert replies and text("resumed") in replies[0]


def test_delete_asks_then_erases_everything(person, app):
    person.say("Hello")
    person.say("1")
    person.say("How do I apply for asylum?")
    assert person.say("DELETE") == [text("delete_confirm")]
    assert person.say("no") == [text("delete_cancelled")]
    assert text("feedback_thanks") in person.say("1")[0]  # back where they were: the feedback question
    person.say("DELETE")
    assert person.say("YES") == [text("delete_done")]
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0
        assert s.scalar(select(func.count()).select_from(Message).where(Message.text.is_not(None))) == 0
        assert all(c.contact_id is None for c in s.scalars(select(Conversation)))
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "contact.erase")) == 1
    replies = person.say("Hello")  # a new start: the welcome again
    assert text("welcome") in replies[0]


def test_idle_session_returns_to_the_menu(person, app):
    person.say("Hello")
    person.say("1")
    person.say("2")  # browse topics: waiting for a topic number
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        c = s.scalar(select(Contact))
        c.last_seen_at = utcnow() - timedelta(seconds=rt.config.session_expiry_seconds + 60)
    replies = person.say("3")
    assert text("session_expired") in replies[0] and text("option.talk_to_person") in replies[0]


def test_out_of_hours_offers_to_wait_or_leave_a_message_and_faq_keeps_working(person, app):
    person.say("Hello")
    person.say("1")
    [reply] = person.say("HUMAN")
    assert reply == text("handoff_out_of_hours")
    assert person.say("2") == [text("leave_message_prompt")]
    assert person.say("Please call me back about my appeal") == [text("leave_message_saved")]
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv.status == "waiting" and conv.queue_notice.get("left_message")


def test_faq_answer_then_feedback(person):
    person.say("Hello")
    person.say("1")
    [reply] = person.say("How can I apply for asylum in Germany?")
    entry = CONTENT.faq_entry("asylum_procedure.how_to_apply", "en")
    assert entry.answer in reply and text("feedback_question") in reply
    assert text("feedback_thanks") in person.say("1")[0]


def test_unclear_question_offers_choices_or_a_person(person):
    person.say("Hello")
    person.say("1")
    [reply] = person.say("thanks")
    assert reply == text("faq_not_found")


def test_browse_topics_by_number(person):
    person.say("Hello")
    person.say("1")
    [topics] = person.say("2")
    assert text("choose_topic") in topics and text("topic.housing") in topics
    housing = [e.topic for e in CONTENT.faq]
    n = list(dict.fromkeys(housing)).index("housing") + 1
    [questions] = person.say(str(n))
    entries = CONTENT.topic_entries("housing", "en")
    assert entries[0].questions[0] in questions
    [answer] = person.say("1")
    assert entries[0].answer in answer


def test_whatsapp_menus_are_numbered_and_telegram_gets_buttons(app, client, fakes):
    post_twilio(client, wa("+4915100000604", "Hello"))
    update = {"update_id": 81000001, "message": {"message_id": 1, "date": 1763700000, "text": "/start",
                                                  "from": {"id": 900000604, "is_bot": False, "first_name": "T"},
                                                  "chat": {"id": 900000604, "type": "private"}}}
    post_telegram(client, update)
    run_jobs(app)
    [wa_msg] = fakes.messages("whatsapp:+4915100000604")
    assert "\n1. English" in wa_msg.text
    [tg_msg] = fakes.messages("900000604")
    keyboard = tg_msg.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [str(i) for i in range(1, len(LANGS) + 1)]
    assert keyboard[1][0]["text"] == CONTENT.native_name("ar")


def test_volunteer_on_shift_is_assigned_at_once(person, app):
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        s.scalar(select(Staff).where(Staff.email == "amal@example.org")).available = True
    person.say("Hello")
    person.say("1")
    [reply] = person.say("HUMAN")
    assert text("handoff_connected", name="Amal") in reply
    with rt.db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv.status == "active" and conv.assigned_to is not None


def _screen_as_medium(app, monkeypatch):  # type: ignore[no-untyped-def]
    from helpline.crisis import Screening
    monkeypatch.setattr(app.extensions["helpline"].screener, "screen",
                        lambda text, semantic=True: Screening("medium", "distress", 0.5, "semantic"))


def test_medium_distress_asks_for_a_person_and_still_answers_the_question(person, app, monkeypatch):
    person.say("Hello")
    person.say("1")
    _screen_as_medium(app, monkeypatch)
    replies = person.say("How can I apply for asylum in Germany?")
    entry = CONTENT.faq_entry("asylum_procedure.how_to_apply", "en")
    assert any(entry.answer in r for r in replies), replies
    assert any(r.startswith(text("crisis_medium", emergency="112")[:30]) for r in replies), replies
    with app.extensions["helpline"].db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv.priority == 1 and conv.status == "waiting"


def test_medium_distress_out_of_hours_offers_choices_a_digit_can_answer(person, app, monkeypatch):
    """Answered and queued with nobody on shift: no "did this help? 1 / 2" beside the queue's own 1 / 2."""
    person.say("Hello")
    person.say("1")
    _screen_as_medium(app, monkeypatch)
    replies = person.say("How can I apply for asylum in Germany?")
    assert not any(text("feedback_question") in r for r in replies), replies
    assert replies[-1] == text("handoff_out_of_hours")
    monkeypatch.undo()
    assert person.say("2") == [text("leave_message_prompt")]
    _screen_as_medium(app, monkeypatch)  # the message left speaks of distress: saved all the same
    assert person.say("I am scared of the letter from the office") == [text("leave_message_saved")]


def test_medium_distress_without_a_question_goes_to_a_person_only(person, app, monkeypatch):
    person.say("Hello")
    person.say("1")
    _screen_as_medium(app, monkeypatch)
    words = "the sea was so dark that night"
    assert not app.extensions["helpline"].faq.match(words).found  # no question to answer
    replies = person.say(words)
    assert replies[0].startswith(text("crisis_medium", emergency="112")[:30])
    assert not any(e.answer in r for r in replies for e in CONTENT.faq if e.lang == "en")
    with app.extensions["helpline"].db.session() as s:
        assert s.scalar(select(Conversation)).status == "waiting"
    assert person.say("i keep thinking about it") == []  # waiting already: not told the queue again


def test_a_close_call_is_answered_at_once_and_the_other_answers_follow_a_no(person, app):
    question = "what do they ask in the interview"
    match = app.extensions["helpline"].faq.match(question)
    assert match.found and not match.confident  # the two interview entries are close
    best, other = match.candidates[0].entry_id, match.candidates[1].entry_id
    person.say("Hello")
    person.say("1")
    [reply] = person.say(question)
    assert CONTENT.faq_entry(best, "en").answer in reply and text("feedback_question") in reply
    [menu] = person.say("2")  # it did not help: the other likely answers, and a person
    assert text("faq_choices") in menu and CONTENT.faq_entry(other, "en").questions[0] in menu
    assert text("option.none_of_these") in menu
    [reply] = person.say("1")
    assert CONTENT.faq_entry(other, "en").answer in reply


def test_a_no_after_a_clear_answer_offers_a_person(person):
    person.say("Hello")
    person.say("1")
    person.say("How can I apply for asylum in Germany?")
    [reply] = person.say("2")
    assert text("feedback_offer_person") in reply


def test_a_first_question_in_arabizi_is_answered_in_arabic(person, app):
    entry_id = "money_benefits.how_much_money"
    pairs = zip(CONTENT.extra_questions[entry_id], CONTENT.extra_question_langs[entry_id])
    phrasings = [q for q, lang in pairs if lang == "ar" and q.isascii()]
    faq = app.extensions["helpline"].faq
    question = next(q for q in phrasings if faq.match(q).confident and faq.match(q).lang == "ar")
    replies = person.say(question)
    assert any(CONTENT.faq_entry(entry_id, "ar").answer in r for r in replies), replies
    assert person.contact().language == "ar"


def test_a_first_message_in_crisis_is_answered_in_its_language(person, app):
    from helpline.language import detect_language
    words = "والله ما عاد فيني، بدي انتحر الليلة وخلص"
    assert detect_language(words).lang == "ar" and detect_language(words).confident
    replies = person.say(words)
    expected = text("crisis_high", "ar", emergency="112", crisis_line_name="", crisis_line="")
    assert any(r[:25] == expected[:25] for r in replies), replies
    assert person.contact().language == "ar"
