#!/usr/bin/env python3
"""A webhook receiver that verifies sora-pipeline's signed deliveries (Standard Webhooks).

    WEBHOOK_SECRET=whsec_... PORT=8080 python3 docs/examples/webhook-receiver.py

Standard library only; the `standardwebhooks` package (pip install standardwebhooks) does the
same check as `Webhook(secret).verify(body, headers)`. Get the secret with
`curl -s $API/webhooks/secret -H "$AUTH"`. Prints one line per verified event; answers 400 to a
delivery that does not verify, 204 to one that does. Deliveries are at least once: the same
`webhook-id` may arrive again, so remember the ids you handled.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300

secret = os.environ.get("WEBHOOK_SECRET", "")
if not secret.startswith("whsec_"):
    sys.stderr.write("WEBHOOK_SECRET must be the key of GET /webhooks/secret (whsec_...)\n")
    sys.exit(2)
KEY = base64.b64decode(secret[len("whsec_"):])
handled = set()


def verified(headers, body):
    """The event if the signature and timestamp check out, else None."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return None
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    return None


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        event = verified(self.headers, body)
        if event is None:
            self.send_response(400)
            self.end_headers()
            return
        msg_id = self.headers.get("webhook-id")
        if msg_id not in handled:
            handled.add(msg_id)
            data = event["data"]
            print(f"verified {event['type']} {data['id']} {data['status']}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args):
        pass


server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Receiver)
print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
server.serve_forever()
