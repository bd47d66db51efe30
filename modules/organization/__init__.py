"""organization — what containers exist, and who can access them."""
