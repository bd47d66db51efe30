"""Test helpers shared by every test package (builders, private servers)."""
