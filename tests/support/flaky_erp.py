"""A flaky ERP: the other side of the sales orders that `orders-to-erp` sends through the host's
outbound webhooks, for the delivery test.

Every request is verified with the Standard Webhooks reference library (PyPI `standardwebhooks`);
a request it refuses is answered 401 and counted. An order is applied when its idempotency key
(the `idempotency-key` header, which must equal the payload's `idempotency_key`) is new;
a repeat is acknowledged and counted, never applied again.

The receiver misbehaves on a share of first attempts, decided by a hash of the `webhook-id` so
that a run is reproducible: it drops the connection without answering, answers 500, answers 429
with `Retry-After: 1`, answers only after 3 s, or applies the order and then answers 502 (so the
host sends it again, and only the idempotency key keeps it from being applied twice).

    python3 flaky_erp.py            # prints the port it listens on, then serves
    ERP_SECRET=whsec_...            # the endpoint's signing secret (also settable: POST /secret)

GET /stats answers what happened so far as JSON.
"""

import hashlib
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

LOCK = threading.Lock()
STATE = {
    "secret": os.environ.get("ERP_SECRET", ""),
    "attempts": 0,
    "bad_signatures": 0,
    "key_mismatches": 0,
    "dropped": 0,
    "errors": 0,
    "throttled": 0,
    "slow": 0,
    "lost_answers": 0,
    "duplicates": 0,
    "first_applied_at": None,
    "last_applied_at": None,
}
# idempotency key -> order id, for every order applied
APPLIED = {}
# idempotency key -> times applied (must stay 1)
APPLICATIONS = {}
SEEN_IDS = {}


def bucket(msg_id):
    """0..99, stable for a webhook-id."""
    return int(hashlib.sha256(msg_id.encode()).hexdigest()[:8], 16) % 100


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The sender gave up on the answer (or was killed): it will send again.
            self.close_connection = True

    def do_GET(self):
        if self.path != "/stats":
            return self.answer(404)
        with LOCK:
            stats = dict(STATE)
            stats.pop("secret")
            stats["applied"] = len(APPLIED)
            stats["applied_twice"] = sum(1 for n in APPLICATIONS.values() if n > 1)
            stats["orders"] = sorted(APPLIED.values())
        self.answer(200, json.dumps(stats).encode(), [("content-type", "application/json")])

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if self.path == "/secret":
            with LOCK:
                STATE["secret"] = body.decode().strip()
            return self.answer(204)
        if self.path != "/orders":
            return self.answer(404)
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id", "")
        with LOCK:
            STATE["attempts"] += 1
            secret = STATE["secret"]
            attempt = SEEN_IDS.get(msg_id, 0)
            SEEN_IDS[msg_id] = attempt + 1
        try:
            event = Webhook(secret).verify(body, headers)
        except Exception:  # the library raises its own verification errors
            with LOCK:
                STATE["bad_signatures"] += 1
            return self.answer(401, b'{"error":"bad signature"}')
        data = event.get("data") or {}
        key = headers.get("idempotency-key", "")
        if not key or key != data.get("idempotency_key"):
            with LOCK:
                STATE["key_mismatches"] += 1
            return self.answer(400, b'{"error":"idempotency key missing or not the payload\'s"}')

        b = bucket(msg_id) if attempt == 0 else 100
        if b < 6:
            with LOCK:
                STATE["dropped"] += 1
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if b < 12:
            with LOCK:
                STATE["errors"] += 1
            return self.answer(500, b'{"error":"database is busy"}')
        if b < 17:
            with LOCK:
                STATE["throttled"] += 1
            return self.answer(429, b'{"error":"slow down"}', [("retry-after", "1")])
        if b < 20:
            with LOCK:
                STATE["slow"] += 1
            time.sleep(3)

        with LOCK:
            now = time.time()
            if key in APPLIED:
                STATE["duplicates"] += 1
            else:
                APPLIED[key] = data.get("order_id")
                APPLICATIONS[key] = APPLICATIONS.get(key, 0) + 1
                STATE["first_applied_at"] = STATE["first_applied_at"] or now
                STATE["last_applied_at"] = now
        if 20 <= b < 23:
            with LOCK:
                STATE["lost_answers"] += 1
            return self.answer(502, b'{"error":"gateway lost the answer"}')
        return self.answer(200, b'{"ok":true}')


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
