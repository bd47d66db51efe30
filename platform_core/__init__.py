"""Keel's shared kernel: configuration, database, unit of work, events, outbox relay,
auth primitives, problem+json errors, pagination, idempotency, HTTP app and worker factories,
CLI and embedded services. It knows no module: modules plug in through `ModuleSpec`."""
