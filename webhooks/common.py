"""The one order every receiver follows: verify -> parse -> skip a stored id ->
normalise -> store -> enqueue after commit -> 200."""
from __future__ import annotations

import logging

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
            hint = rt.screener.screen_phrases(msg.text).level == "high"
        except Exception as e:
            log.warning("pre-screen failed: %s", type(e).__name__)
    with rt.db.session() as s:
        row = do_store_inbound(s, msg, rt.config.default_region, crisis_hint=hint)
        stored = row is not None
        row_id = row.id if row is not None else None
    if stored:
        log.info("inbound message %s stored (%s)", row_id, msg.channel)
    return stored
