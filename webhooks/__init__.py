"""Channel receivers: Twilio (WhatsApp, SMS), Telegram, and the web chat."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from webhooks import telegram, twilio, webchat  # noqa: E402,F401  (routes register on bp)
