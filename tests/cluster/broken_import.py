"""A child target module that fails while it is imported (a missing driver, say)."""

from __future__ import annotations

raise ImportError("libcamera.so.3: cannot open shared object file")
