"""A greeting function: sluice deploy python-hello --runtime python --handler main.handler."""

import base64
import json


def request_body(event):
    """Return the JSON body of a function-URL request event, or None for a direct invocation."""
    body = event.get("body")
    if not isinstance(body, str) or body == "":
        return None
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    try:
        return json.loads(body)
    except ValueError:
        return None


def handler(event, context):
    if not isinstance(event, dict):
        event = {}
    body = request_body(event)
    if isinstance(body, dict):  # called through its function URL: the event is the HTTP request
        event = body
    name = event.get("name") or "world"
    print(f"saying hello to {name}")
    return {"message": f"Hello, {name}!", "runtime": "python"}
