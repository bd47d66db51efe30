"""organization's use cases, one file per aggregate."""
