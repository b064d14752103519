"""A webhook receiver that verifies each delivery with the Standard Webhooks reference
library and with Svix's, under every secret it is given.

Usage: receiver.py SECRETS_FILE. Listens on 127.0.0.1 (a free port, printed first as
`listening PORT`). SECRETS_FILE holds {"name": "whsec_...", ...} and is read on each
delivery (503 until it exists). For each delivery one JSON line is printed:
{"webhook_id", "type", "standardwebhooks": {name: bool}, "svix": {name: bool}}. The answer
is 204 when the secret named "expect" verifies with both libraries, else 400.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks
import svix.webhooks

SECRETS = sys.argv[1]


def verifies(make, secret, body, headers):
    try:
        make(secret).verify(body, headers)
        return True
    except Exception:  # each library raises its own verification error
        return False


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            with open(SECRETS) as f:
                secrets = json.load(f)
        except (OSError, ValueError):
            self.send_response(503)
            self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        result = {
            "webhook_id": headers.get("webhook-id"),
            "type": json.loads(body).get("type"),
            "standardwebhooks": {n: verifies(standardwebhooks.Webhook, s, body, headers) for n, s in secrets.items()},
            "svix": {n: verifies(svix.webhooks.Webhook, s, body, headers) for n, s in secrets.items()},
        }
        print(json.dumps(result), flush=True)
        ok = result["standardwebhooks"].get("expect") and result["svix"].get("expect")
        self.send_response(204 if ok else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
