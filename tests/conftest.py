"""Shared fixtures. Backends come from the tickwork pytest plugin (tickwork_backends)."""
