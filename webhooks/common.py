"""The one order every receiver follows: verify -> parse -> skip a stored id ->
normalise -> store -> enqueue after commit -> 200."""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from flask import jsonify

from helpline.inbound import InboundMessage, do_store_inbound
from helpline.runtime import current_runtime

log = logging.getLogger(__name__)


def reject(status: int, code: str, detail: str):  # type: ignore[no-untyped-def]
    return jsonify({"error": code, "detail": detail}), status


def store(msg: InboundMessage) -> bool:
    """Stores the message (durably, before the answer); False when it was stored before."""
    rt = current_runtime()
    hint = False
    if msg.text:
        try:  # phrase lists only, microseconds: a likely crisis skips the ordinary queue
            hint = rt.screener.quick_high(msg.text)
        except Exception as e:
            log.warning("pre-screen failed: %s", type(e).__name__)
    for attempt in range(2):
        try:
            with rt.db.session() as s:
                row_id = do_store_inbound(s, msg, rt.config.default_region, crisis_hint=hint)
            break
        except IntegrityError:  # a concurrent delivery stored the same id, or created the contact
            if attempt:
                raise
    stored = row_id is not None
    if stored:
        log.info("inbound message %s stored (%s)", row_id, msg.channel)
    return stored
