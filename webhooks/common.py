"""The one order every receiver follows: verify -> parse -> skip a stored id ->
normalise -> store -> announce after commit -> 200."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from flask import jsonify

from helpline.inbound import InboundMessage, do_store_inbound, is_stored
from helpline.runtime import current_runtime


def reject(status: int, code: str, detail: str):  # type: ignore[no-untyped-def]
    return jsonify({"error": code, "detail": detail}), status


def store(msg: InboundMessage) -> bool:
    """Stores the message durably before the answer and tells the dispatchers; False when stored before.

    Nothing else happens here (crisis screening, routing and replies are the workers'), not even the
    Redis push (helpline.announcer), so a provider gets its answer in a few milliseconds and a Redis
    outage costs nothing: the scheduler finds stored-but-unprocessed messages and enqueues them."""
    rt = current_runtime()
    for attempt in range(3):
        try:
            with rt.db.engine.begin() as conn:
                stored = do_store_inbound(conn, msg, rt.config.default_region)
            break
        except IntegrityError:  # the provider id was stored before, or the contact was created meanwhile
            with rt.db.engine.connect() as conn:
                if is_stored(conn, msg):
                    return False
            if attempt == 2:
                raise
    rt.announcer.announce(*stored)  # pushed to Redis by a background thread; if lost, the scheduler finds it
    return True
