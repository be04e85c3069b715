"""Ports and adapters for providers: one small sender interface.

Twilio (WhatsApp, SMS) through the real `twilio` client, Telegram through
python-telegram-bot's `Bot`, the web chat (stored; the page polls) and the
console. Clients are built once per process and kept; each has explicit
timeouts. Errors become ProviderError with `permanent` and `retry_after`.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from helpline.config import Config
from helpline.errors import ProviderError

log = logging.getLogger(__name__)
LIMITS = {"sms": 1600, "whatsapp": 4096, "telegram": 4096, "web": 8000, "console": 100000}


@dataclass(frozen=True)
class Outgoing:
    channel: str
    to: str                     # E.164 number, Telegram chat id, web session id
    text: str
    options: tuple[str, ...] = ()   # button labels; the text already numbers them
    status_callback: str | None = None


class Sender(Protocol):
    def send(self, out: Outgoing) -> str:
        """Sends one message (within the channel's length limit); returns the provider's id."""
        ...


class TwilioSender:
    def __init__(self, config: Config) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        base = config.twilio_api_base_url

        class RebasedHttpClient(TwilioHttpClient):
            """Points the real client at TWILIO_API_BASE_URL (fake servers in tests)."""

            def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
                if base != "https://api.twilio.com" and url.startswith("https://api.twilio.com"):
                    url = base + url[len("https://api.twilio.com"):]
                return super().request(method, url, *args, **kwargs)

        self.client = Client(config.twilio_account_sid, config.twilio_auth_token,
                             http_client=RebasedHttpClient(timeout=config.http_timeout_seconds))
        self.client.messages  # loads the API's modules (~0.3 s) now, not while a row says "sending"
        self.numbers = {"whatsapp": config.twilio_whatsapp_number, "sms": config.twilio_sms_number}

    def send(self, out: Outgoing) -> str:
        from requests.exceptions import RequestException
        from twilio.base.exceptions import TwilioRestException
        sender = self.numbers.get(out.channel) or self.numbers["sms"] or self.numbers["whatsapp"]
        prefix = "whatsapp:" if out.channel == "whatsapp" else ""
        kwargs = {"to": prefix + out.to, "from_": prefix + sender, "body": out.text}
        if out.status_callback:
            kwargs["status_callback"] = out.status_callback
        try:
            msg = self.client.messages.create(**kwargs)
        except TwilioRestException as e:
            code = str(e.code or e.status)
            retryable = e.status >= 500 or e.status == 429 or e.code in (63018, 20429)
            raise ProviderError(code, e.msg or "", permanent=not retryable,
                                unreachable=e.code in (21610, 63024, 21614)) from None
        except RequestException as e:
            raise ProviderError("network", type(e).__name__, permanent=False) from None
        return str(msg.sid)


class TelegramSender:
    """One event loop and one Bot per process (a new loop per message costs ~70 ms)."""

    def __init__(self, config: Config) -> None:
        import os
        os.environ.setdefault("PTB_TIMEDELTA", "1")  # retry_after as a timedelta, the coming default
        from telegram import Bot
        from telegram.request import HTTPXRequest
        t = config.http_timeout_seconds
        request = HTTPXRequest(connection_pool_size=8, connect_timeout=5, read_timeout=t, write_timeout=t,
                               pool_timeout=5)
        self.bot = Bot(config.telegram_bot_token, base_url=f"{config.telegram_api_base_url}/bot",
                       request=request)
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._ready = False

    def _run(self, coro):  # type: ignore[no-untyped-def]
        with self._lock:
            if not self._ready:
                self.loop.run_until_complete(self.bot.initialize())
                self._ready = True
            return self.loop.run_until_complete(coro)

    def _call(self, coro_factory):  # type: ignore[no-untyped-def]
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
        try:
            return self._run(coro_factory())
        except RetryAfter as e:
            delay = e.retry_after.total_seconds() if hasattr(e.retry_after, "total_seconds") else e.retry_after
            raise ProviderError("429", "retry_after", permanent=False, retry_after=float(delay)) from None
        except Forbidden as e:
            raise ProviderError("403", e.message, permanent=True,
                                unreachable="blocked" in e.message.lower() or "deactivated" in e.message.lower()) \
                from None
        except BadRequest as e:
            raise ProviderError("400", e.message, permanent=True,
                                unreachable="chat not found" in e.message.lower()) from None
        except (TimedOut, NetworkError) as e:
            raise ProviderError("network", type(e).__name__, permanent=False) from None

    def send(self, out: Outgoing) -> str:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        markup = None
        if out.options:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(label[:60], callback_data=str(i + 1))]
                                           for i, label in enumerate(out.options)])
        msg = self._call(lambda: self.bot.send_message(chat_id=int(out.to), text=out.text, reply_markup=markup))
        return str(msg.message_id)

    def answer_callback(self, callback_id: str) -> None:
        self._call(lambda: self.bot.answer_callback_query(callback_query_id=callback_id))

    def close(self) -> None:
        if self._ready:
            self._run(self.bot.shutdown())
        self.loop.close()


class StoredSender:
    """Web chat and console: the message row is the delivery; the page or terminal reads it."""

    def send(self, out: Outgoing) -> str:
        return ""


class Senders:
    """Registry filled at start-up from config; a channel without credentials has no sender."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._senders: dict[str, Sender] = {"web": StoredSender(), "console": StoredSender()}
        self._lock = threading.Lock()

    def get(self, channel: str) -> Sender:
        with self._lock:
            if channel not in self._senders:
                if channel in ("whatsapp", "sms") and self.config.twilio_enabled:
                    twilio = self._senders.get("whatsapp") or TwilioSender(self.config)
                    self._senders["whatsapp"] = self._senders["sms"] = twilio
                elif channel == "telegram" and self.config.telegram_enabled:
                    self._senders["telegram"] = TelegramSender(self.config)
                else:
                    raise ProviderError("channel_off", f"no credentials for {channel}", permanent=True)
            return self._senders[channel]

    def preload(self) -> None:
        """Builds every configured client now, so no job pays for it."""
        for channel in ("whatsapp", "telegram"):
            try:
                self.get(channel)
            except ProviderError:
                pass


def split_text(text: str, limit: int) -> list[str]:
    """Splits at paragraph, then line, then sentence, then word boundaries."""
    text = text.strip()
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", "。", "؟ ", "? ", "! ", " "):
            idx = window.rfind(sep)
            if idx > limit // 3:
                cut = idx + len(sep)
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
