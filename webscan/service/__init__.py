"""The webscan verdict service: reports, shared verdicts, audits, static scans and the
signature feed, behind FastAPI.

`create_app` is loaded on first use, so the CLI can read the service's defaults
(webscan.service.defaults) without loading FastAPI."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from webscan.service.app import create_app
        return create_app
    raise AttributeError(f"module 'webscan.service' has no attribute {name!r}")
