"""entitlements — what capabilities are available, who provisioned them, and how much is used."""
