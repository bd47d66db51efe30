"""audit's use cases."""
