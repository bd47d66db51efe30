"""integration — inbound webhooks and outbound deliveries to external systems."""
