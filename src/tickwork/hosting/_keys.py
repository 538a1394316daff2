"""CURVE keys for a deployment, from the environment or from a file (a mounted secret)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tickwork import TickworkError

__all__ = ["KeyNotFound", "load_key"]


class KeyNotFound(TickworkError):
    """Neither ``VAR`` nor ``VAR_FILE`` gave a key."""


def load_key(variable: str, *, environ: Mapping[str, str] | None = None) -> bytes:
    """The z85 key in ``$VARIABLE``, or in the file ``$VARIABLE_FILE`` names.

    The ``_FILE`` form suits systemd's ``LoadCredential=`` and Kubernetes secrets
    mounted as files (the secret never appears in the process environment). Surrounding
    whitespace is stripped; the transport checks the key's length when it is used.
    """
    env = os.environ if environ is None else environ
    value = env.get(variable, "").strip()
    if value:
        return value.encode("ascii")
    path = env.get(f"{variable}_FILE", "")
    if path:
        try:
            return Path(path).read_bytes().strip()
        except OSError as exc:
            raise KeyNotFound(f"{variable}_FILE={path!r} cannot be read: {exc}") from exc
    raise KeyNotFound(
        f"no CURVE key: set {variable} to a z85 key, or {variable}_FILE to a file holding one"
    )
