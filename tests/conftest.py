"""Shared configuration. Backends come from the tickwork pytest plugin (tickwork_backends)."""

pytest_plugins = ["pytester"]
