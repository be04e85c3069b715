"""Helpline: WhatsApp / Telegram / SMS helpline routing for people seeking asylum."""
from __future__ import annotations

from helpline.app import create_app

__all__ = ["create_app"]
