"""A webhook endpoint for end-to-end tests: a threaded HTTP server that answers 204 to every
delivery and records its `webhook-id` and the sender's TCP port. While `hold()` is in effect
new deliveries wait for `release()`, so a test can catch a sender in the middle of one."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PATH = "/hooks/keel"
HOLD_LIMIT_SECONDS = 30.0


@dataclass(frozen=True)
class Receipt:
    webhook_id: str
    sender_port: int


class WebhookReceiver:
    def __init__(self) -> None:
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self.receipts: list[Receipt] = []
        self.held: list[Receipt] = []

    def start(self) -> None:
        self._server.expect_request(PATH, method="POST").respond_with_handler(self._answer)
        self._server.start()

    def stop(self) -> None:
        self.release()
        self._server.clear()
        if self._server.is_running():
            self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url_for(PATH)

    @property
    def port(self) -> int:
        return self._server.port

    def hold(self) -> None:
        with self._lock:
            self.held.clear()
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    def held_now(self) -> list[Receipt]:
        with self._lock:
            return list(self.held)

    def counts(self) -> Counter[str]:
        """How many times each webhook-id arrived."""
        with self._lock:
            return Counter(r.webhook_id for r in self.receipts)

    def _answer(self, request: Request) -> Response:
        receipt = Receipt(request.headers.get("webhook-id", ""), int(request.environ["REMOTE_PORT"]))
        with self._lock:
            self.receipts.append(receipt)
            holding = not self._released.is_set()
            if holding:
                self.held.append(receipt)
        if holding:
            self._released.wait(HOLD_LIMIT_SECONDS)
        return Response(status=204)
