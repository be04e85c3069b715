"""The one order every receiver follows: verify -> parse -> skip a stored id ->
normalise -> store -> announce after commit -> 200."""
from __future__ import annotations

from werkzeug.wrappers import Response

from helpline.inbound import InboundMessage
from helpline.responses import json_response
from helpline.runtime import Runtime


def reject(status: int, code: str, detail: str) -> Response:
    """The JSON reason of a refusal; a plain werkzeug Response, so the Twilio receiver can answer it
    outside Flask's request handling (webhooks.fast) as well as from a route."""
    return json_response({"error": code, "detail": detail}, status)


def store(rt: Runtime, msg: InboundMessage) -> bool:
    """Stores the message durably before the answer and tells the dispatchers; False when stored before.

    Nothing else happens here (crisis screening, routing and replies are the workers'), not even the
    Redis push (helpline.announcer), so a provider gets its answer in a few milliseconds and a Redis
    outage costs nothing: the scheduler finds stored-but-unprocessed messages and enqueues them."""
    stored = rt.inbound.store(msg, rt.config.default_region)  # committed when it returns
    if stored is None:  # the provider id was stored before: a retry
        return False
    rt.announcer.announce(*stored)  # pushed to Redis by a background thread; if lost, the scheduler finds it
    return True
