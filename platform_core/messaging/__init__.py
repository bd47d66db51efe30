"""Events, the unit of work and its bus, outbox relays, the broker, workers and scheduled jobs."""
