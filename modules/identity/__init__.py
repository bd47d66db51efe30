"""identity — who is this actor, and how do they authenticate (persons, users, tokens)."""
