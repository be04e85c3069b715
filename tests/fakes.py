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


class FakeProviders:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.attempts = 0
        self.fail: list[tuple[int, dict]] = []   # queued failures: (status, extra), used one per send
        self.reject_to: dict[str, tuple[int, dict]] = {}
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
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
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

    def fail_next(self, status: int, times: int = 1, **extra: Any) -> None:
        with self.lock:
            self.fail.extend([(status, extra)] * times)

    def _take_failure(self) -> tuple[int, dict] | None:
        with self.lock:
            self.attempts += 1
            return self.fail.pop(0) if self.fail else None

    def _twilio(self, h: Any, path: str, params: dict) -> None:
        self.arrived.set()
        self.hold.wait(60)
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if h.headers.get("Authorization") != expected:
            return h.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if not path.endswith("/Messages.json"):
            return h.reply(404, {"code": 20404, "message": "not found", "status": 404})
        failure = self._take_failure()
        to = str(params.get("To", ""))
        if failure is None and to in self.reject_to:
            failure = self.reject_to[to]
        if failure:
            status, extra = failure
            return h.reply(status, {"code": extra.get("code", status * 100), "message": "fake failure",
                                    "status": status, "more_info": ""})
        sid = "SM" + secrets.token_hex(16)
        with self.lock:
            self.sent.append(Sent("twilio", "Messages", to, str(params.get("Body", "")), params, time.time()))
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
        failure = self._take_failure()
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
            self.sent.append(Sent("telegram", method, chat, text, params, time.time()))
            self.seq += 1
            mid = self.seq
        h.reply(200, {"ok": True, "result": {"message_id": mid, "date": int(time.time()), "from": bot,
                                             "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat,
                                                      "type": "private"}, "text": text}})

    def messages(self, to: str | None = None) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.method in ("Messages", "sendMessage") and (to is None or s.to == to)]
