"""End to end in one process: webhook -> store -> job -> engine -> send to the fake provider."""
from tests.support import post_twilio, run_jobs, wa


def test_first_whatsapp_message_gets_welcome_and_language_menu(app, client, fakes):
    r = post_twilio(client, wa("+4915100000001", "Hello"))
    assert r.status_code == 200 and b"<Response/>" in r.data
    run_jobs(app)
    sent = fakes.messages("whatsapp:+4915100000001")
    assert len(sent) == 1
    assert "Welcome" in sent[0].text and "DELETE" in sent[0].text
    assert "العربية" in sent[0].text  # the language choice lists every language by its own name
