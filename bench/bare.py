"""A bare Flask handler that answers 200: the yardstick for the webhook benchmark."""
from flask import Flask

app = Flask(__name__)


@app.post("/webhooks/twilio")
def hook():  # type: ignore[no-untyped-def]
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>', 200, {"Content-Type": "application/xml"}
