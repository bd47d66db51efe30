"""integration's public facade. Integration observes the other modules (every event, inbound
webhooks published as `integration.inbound.<provider>.<type>`); no module calls into it, so it
offers no functions yet."""

from __future__ import annotations

__all__: list[str] = []
