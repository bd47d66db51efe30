"""A local stand-in for the few Stripe API endpoints Keel calls, for the real `stripe` SDK to
talk to (Stripe cannot be reached from the test machines).

`FakeStripe` is a stdlib `ThreadingHTTPServer` on 127.0.0.1 and a free port, answering with
Stripe-shaped JSON:

- `POST /v1/customers`;
- `POST /v1/payment_intents` (with `confirm=true`: `succeeded`, or, for a declining test
  payment method such as `pm_card_chargeDeclined` or `pm_card_chargeDeclined_<suffix>`, a 402
  card error carrying the PaymentIntent in `error.payment_intent`, as Stripe does; without a
  payment method a 400);
- `POST /v1/refunds` (at most what the PaymentIntent received, when the fake made it);
- `POST /v1/payment_methods/{id}/detach`.

It records every request (`requests`: path, decoded form, `Idempotency-Key`) and, as Stripe
does, answers a repeated idempotency key with the first answer without acting again.
`fail_next(n, status)` makes the next n requests fail before anything happens (a 5xx or a
4xx answered without acting and without remembering the key)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

DECLINES = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_visa_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}
Answer = tuple[int, dict[str, Any]]


def decline_code(payment_method: str) -> str | None:
    """Test payment methods decline by name; a suffix keeps ids unique (`pm_card_chargeDeclined_1`)."""
    for name in sorted(DECLINES, key=len, reverse=True):
        if payment_method.startswith(name):
            return DECLINES[name]
    return None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    form: dict[str, Any]
    idempotency_key: str | None
    authorization: str | None


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to objects: `metadata[a]=1` -> {"metadata": {"a": "1"}}."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _error(status: int, kind: str, code: str, message: str, **extra: Any) -> Answer:
    return status, {"error": {"type": kind, "code": code, "message": message, **extra}}


@dataclass
class FakeStripe:
    requests: list[Request] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _answers: dict[str, Answer] = field(default_factory=dict)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def requests_to(self, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # the server
    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                request = Request(
                    "POST",
                    self.path,
                    nest(parse_qsl(body, keep_blank_values=True)),
                    self.headers.get("Idempotency-Key"),
                    self.headers.get("Authorization"),
                )
                status, answer = fake.handle(request)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", _id("req"))
                if request.idempotency_key:
                    self.send_header("idempotency-key", request.idempotency_key)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                status = self._failures.pop(0)
                return _error(status, "api_error", "fake_failure", f"scripted failure ({status})")
            key = request.idempotency_key
            if key and key in self._answers:
                return self._answers[key]
            answer = self._act(request)
            if key:
                self._answers[key] = answer
            return answer

    def _act(self, request: Request) -> Answer:
        path, form = request.path, request.form
        if path == "/v1/customers":
            return self._customer(form)
        if path == "/v1/payment_intents":
            return self._payment_intent(form)
        if path == "/v1/refunds":
            return self._refund(form)
        detach = re.fullmatch(r"/v1/payment_methods/([^/]+)/detach", path)
        if detach:
            return 200, {
                "id": detach.group(1),
                "object": "payment_method",
                "type": "card",
                "customer": None,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
            }
        return _error(404, "invalid_request_error", "resource_missing", f"Unrecognized request URL ({path})")

    def _customer(self, form: dict[str, Any]) -> Answer:
        customer = {
            "id": _id("cus"),
            "object": "customer",
            "name": form.get("name"),
            "email": form.get("email"),
            "metadata": form.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    def _payment_intent(self, form: dict[str, Any]) -> Answer:
        amount = int(form.get("amount", 0))
        method = form.get("payment_method")
        intent: dict[str, Any] = {
            "id": _id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": form.get("currency"),
            "customer": form.get("customer"),
            "payment_method": method,
            "metadata": form.get("metadata", {}),
            "status": "requires_payment_method",
            "last_payment_error": None,
            "latest_charge": None,
        }
        if form.get("confirm") != "true":
            self.intents[intent["id"]] = intent
            return 200, intent
        if not method:
            return _error(
                400, "invalid_request_error", "parameter_missing",
                "You must provide a payment method to confirm this PaymentIntent.", param="payment_method",
            )  # fmt: skip
        decline = decline_code(method)
        if decline:
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline,
                "message": "Your card was declined.",
                "payment_method": {"id": method, "object": "payment_method", "type": "card"},
            }
            intent["last_payment_error"] = error
            intent["latest_charge"] = _id("ch")
            self.intents[intent["id"]] = intent
            return 402, {"error": {**error, "charge": intent["latest_charge"], "payment_intent": intent}}
        intent.update(status="succeeded", amount_received=amount, latest_charge=_id("ch"))
        self.intents[intent["id"]] = intent
        return 200, intent

    def _refund(self, form: dict[str, Any]) -> Answer:
        intent_id = form.get("payment_intent")
        intent = self.intents.get(str(intent_id))
        amount = int(form.get("amount", intent["amount_received"] if intent else 0))
        if intent is not None:
            refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent_id)
            if amount > intent["amount_received"] - refunded:
                return _error(
                    400, "invalid_request_error", "amount_too_large",
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge",
                    param="amount",
                )  # fmt: skip
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "currency": form.get("currency") or (intent or {}).get("currency"),
            "payment_intent": intent_id,
            "reason": form.get("reason"),
            "status": "succeeded",
            "metadata": form.get("metadata", {}),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund


def running_fake_stripe() -> Iterator[FakeStripe]:
    """For a fixture: a started fake, stopped afterwards."""
    fake = FakeStripe().start()
    try:
        yield fake
    finally:
        fake.stop()
