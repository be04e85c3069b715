"""Fake Twilio REST and Telegram Bot API servers on loopback, speaking their real
request and response formats, able to fail on demand."""
from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "test-auth-token"
TELEGRAM_TOKEN = "654321:TEST-bot-token"


@dataclass
class Sent:
    provider: str
    method: str
    to: str
    text: str
    params: dict
    at: float
    id: str = ""  # the provider's message id (Twilio sid, Telegram message_id)


class FakeProviders:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.attempts = 0
        self.fail: list[tuple[int, dict]] = []   # queued failures: (status, extra), used one per send
        self.fail_to: dict[str, list[tuple[int, dict]]] = {}  # the same, for sends to one recipient first
        self.reject_to: dict[str, tuple[int, dict]] = {}
        self.inflight = 0  # requests being answered now
        self.hold = threading.Event()   # while cleared, sends wait (a provider that hangs)
        self.hold.set()
        self.arrived = threading.Event()  # set when a send request came in
        self.lock = threading.Lock()
        self.seq = 5000
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one segment per answer, as real APIs behave: no 40 ms ACK stalls

            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (a late answer): what it missed stays recorded
                    self.close_connection = True

            def do_POST(self) -> None:
                with fake.lock:
                    fake.inflight += 1
                try:
                    self.handle_post()
                finally:
                    with fake.lock:
                        fake.inflight -= 1

            def handle_post(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "json" in self.headers.get("Content-Type", ""):
                    params = json.loads(raw or b"{}")
                else:
                    params = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
                    for k, v in list(params.items()):
                        if v[:1] in "{[":
                            try:
                                params[k] = json.loads(v)
                            except ValueError:
                                pass
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/2010-04-01/Accounts/"):
                    return fake._twilio(self, path, params)
                if path.startswith("/bot"):
                    return fake._telegram(self, path, params)
                self.reply(404, {"message": "not found"})

            do_GET = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeProviders":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, times: int = 1, to: str | None = None, **extra: Any) -> None:
        """The next `times` sends (to `to` if given) fail with `status`; `delay=` seconds answers that late."""
        with self.lock:
            (self.fail if to is None else self.fail_to.setdefault(to, [])).extend([(status, extra)] * times)

    def answer_late(self, seconds: float, times: int = 1, to: str | None = None) -> None:
        """The next sends are taken (recorded as sent) but answered only after `seconds`: a client with a
        shorter timeout cannot know the provider got them."""
        self.fail_next(0, times, to, delay=seconds)

    def _take_failure(self, to: str = "") -> tuple[int, dict] | None:
        with self.lock:
            self.attempts += 1
            mine = self.fail_to.get(to)
            if mine:
                return mine.pop(0)
            return self.fail.pop(0) if self.fail else None

    def _outcome(self, to: str) -> tuple[tuple[int, dict] | None, float]:
        """(the failure to answer with or None, seconds to hold a success's answer back)."""
        failure = self._take_failure(to)
        if failure is None:
            return None, 0.0
        status, extra = failure
        if status == 0:
            return None, float(extra["delay"])
        time.sleep(float(extra.get("delay", 0)))  # a failure answered late
        return failure, 0.0

    def _twilio(self, h: Any, path: str, params: dict) -> None:
        self.arrived.set()
        self.hold.wait(60)
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if h.headers.get("Authorization") != expected:
            return h.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if not path.endswith("/Messages.json"):
            return h.reply(404, {"code": 20404, "message": "not found", "status": 404})
        to = str(params.get("To", ""))
        failure, late = self._outcome(to)
        if failure is None and to in self.reject_to:
            failure = self.reject_to[to]
        if failure:
            status, extra = failure
            return h.reply(status, {"code": extra.get("code", status * 100), "message": "fake failure",
                                    "status": status, "more_info": ""})
        sid = "SM" + secrets.token_hex(16)
        with self.lock:
            self.sent.append(Sent("twilio", "Messages", to, str(params.get("Body", "")), params, time.time(), sid))
        time.sleep(late)
        h.reply(201, {"sid": sid, "account_sid": TWILIO_SID, "to": to, "from": params.get("From"),
                      "body": params.get("Body", ""), "status": "queued", "num_segments": "1", "num_media": "0",
                      "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
                      "error_message": None, "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
                      "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())})

    def _telegram(self, h: Any, path: str, params: dict) -> None:
        token, _, method = path[len("/bot"):].partition("/")
        if token != TELEGRAM_TOKEN:
            return h.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        bot = {"id": 654321, "is_bot": True, "first_name": "Helpline", "username": "helpline_test_bot"}
        if method == "getMe":
            return h.reply(200, {"ok": True, "result": {**bot, "can_join_groups": False,
                                                        "can_read_all_group_messages": False,
                                                        "supports_inline_queries": False}})
        if method == "answerCallbackQuery":
            with self.lock:
                self.sent.append(Sent("telegram", method, "", "", params, time.time()))
            return h.reply(200, {"ok": True, "result": True})
        if method != "sendMessage":
            return h.reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {method} not faked"})
        chat = str(params.get("chat_id", ""))
        failure, late = self._outcome(chat)
        if failure is None and chat in self.reject_to:
            failure = self.reject_to[chat]
        if failure:
            status, extra = failure
            body: dict = {"ok": False, "error_code": status,
                          "description": extra.get("description", "Internal Server Error")}
            if status == 429:
                body["parameters"] = {"retry_after": extra.get("retry_after", 1)}
                body["description"] = f"Too Many Requests: retry after {extra.get('retry_after', 1)}"
            return h.reply(status, body)
        text = str(params.get("text", ""))
        with self.lock:
            self.seq += 1
            mid = self.seq
            self.sent.append(Sent("telegram", method, chat, text, params, time.time(), str(mid)))
        time.sleep(late)
        h.reply(200, {"ok": True, "result": {"message_id": mid, "date": int(time.time()), "from": bot,
                                             "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat,
                                                      "type": "private"}, "text": text}})

    def messages(self, to: str | None = None) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.method in ("Messages", "sendMessage") and (to is None or s.to == to)]
